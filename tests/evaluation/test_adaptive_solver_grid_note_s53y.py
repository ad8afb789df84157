"""--solver dopri5 chooses its own steps between the grid's end points, so `lumina sample --solver
dopri5 --steps 2 --shift 3` and `lumina evaluate --solver dopri5 --steps 2` used neither flag and
said nothing (the evaluation's settings, in metrics.json and the catalog, still read 'steps 2').
Now it is said once: a warning from sample, a note in the evaluation's notes."""

from __future__ import annotations

import logging


def test_the_adaptive_solvers_are_those_without_a_fixed_step_count():
    from evaluation.config import ADAPTIVE_SOLVERS, SOLVERS, ignored_grid_note
    from modelzoo.transport.samplers import MODEL_EVALS_PER_STEP, Solver

    assert set(ADAPTIVE_SOLVERS) == {s.value for s in Solver if s not in MODEL_EVALS_PER_STEP}
    assert [s for s in SOLVERS if ignored_grid_note(s, 30, 1.0)] == ["dopri5"]
    assert ignored_grid_note("dopri5", 2, 3.0).startswith("--solver dopri5 chooses its own steps to a tolerance: --steps 2 "
                                                          "and --shift 3 are not used")


def test_sample_says_it_once(tmp_path, monkeypatch, caplog):
    """sample_to_files up to the sampling, with a fake sampler: the warning comes before it."""
    import evaluation.sample as sample_module
    from evaluation.sample import SampleConfig

    class Stop(Exception):
        pass

    said: list[str] = []

    def stop_at_sampling(*args, **kwargs):
        said.extend(r.getMessage() for r in caplog.records)
        raise Stop

    monkeypatch.setattr(sample_module, "choose_extrapolation", stop_at_sampling)
    cfg = SampleConfig(checkpoint=str(tmp_path / "ckpt"), prompt="digit 7", solver="dopri5", steps=2, out=str(tmp_path / "a.png"))
    _fake_checkpoint_up_to_sampling(monkeypatch, sample_module)
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "text_encoder.json").write_text('{"name": "fake"}')
    (tmp_path / "ckpt" / "latent_encoder.json").write_text('{"downsample": 1}')
    with caplog.at_level(logging.WARNING, logger="evaluation.sample"):
        try:
            sample_module.sample_to_files(cfg)
        except Stop:
            pass
    assert [m for m in said if m.startswith("--solver dopri5 chooses its own steps")], said


def _fake_checkpoint_up_to_sampling(monkeypatch, sample_module):
    """Everything sample_to_files reads before the sampling, faked: no model, encoder or catalog."""
    import types

    import numpy as np
    import torch

    import encoders.text
    import evaluation.evaluate as ev

    monkeypatch.setattr(sample_module, "training_info", lambda ckpt: {"latent_shape": [3, 1, 4, 4]})
    monkeypatch.setattr(ev, "checkpoint_modality", lambda ckpt: "image")
    monkeypatch.setattr(sample_module, "latent_shape", lambda ckpt, size, frames: [3, 1, 4, 4])
    monkeypatch.setattr(ev, "check_moved_encoder_flags", lambda *a, **k: None)
    monkeypatch.setattr(sample_module, "trained_shapes", lambda ckpt, catalog=None: [[3, 1, 4, 4]])
    monkeypatch.setattr(sample_module, "check_sample_size", lambda *a, **k: None)
    null = types.SimpleNamespace(expand=lambda n: (torch.zeros(n, 2, 4), torch.ones(n, 2, dtype=torch.bool)))
    monkeypatch.setattr(ev, "load_checkpoint", lambda ckpt, weights="ema", device="cpu": (None, null))
    monkeypatch.setattr(ev, "load_decoder", lambda ckpt, vae=None, device=None: None)
    monkeypatch.setattr(sample_module, "refuse_other_text_encoder", lambda *a: None)
    text = types.SimpleNamespace(feats=np.zeros((1, 2, 4), np.float32), mask=np.ones((1, 2), bool), dropped=None)
    encoder = types.SimpleNamespace(encode=lambda captions, warn_truncated=False: text, max_length=2)
    monkeypatch.setattr(encoders.text, "load_text_encoder", lambda *a, **k: encoder)
