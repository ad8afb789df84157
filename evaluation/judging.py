"""What every judge shares: a small CNN classifier and its training loop.

Each modality's judge (``evaluation/<modality>/judge.py``) chooses its input, augmentation and
split; the network shape, the optimiser and the loop are the same for all of them, so a fix here
reaches every modality's scores alike.
"""

from __future__ import annotations

from typing import Callable

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
