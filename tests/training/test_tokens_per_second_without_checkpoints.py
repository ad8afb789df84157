"""A run's tokens_per_second is the steps' throughput: the time its periodic checkpoints take is
left out (it was counted, so a run checkpointing every step read as a slower step)."""

import time

import training.trainer as trainer
from training.trainer import train

from .test_trainer import tiny_cfg

DELAY_S = 0.5


def test_slow_checkpoints_leave_tokens_per_second_alone(tiny_home, tmp_path, monkeypatch):
    plain = train(tiny_cfg(tiny_home, tmp_path / "plain", steps=6))
    real_beside = trainer._write_beside

    def slow_beside(tmp, cfg, ctx, info):
        time.sleep(DELAY_S)
        real_beside(tmp, cfg, ctx, info)

    monkeypatch.setattr(trainer, "_write_beside", slow_beside)
    slow = train(tiny_cfg(tiny_home, tmp_path / "slow", steps=6, checkpoint_every=1, keep_last=1))
    # five periodic checkpoints sleep 2.5 s in all, several times the six tiny steps: counted, they
    # cut the figure to about a fifth of the plain run's
    assert slow.checkpoint_seconds >= 5 * DELAY_S and slow.seconds >= 5 * DELAY_S
    assert plain.tokens_per_second > 0
    assert slow.tokens_per_second > 0.5 * plain.tokens_per_second, (slow.tokens_per_second, plain.tokens_per_second)
