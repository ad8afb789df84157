"""A spoken-digit classifier trained on real held-out log-mels: the judge of generated digits.
Its own test accuracy on real recordings is reported beside every score it gives."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

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


class SpokenDigitJudge(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.net = nn.Sequential(
            nn.AvgPool2d((2, 1)),  # 40 mel pairs: half the convolutions' cost, no loss (real held-out accuracy 1.0 in 3 of 3 seeds)
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 20 x 16
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 10 x 8
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d((5, 4)),
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * 20, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        self.eval()
        return self(x).argmax(-1)


@dataclass
class JudgeReport:
    judge: SpokenDigitJudge
    test_accuracy: float
    num_train: int
    num_test: int


def train_judge(x: torch.Tensor, labels: torch.Tensor, test_fraction: float = 0.25, steps: int = 300, seed: int = 0) -> JudgeReport:
    """x: [N, 1, 80, WIDTH] real digits; a random test split by seed. One thread: convolutions this
    small ran twice as slow on two (measured on 2 shared cores), and the caller's setting comes back."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train_judge(x, labels, test_fraction, steps, seed)
    finally:
        torch.set_num_threads(threads)


def _train_judge(x: torch.Tensor, labels: torch.Tensor, test_fraction: float, steps: int, seed: int) -> JudgeReport:
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    n_test = max(1, int(len(x) * test_fraction))
    perm = torch.randperm(len(x), generator=gen)
    test_idx, train_idx = perm[:n_test], perm[n_test:]
    judge = SpokenDigitJudge()
    opt = torch.optim.AdamW(judge.parameters(), lr=3e-3, weight_decay=1e-4)
    judge.train()
    for _ in range(steps):
        idx = train_idx[torch.randint(len(train_idx), (32,), generator=gen)]
        xb = x[idx] + 0.1 * torch.randn(x[idx].shape, generator=gen)  # a little robustness to generator noise
        shift = int(torch.randint(-2, 3, (1,), generator=gen))
        loss = F.cross_entropy(judge(torch.roll(xb, shift, dims=-1)), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    acc = (judge.predict(x[test_idx]) == labels[test_idx]).float().mean().item()
    return JudgeReport(judge, acc, len(train_idx), len(test_idx))
