"""Settings that make every sample NaN (--shift 0 or inf, --cfg nan or inf) or sample off the time
grid (a negative shift) were accepted: sample wrote an all-black PNG (exit 0), speech ended in a
librosa traceback, evaluate logged metrics of 0.0 over the checkpoint's real ones. They are refused
in one line, and samples that still come out NaN/inf are refused before anything is written or scored."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from evaluation.evaluate import EvalConfig
from evaluation.sample import SampleConfig

BAD = [("shift", 0.0), ("shift", -1.0), ("shift", math.inf), ("shift", math.nan), ("cfg", math.nan), ("cfg", math.inf),
       ("cfg", -math.inf)]


@pytest.mark.parametrize("name, value", BAD)
def test_sample_refuses_settings_that_give_no_sample(name, value):
    flag = "--shift" if name == "shift" else "--cfg"
    with pytest.raises(ValueError, match=f"^{flag} must be a finite number") as e:
        SampleConfig(checkpoint="x", prompt="p", **{name: value})
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("name, value", BAD)
def test_evaluate_refuses_them_too(name, value):
    field = "shift" if name == "shift" else "cfg_scale"
    with pytest.raises(ValueError, match=f"^--{field.replace('_', '-')} must be a finite number"):
        EvalConfig(manifest="m", checkpoint="c", **{field: value})


def test_sane_settings_pass():
    SampleConfig(checkpoint="x", prompt="p", shift=0.5, cfg=0.0)
    EvalConfig(manifest="m", checkpoint="c", shift=6.0, cfg_scale=0.0)


def test_the_command_refuses_shift_0_in_one_line_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "flows.cli", "sample", "--home", str(tmp_path), "--checkpoint",
                           str(tmp_path), "--prompt", "a", "--shift", "0"], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == ["lumina sample: error: --shift must be a finite number above 0 (1: the grid as trained; above 1: "
                                                "more steps near the noise end); got 0.0"]


def test_nan_samples_are_refused_before_anything_is_written(tiny_checkpoint, tmp_path, monkeypatch):
    import modelzoo

    from evaluation.sample import sample_to_files
    from evaluation.sampling import NonFiniteSamples

    monkeypatch.setattr(modelzoo, "sample", lambda model, noise, **kw: torch.full_like(noise, math.nan))
    out = tmp_path / "s.png"
    with pytest.raises(NonFiniteSamples, match=r"^sampling produced NaN/inf: 1 of 1 samples \(cfg scale 4.0, shift 1.0, "
                                               r"euler, 2 steps\)"):
        sample_to_files(SampleConfig(checkpoint=str(tiny_checkpoint), prompt="digit 3", out=str(out), steps=2))
    assert not out.exists()


def test_evaluation_refuses_nan_generations_and_decodes(monkeypatch):
    from types import SimpleNamespace

    import evaluation.sampling as sampling
    from evaluation.context import EvalContext
    from evaluation.sampling import NonFiniteSamples

    cfg = SimpleNamespace(cfg_scale=4.0, shift=1.0, solver="euler", steps=3)
    nan_decoder = SimpleNamespace(decode=lambda z: np.where(z > 0, np.inf, z))
    ctx = EvalContext(model=None, null=None, examples=[], cfg=cfg, decoder=nan_decoder)
    monkeypatch.setattr(sampling, "generate", lambda *a, device="cpu": [torch.zeros(2), torch.tensor([0.0, math.nan])])
    with pytest.raises(NonFiniteSamples, match=r"1 of 2 generated latents \(cfg scale 4.0, shift 1.0, euler, 3 steps\)"):
        ctx.generate([], seed=0)
    assert ctx.decode(np.zeros(3)).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(NonFiniteSamples, match="decoded samples"):
        ctx.decode(np.ones(3))
