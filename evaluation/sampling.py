"""Sampling from a checkpoint for a list of examples (their captions, shapes and frame conditioning)."""

from __future__ import annotations

import math

import numpy as np
import torch

from training.data import Example, NullCaption


@torch.no_grad()
def generate(model, null: NullCaption, examples: list[Example], cfg, seed: int) -> torch.Tensor | list[torch.Tensor]:
    """Samples for the captions of `examples`, each at the shape of its own latent (a list when
    shapes differ, else one [N, C, T, H, W] tensor)."""
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
            outs.append(sample(model, noise, cond=cond, uncond=uncond, cfg_scale=cfg.cfg_scale, solver=cfg.solver, steps=cfg.steps,
                               shift=cfg.shift, on_model_eval=lambda: bar.update(1)))
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


def check_guidance(shift: float, cfg: float, cfg_flag: str = "--cfg-scale") -> None:
    """Settings that make every sample NaN (--shift 0 or inf, a non-finite guidance scale) or sample
    off the time grid (a negative shift) are refused before any model loads: they wrote black
    images, logged metrics of 0.0 over a checkpoint's real ones, or ended in a traceback."""
    if not (math.isfinite(shift) and shift > 0):
        raise ValueError(f"--shift must be a finite number above 0 (1: the grid as trained; above 1: more steps near the "
                         f"noise end); got {shift}")
    if not math.isfinite(cfg):
        raise ValueError(f"{cfg_flag} must be a finite number (1: no guidance; {cfg_flag} 4 is the default); got {cfg}")


MAX_SEED = 2**63 - 1


def check_sampler(solver: str, seed: int) -> None:
    """An unknown --solver and a --seed torch cannot take are refused before any model loads (the
    solver was refused after the model loaded, without the choices; a seed past 64 bits ended in
    "Overflow when unpacking long long", a negative one in numpy's "expected non-negative integer")."""
    from modelzoo.transport.samplers import Solver

    try:
        Solver(solver)
    except ValueError as e:
        raise ValueError(f"--solver: {e}") from None
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"--seed must be between 0 and {MAX_SEED} (2**63 - 1); got {seed}")


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
