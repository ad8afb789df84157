"""TrainConfig(compile=True): every block is torch.compile'd (and compiled frames really run), the
losses are the eager ones within float tolerance, and a checkpoint written with compile on has the
eager state_dict keys and loads into an eager model."""

import csv
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import training.trainer as trainer
from training.trainer import TrainConfig, train

# One xdist worker for the tests that torch.compile (tests/modelzoo/test_linear.py's too): a process's
# first compile pays for importing and warming Inductor (~3.5 s of CPU: 5.3 s for a first graph, 1.8 s
# for the next); on one worker it is paid once.
COMPILE_GROUP = "torch-compile"
pytestmark = pytest.mark.xdist_group(COMPILE_GROUP)

TINY = {"dim": 32, "n_layers": 2, "n_heads": 2, "patch_size": 4}  # two blocks: one compiled graph serves both


def _cfg(home, out: Path, **kw) -> TrainConfig:
    return TrainConfig(catalog=home.catalog, manifest=home.train_manifest, out_dir=str(out), null_caption=home.null_caption,
                       model_overrides=TINY, steps=3, batch_size=8, lr=3e-3, warmup_steps=2, log_every=1,
                       progress=False, tensorboard=False, **kw)


def _losses(run: Path) -> list[float]:
    with open(run / "metrics.csv") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


def test_compiled_training_matches_eager_and_writes_eager_checkpoints(tiny_home, tmp_path, monkeypatch):
    from torch._dynamo.utils import counters

    from modelzoo import FlagDiT

    eager = train(_cfg(tiny_home, tmp_path / "eager"))

    compiled_models = []

    def spy(model, dynamic=None):
        compiled_models.append(model)
        real_compile_blocks(model, dynamic)

    real_compile_blocks = trainer.compile_blocks
    monkeypatch.setattr(trainer, "compile_blocks", spy)
    torch._dynamo.reset()  # nothing compiled earlier in this process may serve these blocks
    counters.clear()
    compiled = train(_cfg(tiny_home, tmp_path / "compiled", compile=True))

    # the switch did something: the blocks were compiled in place and dynamo ran compiled frames
    (model,) = compiled_models
    assert all(block._compiled_call_impl is not None for block in model.layers)
    assert counters["frames"]["ok"] >= 1 and counters["stats"]["unique_graphs"] >= 1, dict(counters)
    assert not counters["graph_break"], dict(counters["graph_break"])  # whole blocks, no eager pieces

    # the same training: losses step by step (Inductor reorders float sums: not bit for bit)
    assert compiled.steps == eager.steps == 3
    torch.testing.assert_close(_losses(tmp_path / "compiled"), _losses(tmp_path / "eager"), rtol=1e-4, atol=1e-6)

    # checkpoints: the eager keys (no "_orig_mod."), loadable into an eager model, the eager weights
    ckpt, ref = Path(compiled.checkpoint), Path(eager.checkpoint)
    keys = set(FlagDiT.from_pretrained(ref).state_dict())
    published = load_file(str(ckpt / "model.safetensors"))  # EMA weights
    raw = {k[6:]: v for k, v in load_file(str(ckpt / "train_state.safetensors")).items() if k.startswith("model.")}
    assert set(published) == set(raw) == keys and not any("_orig_mod" in k for k in raw)
    reloaded = FlagDiT.from_pretrained(ckpt)  # strict load into an eager model
    assert not any(getattr(b, "_compiled_call_impl", None) for b in reloaded.layers)
    reloaded.load_state_dict(raw, strict=True)
    ref_raw = {k[6:]: v for k, v in load_file(str(ref / "train_state.safetensors")).items() if k.startswith("model.")}
    for k, v in raw.items():
        torch.testing.assert_close(v, ref_raw[k], rtol=1e-3, atol=1e-5, msg=k)
