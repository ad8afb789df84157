"""A spoken-digit classifier trained on real held-out log-mels: the judge of generated digits.
Its own test accuracy on real recordings is reported beside every score it gives."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from evaluation.judging import SmallCNN, cached_fit, fit, holdout_split

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
WIDTH = 32  # every clip is resampled in time to this many frames: digits differ in length


def digit_label(caption: str) -> int | None:
    c = (caption or "").strip().lower()
    return DIGIT_WORDS.index(c) if c in DIGIT_WORDS else None


def to_input(latents: list[torch.Tensor]) -> torch.Tensor:
    """[C, 1, H, W] latents (either mel layout) -> [B, 1, 80, WIDTH]."""
    out = []
    for z in latents:
        m = z[:, 0, 0] if z.shape[0] > 1 else z[0, 0]  # (80, W)
        out.append(F.interpolate(m[None], size=WIDTH, mode="linear", align_corners=False)[0])
    return torch.stack(out)[:, None]


class SpokenDigitJudge(SmallCNN):
    VERSION = 1  # bump when its architecture or train_judge's training changes: cached judges are stale (judging.cached_fit)

    def __init__(self, num_classes: int = 10):
        # the stem averages mel pairs (40 of them): half the convolutions' cost, no loss (real
        # held-out accuracy 1.0 in 3 of 3 seeds); the head keeps a 5 x 4 grid of the 20 x 8 map
        super().__init__(1, num_classes, head_grid=(5, 4), stem=nn.AvgPool2d((2, 1)))


@dataclass
class JudgeReport:
    judge: SpokenDigitJudge
    test_accuracy: float
    num_train: int
    num_test: int


def train_judge(x: torch.Tensor, labels: torch.Tensor, test_fraction: float = 0.25, steps: int = 300, seed: int = 0,
                cache_dir=None) -> JudgeReport:
    """x: [N, 1, 80, WIDTH] real digits; a random test split by seed. One thread: convolutions this
    small ran twice as slow on two (measured on 2 shared cores), and the caller's setting comes back.
    ``cache_dir``: the judge cache (judging.cached_fit; default: the evaluation's, else none)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        judge, figures = cached_fit(
            f"{__name__}.train_judge:SpokenDigitJudge", SpokenDigitJudge.VERSION, {"x": x, "labels": labels},
            {"test_fraction": test_fraction, "steps": steps, "seed": seed}, SpokenDigitJudge,
            lambda: _train_judge(x, labels, test_fraction, steps, seed), seed, cache_dir)
        return JudgeReport(judge, **figures)
    finally:
        torch.set_num_threads(threads)


def _train_judge(x: torch.Tensor, labels: torch.Tensor, test_fraction: float, steps: int, seed: int) -> tuple[SpokenDigitJudge, dict]:
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    test_idx, train_idx = holdout_split(len(x), test_fraction, gen)

    def batch():
        idx = train_idx[torch.randint(len(train_idx), (32,), generator=gen)]
        xb = x[idx] + 0.1 * torch.randn(x[idx].shape, generator=gen)  # a little robustness to generator noise
        shift = int(torch.randint(-2, 3, (1,), generator=gen))
        return torch.roll(xb, shift, dims=-1), labels[idx]

    judge = fit(SpokenDigitJudge(), batch, steps)
    acc = (judge.predict(x[test_idx]) == labels[test_idx]).float().mean().item()
    return judge, {"test_accuracy": acc, "num_train": len(train_idx), "num_test": len(test_idx)}
