"""An evaluation context whose generator a test writes: the answers are known, so the scores are."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Callable

import numpy as np
import torch

from evaluation.context import EvalContext
from training.data import Example


class IdentityDecoder:
    """Pixel-space latents are their own media."""

    @staticmethod
    def decode(z):
        return z


def fake_context(examples: list[Example], generate: Callable, out_dir, seed: int = 0, samples_per_class: int = 5,
                 grid_size: int = 4) -> EvalContext:
    cfg = SimpleNamespace(seed=seed, samples_per_class=samples_per_class, grid_size=grid_size, out_dir=str(out_dir))
    ctx = EvalContext(model=None, null=None, examples=examples, cfg=cfg, decoder=IdentityDecoder())
    ctx.generate = generate  # (prompts, seed) -> [N, C, T, H, W] or a list
    return ctx


def image_example(key: str, pixels: np.ndarray, caption: str) -> Example:
    """An [H, W, 3] uint8 image as a held-out example: latent [3, 1, H, W] in [-1, 1]."""
    latent = torch.from_numpy(np.asarray(pixels, np.float32) / 127.5 - 1).permute(2, 0, 1)[:, None]
    return Example(key, latent, torch.zeros(4, 8), torch.ones(4, dtype=torch.bool), caption, "holdout")


def stub_evaluate_loaders(monkeypatch, model=None, hook: Callable = lambda ctx: ({}, {})) -> None:
    """evaluate() with everything it loads replaced (examples, checkpoint, decoder, the manifest of one
    example, the held-out loss 0.5): what a test looks at is what evaluate writes of ``model`` and the
    modality ``hook``'s (metrics, renders)."""
    import catalog
    import evaluation.evaluate as ev

    for name, value in {"load_examples": lambda m: ["an example"], "check_same_encoders": lambda m, c: None,
                        "check_moved_encoder_flags": lambda c, vae=None: None, "checkpoint_modality": lambda c: "image",
                        "modality_hook": lambda table, m, name: hook,
                        "load_checkpoint": lambda c, device="cpu": (model.to(device) if model is not None else None, None),
                        "heldout_loss": lambda model, examples, seed=0, device="cpu": 0.5,
                        "load_decoder": lambda c, vae=None, device=None: None}.items():
        monkeypatch.setattr(ev, name, value)

    class Manifest(list):
        name, version = "m", 1

    monkeypatch.setattr(catalog, "load_manifest", lambda *a, **k: Manifest(["an example"]))
    monkeypatch.setattr(catalog, "load_manifest_header", lambda *a, **k: type("H", (), {"num_members": 1}))
