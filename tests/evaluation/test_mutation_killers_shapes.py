"""Details of the shape reader that the scores rest on, pinned one by one (written from the
survivors of `make mutation` on evaluation/image/shapes.py and the shape part of metrics.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evaluation.image.metrics import evaluate_image
from evaluation.image.shapes import LIT, MIN_PIXELS, ShapeReader, _third, read_shape, shape_request
from preprocess.image.demo_corpus import COLOURS, _draw_shape
from .fakes import fake_context, image_example


def _blob(value: int, pixels: int) -> np.ndarray:
    img = np.zeros((32, 32, 3), np.uint8)
    img.reshape(-1, 3)[:pixels, 0] = value  # a run along the first row
    return img


def test_lit_means_brighter_than_the_threshold_and_big_enough():
    assert read_shape(_blob(LIT, 20)).present is False
    assert read_shape(_blob(LIT + 1, 20)).present is True
    assert read_shape(_blob(255, MIN_PIXELS)).present is True
    assert read_shape(_blob(255, MIN_PIXELS - 1)).present is False


def test_area_is_the_fraction_of_the_image():
    img = np.zeros((32, 32, 3), np.uint8)
    img[4:14, 6:16] = 200  # a 10 x 10 square
    r = read_shape(img)
    assert r.area == pytest.approx(100 / 1024)
    assert r.colour == (200.0, 200.0, 200.0) and r.silhouette.shape == (16, 16)


def test_thirds_split_as_the_corpus_words_them():
    # the corpus: "top" if y < h/3, "bottom" if y > 2h/3, else "middle"; on 30 pixels the borders fall on 10 and 20
    words = ("top", "middle", "bottom")
    assert [_third(v, 30, words) for v in (9.5, 10, 20, 20.5)] == ["top", "middle", "middle", "bottom"]


def test_the_references_are_per_word_means():
    rng = np.random.default_rng(4)
    drawn = [(np.asarray(img), cap) for img, cap in (_draw_shape(rng, (32, 32)) for _ in range(120))]
    reader = ShapeReader.fit([shape_request(c) for _, c in drawn], [read_shape(i) for i, _ in drawn])
    for name, rgb in COLOURS.items():
        np.testing.assert_allclose(reader.colours[name], rgb)  # one RGB triple per colour word
    assert reader.silhouettes["square"].shape == (16, 16)
    np.testing.assert_allclose(reader.silhouettes["square"], 1.0)  # a filled box fills its box
    triangle = reader.silhouettes["triangle"]  # apex up: the top corners empty, the base full
    assert triangle[0, 0] < 0.1 and triangle[0, -1] < 0.1 and triangle[-1, 8] > 0.9


def test_each_use_of_the_generator_has_its_own_seed(tmp_path):
    rng = np.random.default_rng(5)
    examples = [image_example(f"s{i}", *_draw_shape(rng, (32, 32))) for i in range(12)]
    seeds = []

    def record(prompts, seed):
        seeds.append((len(prompts), seed))
        return torch.stack([p.latent for p in prompts])

    evaluate_image(fake_context(examples, record, tmp_path, seed=10, samples_per_class=2))
    # shape prompts (2 per shape) with seed + 3, the grid with seed + 2: repeatable, and unlike each other
    assert seeds == [(6, 13), (4, 12)]  # a full grid of 4: no digit captions here
