"""On a machine with a GPU, lumina sample and lumina evaluate run there (auto) and give what the CPU
gives within float tolerance: the noise is drawn on the CPU for a seed, so both devices start from
the same one. Skipped without CUDA (bench/gpu_checks.sh runs it on a machine lent a GPU)."""

from __future__ import annotations

import json

import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.fixture
def spied(monkeypatch):
    """modelzoo.sample as ever, recording where its model ran and what it returned."""
    import modelzoo

    real, calls = modelzoo.sample, []

    def sample(model, noise, **kwargs):
        x = real(model, noise, **kwargs)
        calls.append((next(model.parameters()).device.type, x))
        return x

    monkeypatch.setattr(modelzoo, "sample", sample)
    return calls


def test_sample_runs_on_the_gpu_and_matches_the_cpu(tiny_checkpoint, tmp_path, spied):
    from evaluation.sample import SampleConfig, sample_to_files

    got = {}
    for device in ("cpu", "auto"):
        paths = sample_to_files(SampleConfig(checkpoint=str(tiny_checkpoint), prompt="digit 3", num=2, steps=4, seed=7,
                                             device=device, out=str(tmp_path / f"{device}.png")))
        assert len(paths) == 2 and all(p.is_file() for p in paths)
        ran_on, x = spied[-1]
        got[ran_on] = x
    assert set(got) == {"cpu", "cuda"} and got["cuda"].device.type == "cuda"
    torch.testing.assert_close(got["cuda"].cpu(), got["cpu"], atol=1e-2, rtol=1e-2)  # the text encoder runs there too


def test_evaluation_samples_and_loss_on_the_gpu_match_the_cpu(tiny_checkpoint, spied):
    from types import SimpleNamespace

    from evaluation.evaluate import heldout_loss, load_checkpoint
    from evaluation.sampling import generate
    from training.data import Example

    c, t, h, w = json.loads((tiny_checkpoint / "training.json").read_text())["latent_shape"]
    gen = torch.Generator().manual_seed(0)
    model, null = load_checkpoint(tiny_checkpoint)
    examples = [Example(f"k{i}", torch.randn(c, t, h, w, generator=gen), null.cap_feats + 0.1 * torch.randn(null.cap_feats.shape, generator=gen),
                        null.cap_mask, "digit 3", "holdout") for i in range(6)]
    cfg = SimpleNamespace(batch_size=4, solver="midpoint", steps=3, shift=1.0, cfg_scale=4.0)
    on_cpu = generate(model, null, examples, cfg, seed=1)
    loss_cpu = heldout_loss(model, examples, batch_size=4, seed=1)
    gpu_model, _ = load_checkpoint(tiny_checkpoint, device="cuda")
    on_gpu = generate(gpu_model, null, examples, cfg, seed=1, device="cuda")
    loss_gpu = heldout_loss(gpu_model, examples, batch_size=4, seed=1, device="cuda")
    assert [d for d, _ in spied] == ["cpu", "cpu", "cuda", "cuda"] and on_gpu.device.type == "cpu"
    torch.testing.assert_close(on_gpu, on_cpu, atol=1e-4, rtol=1e-4)
    assert loss_gpu == pytest.approx(loss_cpu, rel=1e-4)
