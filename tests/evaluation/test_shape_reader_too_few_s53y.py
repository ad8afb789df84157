"""A held-out manifest with one shape caption: the shape reader's own accuracy reads each real shape
by a reader fitted on the others, so one shape was read by none and `lumina evaluate` logged
shape_reader_accuracy 0.0 (and shape_* accuracies of a reader that knew one word of each kind) as
measurements. Found with `lumina catalog manifest create m-one --where "key = '...'"` and
`lumina evaluate --manifest m-one` on a demo checkpoint. Now they are left out with a note, as the
digit judge's class_accuracy is; two shapes are scored as before."""

from __future__ import annotations

import numpy as np

from .fakes import fake_context, image_example

CAPTION = "a large red {} on a black background, in the centre"


def _shape(kind: str) -> np.ndarray:
    img = np.zeros((32, 32, 3), np.uint8)
    if kind == "square":
        img[8:24, 8:24, 0] = 255
    else:  # circle
        yy, xx = np.mgrid[:32, :32]
        img[(yy - 15.5) ** 2 + (xx - 15.5) ** 2 < 64, 0] = 255
    return img


def _evaluate(kinds, tmp_path):
    from evaluation.image.metrics import evaluate_image

    examples = [image_example(f"k{i}", _shape(k), CAPTION.format(k)) for i, k in enumerate(kinds)]
    ctx = fake_context(examples, lambda prompts, seed: [e.latent for e in prompts], tmp_path, samples_per_class=1)
    metrics, renders = evaluate_image(ctx)
    return metrics, renders, ctx.notes


def test_one_held_out_shape_is_a_note_not_a_reader_accuracy_of_zero(tmp_path):
    metrics, renders, notes = _evaluate(["circle"], tmp_path)
    assert not [k for k in metrics if k.startswith("shape_")], metrics
    assert renders["grid"]
    assert [n for n in notes if n.startswith("no shape_* accuracies") and "read 1 (at least 2;" in n], notes
    assert not [n for n in notes if "none of the 1 does" in n], notes  # it does name a shape


def test_two_held_out_shapes_are_scored(tmp_path):
    metrics, _, notes = _evaluate(["circle", "square"], tmp_path)
    assert "shape_reader_accuracy" in metrics and metrics["num_shape_prompts"] == 2.0
    assert not [n for n in notes if n.startswith("no ")], notes
