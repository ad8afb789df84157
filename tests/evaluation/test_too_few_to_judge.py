"""A held-out manifest with one labelled example: the digit judges train on some held-out examples and
are tested on the others, so with one the judge's training batch was drawn from none ("random_
expects 'from' to be less than 'to'") and the whole evaluation failed: `lumina demo --num-digits 3`
ended there after training. Now the accuracy is left out with a note; the rest is measured."""

from __future__ import annotations

import pytest
import torch

from evaluation.judging import holdout_split, too_few_to_judge

from .fakes import fake_context
from .test_mixed_size_judges import _clip_examples, _examples


@pytest.mark.parametrize("n, fraction", [(2, 0.25), (3, 0.9), (4, 1.0), (12, 0.25)])
def test_a_split_keeps_one_example_on_each_side(n, fraction):
    test, train = holdout_split(n, fraction, torch.Generator().manual_seed(0))
    assert len(test) >= 1 and len(train) >= 1 and sorted(test.tolist() + train.tolist()) == list(range(n))


def test_one_example_cannot_be_split():
    with pytest.raises(ValueError, match="at least 2"):
        holdout_split(1, 0.25, torch.Generator())
    assert too_few_to_judge(2, "digits", "class_accuracy") is None
    assert "no class_accuracy" in too_few_to_judge(1, "digits", "class_accuracy")


def test_one_held_out_digit_is_a_note_not_a_failed_evaluation(tmp_path):
    from evaluation.image.metrics import evaluate_image

    ctx = fake_context(_examples(1), lambda prompts, seed: [e.latent for e in prompts], tmp_path, samples_per_class=2)
    metrics, renders = evaluate_image(ctx)
    assert "class_accuracy" not in metrics and renders["grid"]
    assert [n for n in ctx.notes if n.startswith("no class_accuracy") and "read 1 (at least 2;" in n]


def test_one_held_out_clip_is_a_note_not_a_failed_evaluation(tmp_path):
    from evaluation.video.metrics import evaluate_video

    ctx = fake_context(_clip_examples()[:1], lambda prompts, seed: [e.latent for e in prompts], tmp_path, samples_per_class=2)
    metrics, _ = evaluate_video(ctx)
    assert "digit_accuracy" not in metrics and "direction_accuracy" not in metrics
    assert [n for n in ctx.notes if n.startswith("no digit or direction accuracy")]
