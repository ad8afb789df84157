"""The shape scores of the image evaluation: the reader on real drawings, and evaluate_image against
generators whose answers we know."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evaluation.image.metrics import evaluate_image
from evaluation.image.shapes import ShapeAsk, ShapeReader, named_out_of_fold, read_shape, score, shape_request
from preprocess.image.demo_corpus import _draw_shape
from .fakes import fake_context, image_example


def _drawings(n: int, seed: int) -> list[tuple[np.ndarray, str]]:
    rng = np.random.default_rng(seed)
    return [(np.asarray(img), cap) for img, cap in (_draw_shape(rng, (32, 32)) for _ in range(n))]


def test_shape_request_reads_the_corpus_captions():
    assert shape_request("a small green triangle on a black background, at the top left") == \
        ShapeAsk("small", "green", "triangle", "top left")
    assert shape_request("a large white square on a black background, in the centre") == \
        ShapeAsk("large", "white", "square", "middle centre")
    assert shape_request("a handwritten digit 3 (three), thin strokes") is None
    assert shape_request("") is None


def test_the_reader_names_every_attribute_of_real_drawings():
    fit_on, read = _drawings(150, seed=1), _drawings(150, seed=2)
    reader = ShapeReader.fit([shape_request(c) for _, c in fit_on], [read_shape(i) for i, _ in fit_on])
    asks = [shape_request(c) for _, c in read]
    got = score(asks, [reader.name(read_shape(i)) for i, _ in read])
    assert got == {"shape": 1.0, "colour": 1.0, "size": 1.0, "place": 1.0, "all": 1.0, "present": 1.0}
    # all three shapes, six colours and both sizes were among them: the score is not one class's
    assert {a.shape for a in asks} == {"circle", "square", "triangle"} and len({a.colour for a in asks}) == 6


def test_the_reader_is_scored_on_images_it_was_not_fitted_on():
    drawings = _drawings(150, seed=4)
    asks, readings = [shape_request(c) for _, c in drawings], [read_shape(i) for i, _ in drawings]
    assert score(asks, named_out_of_fold(asks, readings))["all"] == 1.0
    # a colour drawn once: a reader fitted on the other fold never saw it, so it cannot name it
    only = next(i for i, a in enumerate(asks) if a.colour == "red")
    kept = [i for i, a in enumerate(asks) if a.colour != "red" or i == only]  # the other red drawings left out
    rare, readings = [asks[i] for i in kept], [readings[i] for i in kept]
    odd = kept.index(only)
    assert ShapeReader.fit(rare, readings).name(readings[odd]).colour == "red"  # in-sample: it would
    assert named_out_of_fold(rare, readings)[odd].colour != "red"


def test_the_reader_accuracy_is_two_fold_by_alternate_images():
    """A colour drawn only at positions 0 and 2 (both in the first half of a 2-fold split by
    alternate images) is never seen by the reader that names them."""
    drawings = _drawings(150, seed=4)
    asks, readings = [shape_request(c) for _, c in drawings], [read_shape(i) for i, _ in drawings]
    red = [i for i, a in enumerate(asks) if a.colour == "red"][:2]
    rest = [i for i, a in enumerate(asks) if a.colour != "red"]
    order = [red[0], rest[0], red[1], *rest[1:]]
    named = named_out_of_fold([asks[i] for i in order], [readings[i] for i in order])
    assert named[0].colour != "red" and named[2].colour != "red"
    assert score([asks[i] for i in order[3:]], named[3:])["colour"] == 1.0  # the others are read right


def test_a_blank_or_speckled_image_shows_no_shape():
    blank = np.zeros((32, 32, 3), np.uint8)
    assert read_shape(blank).present is False
    speckle = blank.copy()
    speckle[5, 5] = speckle[20, 9] = 255  # two lone pixels: noise, not a drawing
    assert read_shape(speckle).present is False


def _evaluate(examples, generate, tmp_path):
    metrics, _ = evaluate_image(fake_context(examples, generate, tmp_path, samples_per_class=6))
    return metrics


@pytest.fixture(scope="module")
def examples():
    return [image_example(f"s{i:04d}", img, cap) for i, (img, cap) in enumerate(_drawings(90, seed=3))]


def test_shape_scores_follow_what_the_generator_draws(examples, tmp_path):
    def faithful_but_no_triangles(prompts, seed):
        return torch.stack([-torch.ones_like(p.latent) if "triangle" in p.caption else p.latent for p in prompts])

    m = _evaluate(examples, faithful_but_no_triangles, tmp_path)
    assert m["num_shape_prompts"] == 18 and m["shape_reader_accuracy"] == 1.0
    for name in ("shape_accuracy", "shape_colour_accuracy", "shape_size_accuracy", "shape_place_accuracy",
                 "shape_all_accuracy", "shape_present_fraction"):
        assert m[name] == pytest.approx(2 / 3), name


def test_the_colour_score_catches_a_wrong_colour(examples, tmp_path):
    def same_shape_other_colour(prompts, seed):
        out = []
        for p in prompts:
            ask = shape_request(p.caption)
            other = next(e for e in examples if (a := shape_request(e.caption)).shape == ask.shape and a.colour != ask.colour)
            out.append(other.latent)
        return torch.stack(out)

    m = _evaluate(examples, same_shape_other_colour, tmp_path)
    assert m["shape_accuracy"] == 1.0 and m["shape_present_fraction"] == 1.0
    assert m["shape_colour_accuracy"] == 0.0 and m["shape_all_accuracy"] == 0.0


def test_captions_without_shapes_get_no_shape_scores(tmp_path):
    digitless = [image_example("k0", np.zeros((32, 32, 3), np.uint8), "a photo of a cat")]
    m = _evaluate(digitless, lambda prompts, seed: torch.stack([p.latent for p in prompts]), tmp_path)
    assert not any(k.startswith("shape") for k in m)


def test_no_shape_scores_when_the_real_shapes_decode_to_nothing_lit(examples, tmp_path):
    # a decoder whose output is all dark leaves the reader no yardstick: no scores, and no crash
    dark = [image_example(e.key, np.zeros((32, 32, 3), np.uint8), e.caption) for e in examples[:6]]
    m = _evaluate(dark, lambda prompts, seed: torch.stack([p.latent for p in prompts]), tmp_path)
    assert not any(k.startswith("shape") for k in m)
