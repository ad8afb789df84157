"""lumina evaluate's digit judge reads images also when the checkpoint trained on VAE latents.

It read the latents as they were: the mean of an SD VAE's 4 channels at an eighth of the side, 4x4
for a 32 px digit (walkthrough 2026-12-07: held-out digits curated at 32 px and encoded with an
SD1.5-layout VAE; the judge trained on 4x4 inputs). Identity latents are pixels and are read as before."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import evaluation.image.metrics as metrics
from evaluation.image.judge import JudgeReport
from tests.evaluation.fakes import fake_context
from training.data import Example


class _EightTimesVAE:
    """Decodes a [4, T, h, w] latent to [3, T, 8h, 8w] pixels: its channel 0, repeated."""
    name = "sd15"

    @staticmethod
    def decode(z):
        return np.asarray(z)[:1].repeat(3, 0).repeat(8, -2).repeat(8, -1)


class _ReadsTheFirstPixel:
    def __init__(self, seen):
        self.seen = seen

    def predict(self, x):
        self.seen.append(tuple(x.shape))
        return (x[:, 0, 0, 0, 0] * 10).round().long()


def _digits(n: int = 6) -> list[Example]:
    return [Example(f"k{i}", torch.full((4, 1, 4, 4), (i % 3) / 10), torch.zeros(2, 4), torch.ones(2, dtype=torch.bool),
                    f"digit {i % 3}", "holdout") for i in range(n)]


@pytest.mark.parametrize("decoder, side, channels", [(_EightTimesVAE(), 32, 3), (None, 4, 4)])
def test_the_judge_trains_and_judges_at_the_decoded_size(monkeypatch, tmp_path, decoder, side, channels):
    seen = SimpleNamespace(train=None, judged=[])

    def fake_train_judge(images, labels, seed):
        seen.train = tuple(images.shape)
        return JudgeReport(_ReadsTheFirstPixel(seen.judged), 1.0, len(labels) - 1, 1)

    def generate(prompts, seed):
        return torch.stack([torch.full((4, 1, 4, 4), int(p.caption.split()[-1]) / 10) for p in prompts])

    monkeypatch.setattr(metrics, "train_judge", fake_train_judge)
    ctx = fake_context(_digits(), generate, tmp_path, samples_per_class=2, grid_size=1)
    if decoder is not None:
        ctx.decoder = decoder
    monkeypatch.setattr(metrics, "save_grid", lambda *a, **k: (tmp_path / "g.png", tmp_path / "g.txt"))
    scores = metrics.evaluate_image(ctx)[0]
    assert seen.train == (6, channels, 1, side, side)
    assert seen.judged == [(6, channels, 1, side, side)]  # 2 prompts for each of the 3 digits
    assert scores["class_accuracy"] == 1.0
