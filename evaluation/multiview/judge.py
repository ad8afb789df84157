"""Judges of generated views, trained on real held-out renders: which object a view shows, and
where its camera stands (azimuth bin). Each reports its own accuracy on real views it did not
train on, so a reader can tell a weak generator from a weak judge.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch

from encoders.cameras import azimuth_of_vector
from evaluation.judging import SmallCNN, cached_fit, fit


def object_label(caption: str, nouns: list[str]) -> int | None:
    """Index of the object noun a caption names (the longest match), or None."""
    hits = [(len(n), i) for i, n in enumerate(nouns) if re.search(rf"\b{re.escape(n)}\b", caption or "")]
    return max(hits)[1] if hits else None


def pose_bin(camera: torch.Tensor, bins: int) -> int:
    """Azimuth bin of a camera vector: bins of 360/bins degrees starting at 0."""
    return int(azimuth_of_vector(camera.numpy()) // (360.0 / bins)) % bins


class ViewJudge(SmallCNN):
    """A small CNN on one view [3, H, W] in [-1, 1] (small: it trains in seconds on one core)."""

    VERSION = 1  # bump when its architecture or train_view_judge's training changes: cached judges are stale (judging.cached_fit)

    def __init__(self, num_classes: int):
        super().__init__(3, num_classes)


@dataclass
class JudgeReport:
    judge: ViewJudge
    test_accuracy: float  # on real views of objects it never saw
    num_train: int  # views
    num_test: int
    test_sets: list[int]  # indices of the sets held out from judge training (their views are the test views)


def _augment(x: torch.Tensor, gen: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    dx, dy = torch.randint(-max_shift, max_shift + 1, (2,), generator=gen).tolist()
    gain = 1.0 + 0.1 * (torch.rand(1, generator=gen).item() - 0.5)  # a little brightness jitter
    return (torch.roll(x, shifts=(dy, dx), dims=(-2, -1)) + 1) * gain - 1


def train_view_judge(sets: torch.Tensor, labels: torch.Tensor, num_classes: int, test_fraction: float = 0.25,
                     steps: int | None = None, batch: int = 32, seed: int = 0, cache_dir=None) -> JudgeReport:
    """sets: [N, 3, V, H, W] real view sets; labels: [N, V] per-view labels (or lists of [3, V, H, W]
    and [V] for sets of several view counts, one view size). The split is by set, so the test views
    are of objects the judge never saw. ``cache_dir``: the judge cache
    (judging.cached_fit; default: the evaluation's, else none)."""
    judge, figures = cached_fit(
        f"{__name__}.train_view_judge:ViewJudge", ViewJudge.VERSION, {"sets": sets, "labels": labels},
        {"num_classes": num_classes, "test_fraction": test_fraction, "steps": steps, "batch": batch, "seed": seed},
        lambda: ViewJudge(num_classes), lambda: _train_view_judge(sets, labels, num_classes, test_fraction, steps, batch, seed),
        seed, cache_dir)
    return JudgeReport(judge, **figures)


def _train_view_judge(sets: torch.Tensor, labels: torch.Tensor, num_classes: int, test_fraction: float,
                      steps: int | None, batch: int, seed: int) -> tuple[ViewJudge, dict]:
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    n = len(sets)
    n_test = max(1, int(math.ceil(n * test_fraction)))
    perm = torch.randperm(n, generator=gen)
    test_idx, train_idx = perm[:n_test], perm[n_test:]
    if isinstance(sets, torch.Tensor):
        views = lambda idx: sets[idx].permute(0, 2, 1, 3, 4).reshape(-1, *sets.shape[1:2], *sets.shape[3:])  # noqa: E731
        xtr, ytr = views(train_idx), labels[train_idx].reshape(-1)
        xte, yte = views(test_idx), labels[test_idx].reshape(-1)
    else:  # sets of their own view counts: the same views, in the same order
        views = lambda idx: torch.cat([sets[i].permute(1, 0, 2, 3) for i in idx.tolist()])  # noqa: E731
        flat = lambda idx: torch.cat([labels[i].reshape(-1) for i in idx.tolist()])  # noqa: E731
        xtr, ytr, xte, yte = views(train_idx), flat(train_idx), views(test_idx), flat(test_idx)
    steps = steps or min(500, max(30, 3 * len(xtr)))  # a few passes over small sets, capped: it runs on CPU

    def draw():
        idx = torch.randint(len(xtr), (batch,), generator=gen)
        return _augment(xtr[idx], gen), ytr[idx]

    judge = fit(ViewJudge(num_classes), draw, steps)
    acc = (judge.predict(xte) == yte).float().mean().item()
    return judge, {"test_accuracy": acc, "num_train": len(xtr), "num_test": len(xte), "test_sets": test_idx.tolist()}


def judge_views(judge: ViewJudge, sets: torch.Tensor | list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
    """[N, 3, V, H, W] -> predictions [N, V]; a list of [3, V_i, H, W] (one view size) -> a list of [V_i]."""
    if not isinstance(sets, torch.Tensor):
        pred = judge.predict(torch.cat([s.permute(1, 0, 2, 3) for s in sets]))
        return list(pred.split([s.shape[1] for s in sets]))
    n, c, v, h, w = sets.shape
    return judge.predict(sets.permute(0, 2, 1, 3, 4).reshape(n * v, c, h, w)).reshape(n, v)
