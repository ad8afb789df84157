"""The stop line of a run begun with --init-from (a second stage) said only "continue with --resume
--out-dir RUN": that stage's own command with --resume added is refused (the two exclude each other),
and where its --config file holds init_from the flag cannot simply be left out. The line says so now,
with --set init_from=null; a run begun from scratch keeps the short line."""

from __future__ import annotations

import json
import signal
from dataclasses import asdict

from training.config import TrainConfig
from training.stopping import TrainingStopped, resume_advice


def _checkpoint(tmp_path, **train_config):
    ckpt = tmp_path / "runs" / "stage2" / "checkpoint-0000040"
    ckpt.mkdir(parents=True)
    # as the trainer writes it (training/trainer.py: info["train_config"] = asdict(cfg))
    (ckpt / "training.json").write_text(json.dumps({"train_config": asdict(TrainConfig(**train_config)), "steps": 40}))
    return ckpt


def test_a_stage_begun_from_init_from_is_told_to_leave_it_out(tmp_path):
    ckpt = _checkpoint(tmp_path, init_from=str(tmp_path / "runs" / "stage1" / "checkpoint-0000300"))
    stopped = TrainingStopped(signal.SIGTERM, 40, str(ckpt))
    assert str(stopped) == (f"stopped by SIGTERM at step 40; checkpoint {ckpt} is written and registered: continue with "
                            f"--resume --out-dir {ckpt.parent} and without --init-from, which this run began from (where "
                            f"the --config file holds init_from:, add --set init_from=null)")
    back = TrainingStopped.from_message(str(stopped))  # a Cancelled flow keeps only the message
    assert (back.signum, back.step, back.checkpoint, str(back)) == (signal.SIGTERM, 40, str(ckpt), str(stopped))
    # --set init_from=null with --resume: what the line advises is a config the trainer takes
    assert TrainConfig(resume=True, init_from=None).resume


def test_a_run_begun_from_scratch_or_resumed_keeps_the_short_line(tmp_path):
    ckpt = _checkpoint(tmp_path)  # a resumed stage records init_from None too: its command already resumes
    assert str(TrainingStopped(signal.SIGINT, 40, str(ckpt))).endswith(f"continue with --resume --out-dir {ckpt.parent}")
    (ckpt / "training.json").write_text("{not json")  # unreadable: the short line, not an error while stopping
    assert resume_advice(ckpt) == f"continue with --resume --out-dir {ckpt.parent}"
    assert resume_advice(ckpt, init_from="stage1").endswith("add --set init_from=null)")  # a caller that knows
