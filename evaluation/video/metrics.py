"""Text-to-video metrics: digit and direction accuracy of clips generated for held-out captions,
frame-to-frame consistency, with chance levels and the judges' own accuracy on real clips; renders
(an animated GIF grid, an MP4 per clip, a PNG frame strip)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch

from evaluation.context import EvalContext
from evaluation.video.judge import DIRECTIONS, clip_labels, train_clip_judge
from evaluation.video.render import grid_frames, save_gif, save_mp4, save_strip, to_frames


def _decoded(ctx: EvalContext, latents) -> list[torch.Tensor]:
    """Model latents -> pixel clips [C, T, H, W] in [-1, 1] (the recorded decoder: identity or VAE)."""
    return [torch.from_numpy(ctx.decode(z.numpy() if isinstance(z, torch.Tensor) else z)) for z in latents]


def evaluate_video(ctx: EvalContext) -> tuple[dict[str, float], dict[str, str]]:
    cfg = ctx.cfg
    out_dir = Path(cfg.out_dir)
    metrics: dict[str, float] = {}
    labelled = [(e, clip_labels(e.caption)) for e in ctx.examples]
    labelled = [(e, y) for e, y in labelled if y is not None]
    if labelled:
        shape = Counter(tuple(e.latent.shape) for e, _ in labelled).most_common(1)[0][0]
        labelled = [(e, y) for e, y in labelled if tuple(e.latent.shape) == shape]  # one clip size for the judge
        real = torch.stack(_decoded(ctx, [e.latent for e, _ in labelled]))
        digits = torch.tensor([y[0] for _, y in labelled])
        directions = torch.tensor([y[1] for _, y in labelled])
        judge = train_clip_judge(real, digits, directions, seed=cfg.seed)
        prompts = [(e, y) for d in range(10) for e, y in [p for p in labelled if p[1][0] == d][: cfg.samples_per_class]]
        generated = ctx.generate([e for e, _ in prompts], seed=cfg.seed + 1)
        clips = torch.stack(_decoded(ctx, list(generated)))
        per_frame, majority, direction = judge.predict(clips)
        want_digit = torch.tensor([y[0] for _, y in prompts])
        want_dir = torch.tensor([y[1] for _, y in prompts])
        metrics.update(
            digit_accuracy=(majority == want_digit).float().mean().item(),
            digit_frame_accuracy=(per_frame == want_digit[:, None]).float().mean().item(),
            direction_accuracy=(direction == want_dir).float().mean().item(),
            frame_consistency=(per_frame == majority[:, None]).float().mean().item(),
            digit_chance=1.0 / len(set(digits.tolist())),
            direction_chance=1.0 / len(DIRECTIONS),
            judge_digit_accuracy=judge.digit_accuracy,
            judge_digit_frame_accuracy=judge.digit_frame_accuracy,
            judge_direction_accuracy=judge.direction_accuracy,
            num_generated=float(len(prompts)),
            num_judge_train_clips=float(judge.num_train_clips),
        )
    grid_examples = ([e for e, _ in labelled] or ctx.examples)[: cfg.grid_size]
    samples = [to_frames(x.numpy()) for x in _decoded(ctx, list(ctx.generate(grid_examples, seed=cfg.seed + 2)))]
    renders = {
        "gif": str(save_gif(grid_frames(samples), out_dir / "samples.gif")),
        "grid": str(save_strip(samples, out_dir / "samples_frames.png")),
    }
    (out_dir / "samples.txt").write_text("\n".join(f"{i}: {e.caption}" for i, e in enumerate(grid_examples)) + "\n")
    renders["captions"] = str(out_dir / "samples.txt")
    for i, clip in enumerate(samples[:8]):
        renders[f"mp4_{i}"] = str(save_mp4(clip, out_dir / "clips" / f"sample_{i:02d}.mp4"))
    return metrics, renders

