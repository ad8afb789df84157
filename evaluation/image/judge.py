"""A small digit classifier trained on real held-out digits: the judge of generated digits.

Its own test accuracy on real digits is reported beside every score it gives, so a reader can tell
a weak generator from a weak judge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from evaluation.judging import SmallCNN, cached_fit, fit, holdout_split

DIGIT_RE = re.compile(r"\bdigit (\d)\b")


def digit_label(caption: str) -> int | None:
    """The digit a caption asks for, or None for captions that are not about a digit."""
    m = DIGIT_RE.search(caption or "")
    return int(m.group(1)) if m else None


def to_grey(x: torch.Tensor) -> torch.Tensor:
    """[B, C, T, H, W] or [B, C, H, W] latents in pixel space ([-1, 1]) -> [B, 1, H, W]."""
    if x.dim() == 5:
        x = x[:, :, 0]
    return x.mean(1, keepdim=True)


class DigitJudge(SmallCNN):
    VERSION = 1  # bump when its architecture or train_judge's training changes: cached judges are stale (judging.cached_fit)
    # 16/32/32 channels: as accurate on unseen digits as 32/64/64 (0.81 vs 0.81 from 150 digits,
    # 0.96 vs 0.97 from 600) at about a third of the cost, which every image evaluation pays
    def __init__(self, num_classes: int = 10):
        super().__init__(1, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(to_grey(x))  # (B, num_classes)


@dataclass
class JudgeReport:
    judge: DigitJudge
    test_accuracy: float
    num_train: int
    num_test: int


def _shift(x: torch.Tensor, gen: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    dx, dy = (torch.randint(-max_shift, max_shift + 1, (2,), generator=gen)).tolist()
    return torch.roll(x, shifts=(dy, dx), dims=(-2, -1))


def train_judge(images: torch.Tensor, labels: torch.Tensor, test_fraction: float = 0.25, steps: int = 400, seed: int = 0,
                cache_dir=None) -> JudgeReport:
    """images: [N, C, (T,) H, W] real digits in [-1, 1]; labels: [N]. Deterministic split by order.
    ``cache_dir``: the judge cache (judging.cached_fit; default: the evaluation's, else none)."""
    judge, figures = cached_fit(
        f"{__name__}.train_judge:DigitJudge", DigitJudge.VERSION, {"images": images, "labels": labels},
        {"test_fraction": test_fraction, "steps": steps, "seed": seed}, DigitJudge,
        lambda: _train_judge(images, labels, test_fraction, steps, seed), seed, cache_dir)
    return JudgeReport(judge, **figures)


def _train_judge(images: torch.Tensor, labels: torch.Tensor, test_fraction: float, steps: int, seed: int) -> tuple[DigitJudge, dict]:
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    test_idx, train_idx = holdout_split(len(images), test_fraction, gen)

    def batch():
        idx = train_idx[torch.randint(len(train_idx), (64,), generator=gen)]
        return _shift(images[idx], gen), labels[idx]

    judge = fit(DigitJudge(), batch, steps)
    acc = (judge.predict(images[test_idx]) == labels[test_idx]).float().mean().item()
    return judge, {"test_accuracy": acc, "num_train": len(train_idx), "num_test": len(test_idx)}
