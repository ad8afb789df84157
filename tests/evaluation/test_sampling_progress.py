"""Sampling reports its progress per model evaluation: evaluation and `lumina sample` draw a bar
that reaches its total (steps x evaluations per step x batches)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch


def _zero_velocity(x, t, **cond):
    return torch.zeros_like(x)


@pytest.mark.parametrize("solver, steps, calls", [("euler", 5, 5), ("midpoint", 3, 6), ("rk4", 3, 12)])
def test_sample_calls_back_once_per_model_evaluation(solver, steps, calls):
    from modelzoo import sample

    seen = []
    cond = {"cap_feats": torch.zeros(2, 4, 8)}
    sample(_zero_velocity, torch.randn(2, 3, 1, 4, 4), cond=cond, uncond=cond, cfg_scale=4.0, solver=solver, steps=steps,
           on_model_eval=lambda: seen.append(1))
    assert len(seen) == calls


def test_an_evaluation_s_sampling_bar_reaches_its_total(monkeypatch):
    import evaluation.sampling as sampling
    from training.data import Example, NullCaption

    bars = []
    real = sampling.sampling_bar
    monkeypatch.setattr(sampling, "sampling_bar", lambda *a: bars.append(real(*a)) or bars[-1])
    examples = [Example(f"k{i}", torch.zeros(3, 1, 4, 4), torch.zeros(4, 8), torch.ones(4, dtype=torch.bool), "a seven", "holdout")
                for i in range(5)]
    null = NullCaption(torch.zeros(4, 8), torch.ones(4, dtype=torch.bool))
    cfg = SimpleNamespace(batch_size=2, solver="midpoint", steps=3, cfg_scale=4.0, shift=1.0)
    sampling.generate(_zero_velocity, null, examples, cfg, seed=0)
    (bar,) = bars
    assert bar.total == 3 * 2 * 3 and bar.n == bar.total  # 3 batches of 2, 2, 1; 3 steps of 2 evaluations


def test_an_adaptive_solver_s_bar_has_no_total():
    from evaluation.sampling import sampling_bar

    bar = sampling_bar(4, 2, "dopri5", 30)
    assert bar.total is None and bar.leave is False  # no line left behind when done
    bar.close()


def test_lumina_sample_s_bar_reaches_its_total(tiny_home, tmp_path, monkeypatch):
    import shutil

    import evaluation.sampling as sampling
    from evaluation.sample import SampleConfig, sample_to_files
    from training.trainer import TrainConfig, train

    catalog = str(shutil.copy(tiny_home.catalog, tmp_path / "catalog.duckdb"))  # the shared one stays untouched
    out = train(TrainConfig(catalog=catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                            out_dir=str(tmp_path / "run"), steps=1, batch_size=4, progress=False, tensorboard=False,
                            model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "multiple_of": 16}))
    bars = []
    real = sampling.sampling_bar
    monkeypatch.setattr(sampling, "sampling_bar", lambda *a: bars.append(real(*a)) or bars[-1])
    sample_to_files(SampleConfig(checkpoint=out.checkpoint, prompt="a seven", num=2, steps=3, solver="rk4",
                                 out=str(tmp_path / "s.png")))
    (bar,) = bars
    assert bar.total == 3 * 4 and bar.n == bar.total
