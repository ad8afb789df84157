"""`train_with_ray` up to fit(), with Ray patched out: what the trainer and its environment are as
fit() would run (shared by the launch tests)."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from training.trainer import TrainConfig


class _Stop(Exception):
    pass


def seen_at_fit(monkeypatch, tmp_path, look: Callable[[Any], dict], private: bool = True) -> dict:
    """``look(trainer)`` at the moment train_with_ray calls fit() on a 2-worker launch; its dict back."""
    import contracts.ray_runtime as ray_runtime
    import training.ray_launcher as launcher

    seen: dict = {}

    def fake_fit(trainer, cfg):
        seen.update(look(trainer))
        raise _Stop

    monkeypatch.setattr(ray_runtime, "ensure_ray", lambda *a, **k: None)
    monkeypatch.setattr(ray_runtime, "started_private_ray", lambda: private)
    monkeypatch.setattr(launcher, "check_cluster_fits", lambda workers: None)
    monkeypatch.setattr(launcher, "_cluster_has_gpus", lambda: False)
    monkeypatch.setattr(launcher, "fit_watched", fake_fit)
    with pytest.raises(_Stop):
        launcher.train_with_ray(TrainConfig(out_dir=str(tmp_path / "run"), steps=2, workers=2, launcher="ray", progress=False))
    return seen
