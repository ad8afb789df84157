"""Text-to-video metrics: digit and direction accuracy of clips generated for held-out captions,
frame-to-frame consistency, with chance levels and the judges' own accuracy on real clips; renders
(an animated GIF grid, an MP4 per clip, a PNG frame strip) played at the training clips' frame rate
(``render_fps``). Shortfalls (too few held-out clips of a digit, a judge resting on few clips, an
unknown frame rate) go to the result's notes."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from evaluation.context import EvalContext
from evaluation.judging import common_side, too_few_to_judge
from evaluation.video.judge import DIRECTIONS, clip_labels, frame_agreement, train_clip_judge
from evaluation.video.render import DEFAULT_FPS, grid_frames, save_clips, save_gif, save_strip, to_frames

log = logging.getLogger(__name__)
JUDGE_MIN_TEST_CLIPS = 10  # below this many real test clips the judge's own accuracy is said to be anecdotal
DIGITS = range(10)


def _note(ctx: EvalContext, note: str) -> None:
    """A shortfall of this evaluation: logged now, and kept with the context for the results
    (``EvalContext.notes`` -> metrics.json ``notes``), as evaluation/speech does."""
    log.warning("video evaluation: %s", note)
    ctx.notes.append(note)


def prompt_notes(digits: list[int], per_class: int, generated: int) -> list[str]:
    """Where the generated clips fall short of ``per_class`` per digit: each is prompted by a real
    held-out clip of its digit (its caption), so a digit gets at most as many as the held-out
    manifest has clips of it."""
    present = Counter(digits)
    short = {d: n for d, n in sorted(present.items()) if n < per_class}
    notes = []
    if short:
        notes.append(f"{generated} clips generated, not {per_class} per digit ({per_class * len(present)}): each is prompted "
                     "by a real held-out clip of its digit, and the held-out manifest has only "
                     + ", ".join(f"{n} of digit {d}" for d, n in short.items()))
    if present and len(present) < len(DIGITS):
        notes.append("no held-out clip of digit " + ", ".join(str(d) for d in DIGITS if d not in present)
                     + ": those digits are not generated (digit_chance counts only the digits present)")
    return notes


def frame_rate(ctx: EvalContext) -> float | None:
    """The training clips' frame rate (meta sample_fps, from the checkpoint's catalog), else the
    held-out clips' (curated the same way); None when neither records one."""
    from evaluation.video.sample import training_fps

    ckpt = getattr(ctx.cfg, "checkpoint", None)
    fps = training_fps(ckpt, getattr(ctx.cfg, "catalog", None)) if ckpt else None
    if fps:
        return fps
    held = [float(e.meta.get("sample_fps") or 0) for e in ctx.examples]
    held = [f for f in held if f > 0]
    return round(float(np.median(held)), 4) if held else None


def _decoded(ctx: EvalContext, latents) -> list[torch.Tensor]:
    """Model latents -> pixel clips [C, T, H, W] in [-1, 1] (the recorded decoder: identity or VAE)."""
    return [torch.from_numpy(ctx.decode(z.numpy() if isinstance(z, torch.Tensor) else z)) for z in latents]


def _batch(clips: list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
    """Clips of one shape as one [B, C, T, H, W] batch; of mixed shapes, the list itself."""
    return torch.stack(clips) if len({tuple(c.shape) for c in clips}) == 1 else clips


def evaluate_video(ctx: EvalContext) -> tuple[dict[str, float], dict[str, str]]:
    cfg = ctx.cfg
    out_dir = Path(cfg.out_dir)
    metrics: dict[str, float] = {}
    labelled = [(e, clip_labels(e.caption)) for e in ctx.examples]
    labelled = [(e, y) for e, y in labelled if y is not None]
    if labelled and (few := too_few_to_judge(len(labelled), "clips", "digit or direction accuracy")):
        _note(ctx, few)
    if labelled and not few:
        # clips of mixed lengths or frame sizes (a user's own) are all judged, each at its own length;
        # the digit judge reads frames of mixed sizes scaled to one square (judging.common_side). Only
        # the most common clip shape was judged before, and nothing said so
        real = _batch(_decoded(ctx, [e.latent for e, _ in labelled]))
        side = common_side([c.shape for c in real])
        shapes = Counter(tuple(c.shape[1:]) for c in real)
        if len(shapes) > 1:
            _note(ctx, f"the {len(real)} held-out clips come in {len(shapes)} shapes (frames, height, width): each is judged at "
                       f"its own length, directions at its own size, digits in frames scaled to {side}x{side}"
                  if side else f"the {len(real)} held-out clips come in {len(shapes)} lengths: each is judged at its own length")
        digits = torch.tensor([y[0] for _, y in labelled])
        directions = torch.tensor([y[1] for _, y in labelled])
        judge = train_clip_judge(real, digits, directions, seed=cfg.seed, side=side)
        prompts = [(e, y) for d in DIGITS for e, y in [p for p in labelled if p[1][0] == d][: cfg.samples_per_class]]
        for note in prompt_notes([y[0] for _, y in labelled], cfg.samples_per_class, len(prompts)):
            _note(ctx, note)
        generated = ctx.generate([e for e, _ in prompts], seed=cfg.seed + 1)
        clips = _batch(_decoded(ctx, list(generated)))
        per_frame, majority, direction = judge.predict(clips)
        want_digit = torch.tensor([y[0] for _, y in prompts])
        want_dir = torch.tensor([y[1] for _, y in prompts])
        metrics.update(
            digit_accuracy=(majority == want_digit).float().mean().item(),
            digit_frame_accuracy=frame_agreement(per_frame, want_digit),
            direction_accuracy=(direction == want_dir).float().mean().item(),
            frame_consistency=frame_agreement(per_frame, majority),
            digit_chance=1.0 / len(set(digits.tolist())),
            direction_chance=1.0 / len(DIRECTIONS),
            judge_digit_accuracy=judge.digit_accuracy,
            judge_digit_frame_accuracy=judge.digit_frame_accuracy,
            judge_direction_accuracy=judge.direction_accuracy,
            num_generated=float(len(prompts)),
            num_judge_train_clips=float(judge.num_train_clips),
            num_judge_test_clips=float(judge.num_test_clips),
        )
        if judge.num_test_clips < JUDGE_MIN_TEST_CLIPS:
            _note(ctx, f"judge_digit_accuracy {judge.digit_accuracy:.3f} rests on {judge.num_test_clips} real held-out clip(s) "
                       f"(the judge trained on {judge.num_train_clips}): too few to show the judge tells digits apart; "
                       f"digit_accuracy {metrics['digit_accuracy']:.3f} rests on {len(prompts)} generated clip(s). Evaluate on "
                       "a held-out manifest with more clips")
        # a judge at or below chance on real clips is said by evaluation.evaluate.warn_if_the_judge_is_no_judge
    elif not labelled:  # a user's own captions: the judged metrics are left out, and said so, as multi-view does
        example = ctx.examples[0].caption if ctx.examples else ""
        _note(ctx, f"no digit_accuracy, direction_accuracy or frame_consistency: they need held-out captions naming a "
                   f"digit and its motion (the demo's form: 'a thick 7 moving up'); none of the {len(ctx.examples)} does "
                   f"(e.g. {example[:80]!r}); heldout_fm_loss and the renders do not depend on captions")
    grid_examples = ([e for e, _ in labelled] or ctx.examples)[: cfg.grid_size]
    samples = [to_frames(x.numpy()) for x in _decoded(ctx, list(ctx.generate(grid_examples, seed=cfg.seed + 2)))]
    fps = frame_rate(ctx)
    if fps is None:
        _note(ctx, f"the clips' frame rate is unknown (no sample_fps in the training or held-out meta): the GIF and MP4s "
                   f"play at {DEFAULT_FPS:g} fps, which may be faster or slower than the motion was learnt")
        fps = DEFAULT_FPS
    metrics["render_fps"] = float(fps)
    renders = {
        "gif": str(save_gif(grid_frames(samples), out_dir / "samples.gif", fps)),
        "grid": str(save_strip(samples, out_dir / "samples_frames.png")),
    }
    (out_dir / "samples.txt").write_text("\n".join(f"{i}: {e.caption}" for i, e in enumerate(grid_examples)) + "\n")
    renders["captions"] = str(out_dir / "samples.txt")
    renders.update(save_clips(samples[:8], out_dir / "clips", fps))
    return metrics, renders

