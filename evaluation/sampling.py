"""Sampling from a checkpoint for a list of examples (their captions, shapes and frame conditioning)."""

from __future__ import annotations

import math

import numpy as np
import torch

from evaluation.config import MAX_SEED, check_guidance, check_sampler  # noqa: F401  (torch-free, for the configs)
from training.data import Example, NullCaption


def moved(value, device: str | torch.device):
    """A tensor, or a list, tuple or dict of them, on ``device``; anything else as it is. A tensor
    already there is itself, not a copy."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, (list, tuple)):
        return type(value)(moved(v, device) for v in value)
    if isinstance(value, dict):
        return {k: moved(v, device) for k, v in value.items()}
    return value


@torch.no_grad()
def generate(model, null: NullCaption, examples: list[Example], cfg, seed: int,
             device: str | torch.device = "cpu") -> torch.Tensor | list[torch.Tensor]:
    """Samples for the captions of `examples`, each at the shape of its own latent (a list when
    shapes differ, else one [N, C, T, H, W] tensor), on the CPU. The model is on ``device``: the
    noise is drawn on the CPU (the same noise for a seed on any device), then moved there with the
    captions and the frame conditioning."""
    from modelzoo import sample

    gen = torch.Generator().manual_seed(seed)
    outs = []
    with sampling_bar(len(examples), -(-len(examples) // cfg.batch_size), cfg.solver, cfg.steps) as bar:
        for i in range(0, len(examples), cfg.batch_size):
            chunk = examples[i : i + cfg.batch_size]
            noise = [torch.randn(e.latent.shape, generator=gen) for e in chunk]
            if len({n.shape for n in noise}) == 1:
                noise = torch.stack(noise)
            feats = torch.stack([e.cap_feats for e in chunk])
            mask = torch.stack([e.cap_mask for e in chunk])
            nf, nm = null.expand(len(chunk))
            cond, uncond = dict(cap_feats=feats, cap_mask=mask), dict(cap_feats=nf, cap_mask=nm)
            frame_cond = [e.frame_cond for e in chunk]
            if all(f is not None for f in frame_cond):
                fc = torch.stack(frame_cond) if isinstance(noise, torch.Tensor) else frame_cond
                cond["frame_cond"] = uncond["frame_cond"] = fc
            noise, cond, uncond = moved(noise, device), moved(cond, device), moved(uncond, device)
            outs.append(moved(sample(model, noise, cond=cond, uncond=uncond, cfg_scale=cfg.cfg_scale, solver=cfg.solver,
                                     steps=cfg.steps, shift=cfg.shift, on_model_eval=lambda: bar.update(1)), "cpu"))
    if all(isinstance(o, torch.Tensor) for o in outs) and len({o.shape[1:] for o in outs}) == 1:
        return torch.cat(outs)
    return [x for o in outs for x in o]


def sampling_bar(samples: int, batches: int, solver: str, steps: int):
    """A progress bar over the model evaluations of sampling ``samples`` in ``batches`` (a real
    checkpoint's evaluation samples for minutes); it leaves no line behind when done."""
    from tqdm.auto import tqdm

    from modelzoo.transport.samplers import MODEL_EVALS_PER_STEP, Solver

    per_step = MODEL_EVALS_PER_STEP.get(Solver(solver))
    return tqdm(total=batches * steps * per_step if per_step else None, desc=f"sampling {samples}", unit="eval", leave=False)


class NonFiniteSamples(ValueError):
    """Sampling gave NaN or inf: refused before anything is rendered or scored."""


def check_finite(samples, what: str, settings) -> None:
    """``samples`` (a tensor, an array, or a list of them) hold only finite values, else one line
    saying how many samples do not, under ``settings`` (how they were sampled: a string, or a
    function giving it, called only then)."""
    items = samples if isinstance(samples, (list, tuple)) else list(samples)
    bad = sum(not bool(np.isfinite(x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)).all()) for x in items)
    if bad:
        settings = settings() if callable(settings) else settings
        raise NonFiniteSamples(f"sampling produced NaN/inf: {bad} of {len(items)} {what} ({settings}); the checkpoint's "
                               f"weights may hold NaN/inf (a run that diverged: see its metrics.csv), or the sampler is "
                               f"unstable at these settings (try more --steps or another --solver)")


def settings_of(cfg, cfg_scale: float) -> str:
    """'cfg scale 4.0, shift 1.0, euler, 30 steps': how samples were drawn, for a message."""
    return f"cfg scale {cfg_scale}, shift {cfg.shift}, {cfg.solver}, {cfg.steps} steps"
