"""The headline number: class accuracy of generated digits, checked against generators whose
answers we know."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from evaluation.image.metrics import evaluate_image
from .fakes import fake_context, image_example
from training.data import Example


def _digit_examples(n: int = 500) -> list[Example]:
    from sklearn.datasets import load_digits

    from preprocess.image.demo_corpus import _upscale_digit

    d = load_digits()
    out = []
    for i in range(n):
        img = np.asarray(_upscale_digit(d.images[i]), dtype=np.float32) / 127.5 - 1
        latent = torch.from_numpy(img)[None, None].repeat(3, 1, 1, 1)  # [3, 1, 32, 32]
        y = int(d.target[i])
        out.append(Example(f"k{i:05d}", latent, torch.zeros(4, 8), torch.ones(4, dtype=torch.bool), f"a handwritten digit {y}", "holdout"))
    return out


def test_accuracy_is_scored_against_the_requested_digits(tmp_path, monkeypatch):
    import functools

    import evaluation.image.metrics as image_metrics

    # a 150-step judge, as in test_mixed_size_judges.py (test_judge.py: 150 steps learn real digits):
    # judge test accuracy 0.97 and class accuracy 0.70 here, a third of the 400 default steps' CPU
    monkeypatch.setattr(image_metrics, "train_judge", functools.partial(image_metrics.train_judge, steps=150))
    examples = _digit_examples()
    by_label = {}
    for e in examples:
        by_label.setdefault(int(e.caption.split()[-1]), []).append(e)

    def half_faithful(prompts, seed):
        """Digits 0-6: a real digit of the asked class (not the prompt's own image); 7-9: the next digit."""
        asked = [int(p.caption.split()[-1]) for p in prompts]
        return torch.stack([by_label[y if y < 7 else (y + 1) % 10][-1].latent for y in asked])

    # one evaluation (the judge's training is its cost): right on seven classes, wrong on three; scoring
    # against shifted or shuffled labels would give about 0.3 or 0.1, a judge that always agrees 1.0
    metrics, renders = evaluate_image(fake_context(examples, half_faithful, tmp_path))
    assert metrics["judge_test_accuracy"] > 0.85
    assert 0.6 <= metrics["class_accuracy"] <= 0.8
    assert metrics["num_generated"] == 50 and metrics["chance_accuracy"] == 0.1
    assert (tmp_path / "samples.png").exists() and renders["grid"].endswith("samples.png")


def test_own_captions_get_a_line_saying_why_there_is_no_accuracy(tmp_path, caplog):
    """Captions that name neither a digit nor a drawn shape: no scores, and a warning that says so."""
    metrics, renders = _evaluated_with_captions(tmp_path, caplog, [f"a photo of a cat, number {i}" for i in range(4)])
    assert metrics == {} and Path(renders["grid"]).exists()
    assert "no class or shape accuracy" in caplog.text and "none of the 4" in caplog.text


def test_own_captions_note_is_kept_for_metrics_json(tmp_path):
    from evaluation.image.metrics import evaluate_image

    rng = np.random.default_rng(0)
    examples = [image_example(f"k{i}", rng.integers(0, 255, (16, 16, 3)), f"a photo of a cat, number {i}") for i in range(4)]
    ctx = fake_context(examples, lambda prompts, seed: torch.stack([e.latent for e in prompts]), tmp_path, samples_per_class=1)
    evaluate_image(ctx)
    assert len(ctx.notes) == 1 and ctx.notes[0].startswith("no class or shape accuracy") and "none of the 4 does" in ctx.notes[0]


def test_digit_captions_get_no_such_warning(tmp_path, caplog, monkeypatch):
    import functools

    import evaluation.image.metrics as image_metrics

    # only whether a digit is scored matters here, not how well: 5 judge steps, not 400 (6 s)
    monkeypatch.setattr(image_metrics, "train_judge", functools.partial(image_metrics.train_judge, steps=5))
    metrics, _ = _evaluated_with_captions(tmp_path, caplog, [f"a handwritten digit {i % 2}" for i in range(8)])
    assert "class_accuracy" in metrics and "no class or shape accuracy" not in caplog.text


def _evaluated_with_captions(tmp_path, caplog, captions: list[str]):
    """evaluate_image on random 16 px images with these captions, a generator that returns the
    prompts' own images, and the warnings caught."""
    import logging

    rng = np.random.default_rng(0)
    examples = [image_example(f"k{i}", rng.integers(0, 255, (16, 16, 3)), c) for i, c in enumerate(captions)]
    with caplog.at_level(logging.WARNING, logger="evaluation.image.metrics"):
        return evaluate_image(fake_context(examples, lambda prompts, seed: torch.stack([e.latent for e in prompts]),
                                           tmp_path, samples_per_class=1))
