"""What every judge shares: a small CNN classifier and its training loop.

Each modality's judge (``evaluation/<modality>/judge.py``) chooses its input, augmentation and
split; the network shape, the optimiser and the loop are the same for all of them, so a fix here
reaches every modality's scores alike.
"""

from __future__ import annotations

from typing import Callable

import math
from statistics import median

import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallCNN(nn.Module):
    """Three 3x3 convolution stages (16, 32, 32 channels, two 2x max-pools), an adaptive pool to
    ``head_grid`` and a linear head. ``stem``: a layer in front (e.g. pooling of mel pairs)."""

    def __init__(self, in_channels: int, num_classes: int, head_grid: tuple[int, int] = (4, 4), stem: nn.Module | None = None):
        super().__init__()
        self.net = nn.Sequential(
            *([stem] if stem is not None else []),
            nn.Conv2d(in_channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(head_grid),
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * head_grid[0] * head_grid[1], num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        self.eval()
        return self(x).argmax(-1)


def fit(judge: nn.Module, batch: Callable[[], tuple[torch.Tensor, torch.Tensor]], steps: int,
        lr: float = 3e-3, weight_decay: float = 1e-4) -> nn.Module:
    """``steps`` AdamW steps of cross-entropy on ``batch()`` -> (inputs, labels), drawn anew each step."""
    opt = torch.optim.AdamW(judge.parameters(), lr=lr, weight_decay=weight_decay)
    judge.train()
    for _ in range(steps):
        x, y = batch()
        loss = F.cross_entropy(judge(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return judge


def holdout_split(n: int, test_fraction: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(test, train) indices of a random split by ``gen``; at least one test example."""
    n_test = max(1, int(n * test_fraction))
    perm = torch.randperm(n, generator=gen)
    return perm[:n_test], perm[n_test:]


def common_side(shapes) -> int | None:
    """The side of the square a judge reads samples of these [..., H, W] ``shapes`` at: None where
    they all share one H x W (read as they are: the demos' case), else the median over the samples
    of sqrt(H * W), at least 8 (two 2x pools). A judge batch is one size, and a held-out set of
    mixed sizes (a user's own images, 24x48 beside 48x32) ended in torch.stack's "stack expects each
    tensor to be equal size". A sample is scaled to the square whole, not cropped or padded: what is
    drawn to fill its frame still fills it (a digit of a 24x48 image is drawn 24x48)."""
    sizes = {tuple(s[-2:]) for s in shapes}
    if len(sizes) <= 1:
        return None
    return max(8, round(median(math.sqrt(s[-2] * s[-1]) for s in shapes)))


def at_side(x: torch.Tensor, side: int | None) -> torch.Tensor:
    """``x`` ([..., H, W]) scaled to side x side over its last two dimensions (bilinear, antialiased
    where it shrinks); ``side`` None, or already that size: ``x`` itself."""
    if side is None or tuple(x.shape[-2:]) == (side, side):
        return x
    lead = x.shape[:-2]
    flat = x.reshape(1, -1, *x.shape[-2:]).float()
    out = F.interpolate(flat, size=(side, side), mode="bilinear", align_corners=False, antialias=True)
    return out.reshape(*lead, side, side).to(x.dtype)


def stack_at(items, side: int | None) -> torch.Tensor:
    """One batch of ``items`` (tensors, or a batch tensor), each at ``side`` (``at_side``)."""
    return torch.stack([at_side(torch.as_tensor(x), side) for x in items])
