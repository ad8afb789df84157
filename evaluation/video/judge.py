"""Judges of generated clips, trained and checked on real held-out clips.

- digit: the image modality's small CNN, trained on every frame of real clips (so it has seen the
  digit at every position); a clip's digit is the majority over its frames;
- direction: from the trajectory of the ink's centre of mass, first frame to last (no training).
Each judge's accuracy on real clips it did not train on is reported beside its scores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from evaluation.image.judge import DigitJudge, _shift
from evaluation.judging import at_side, cached_fit, fit, holdout_split

# bump when train_clip_judge's training changes (DigitJudge.VERSION: when the network does): cached
# judges are stale (judging.cached_fit)
CLIP_JUDGE_VERSION = 1

Clips = torch.Tensor | list[torch.Tensor]  # [B, C, T, H, W], or clips [C, T_i, H_i, W_i] of their own lengths and sizes

DIRECTIONS = ("left", "right", "up", "down")
CAPTION_RE = re.compile(r"\b(\d) moving (left|right|up|down)\b")


def clip_labels(caption: str) -> tuple[int, int] | None:
    """(digit, direction index) a caption asks for, or None."""
    m = CAPTION_RE.search(caption or "")
    return (int(m.group(1)), DIRECTIONS.index(m.group(2))) if m else None


def frames_of(clips: torch.Tensor) -> torch.Tensor:
    """[B, C, T, H, W] -> [B*T, C, H, W] (frame-major within each clip)."""
    b, c, t, h, w = clips.shape
    return clips.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)


def frame_agreement(per_frame: torch.Tensor | list[torch.Tensor], per_clip: torch.Tensor) -> float:
    """The share of all frames whose digit is their clip's in ``per_clip`` (every frame counts once:
    a long clip weighs more). per_frame: [B, T], or a [T_i] per clip."""
    if isinstance(per_frame, torch.Tensor):
        return (per_frame == per_clip[:, None]).float().mean().item()
    return torch.cat([p == y for p, y in zip(per_frame, per_clip)]).float().mean().item()


def direction_of(clips: torch.Tensor) -> torch.Tensor:
    """[B, C, T, H, W] in [-1, 1] -> (B,) direction index from the ink's centroid, first to last frame."""
    ink = ((clips.mean(1) + 1) / 2).clamp(0, 1)  # [B, T, H, W]
    ink = torch.where(ink > 0.25, ink, torch.zeros_like(ink))  # background noise pulls the centroid to the centre
    h, w = ink.shape[-2:]
    ys = torch.arange(h, dtype=ink.dtype).view(1, 1, h, 1)
    xs = torch.arange(w, dtype=ink.dtype).view(1, 1, 1, w)
    mass = ink.sum((-2, -1)).clamp_min(1e-6)
    cy, cx = (ink * ys).sum((-2, -1)) / mass, (ink * xs).sum((-2, -1)) / mass  # [B, T]
    dx, dy = cx[:, -1] - cx[:, 0], cy[:, -1] - cy[:, 0]
    horizontal = dx.abs() >= dy.abs()
    return torch.where(horizontal, torch.where(dx < 0, 0, 1), torch.where(dy < 0, 2, 3))


def directions_of(clips: Clips) -> torch.Tensor:
    """``direction_of`` for a batch, or for a list of clips each at its own length and size."""
    return direction_of(clips) if isinstance(clips, torch.Tensor) else torch.cat([direction_of(c[None]) for c in clips])


@dataclass
class ClipJudge:
    digit: DigitJudge
    digit_frame_accuracy: float  # on real test clips' frames
    digit_accuracy: float  # majority over frames, real test clips
    direction_accuracy: float  # trajectory rule on all real clips
    num_train_clips: int
    num_test_clips: int
    side: int | None = None  # the digit judge reads frames scaled to side x side (clips of mixed sizes); None: as they are

    @torch.no_grad()
    def predict(self, clips: Clips) -> tuple[torch.Tensor | list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """[B, C, T, H, W] -> (per-frame digits [B, T], majority digit [B], direction [B]); a list of
        clips of their own lengths and sizes -> per-frame digits a [T_i] per clip, the rest alike. The
        direction is read at each clip's own size, the digit at the judge's (``side``)."""
        if isinstance(clips, torch.Tensor) and self.side is None:
            b, t = clips.shape[0], clips.shape[2]
            per_frame = self.digit.predict(frames_of(clips)).view(b, t)
            majority = torch.mode(per_frame, dim=1).values
            return per_frame, majority, direction_of(clips)
        per_frame = [self.digit.predict(at_side(frames_of(c[None]), self.side)) for c in clips]
        majority = torch.stack([torch.mode(p).values for p in per_frame])
        return per_frame, majority, directions_of(clips)


def train_clip_judge(clips: Clips, digits: torch.Tensor, directions: torch.Tensor, test_fraction: float = 0.25,
                     steps: int | None = None, seed: int = 0, side: int | None = None, cache_dir=None) -> ClipJudge:
    """clips: [N, C, T, H, W] real clips in [-1, 1], or a list of clips [C, T_i, H_i, W_i] of their
    own lengths and sizes, whose frames the digit judge reads scaled to ``side`` x ``side``
    (``judging.common_side``). The split is by clip, never by frame, so the test frames come from
    clips the judge has not seen. Default steps: 400, fewer for a handful of clips (a smoke run),
    which would only be memorised. ``cache_dir``: the judge cache (judging.cached_fit; default: the
    evaluation's, else none)."""
    judge, figures = cached_fit(
        f"{__name__}.train_clip_judge:DigitJudge", (DigitJudge.VERSION, CLIP_JUDGE_VERSION),
        {"clips": clips if isinstance(clips, torch.Tensor) else list(clips), "digits": digits, "directions": directions},
        {"test_fraction": test_fraction, "steps": steps, "seed": seed, "side": side}, DigitJudge,
        lambda: _train_clip_judge(clips, digits, directions, test_fraction, steps, seed, side), seed, cache_dir)
    return ClipJudge(judge, **figures, side=side)


def _train_clip_judge(clips: Clips, digits: torch.Tensor, directions: torch.Tensor, test_fraction: float,
                      steps: int | None, seed: int, side: int | None) -> tuple[DigitJudge, dict]:
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    test, train = holdout_split(len(clips), test_fraction, gen)
    steps = steps if steps is not None else min(400, 10 * len(train) + 20)
    if isinstance(clips, torch.Tensor) and side is None:
        x = frames_of(clips[train])
        y = digits[train].repeat_interleave(clips.shape[2])
    else:
        x = torch.cat([at_side(frames_of(clips[i][None]), side) for i in train.tolist()])
        y = torch.cat([digits[i].repeat(clips[i].shape[1]) for i in train.tolist()])

    def batch():
        idx = torch.randint(len(x), (64,), generator=gen)
        return _shift(x[idx], gen), y[idx]

    judge = fit(DigitJudge(), batch, steps)
    report = ClipJudge(judge, 0.0, 0.0, 0.0, len(train), len(test), side)
    tested = clips[test] if isinstance(clips, torch.Tensor) else [clips[i] for i in test.tolist()]
    per_frame, majority, _ = report.predict(tested)
    report.digit_frame_accuracy = frame_agreement(per_frame, digits[test])
    report.digit_accuracy = (majority == digits[test]).float().mean().item()
    report.direction_accuracy = (directions_of(clips) == directions).float().mean().item()
    return judge, {k: getattr(report, k) for k in ("digit_frame_accuracy", "digit_accuracy", "direction_accuracy",
                                                     "num_train_clips", "num_test_clips")}
