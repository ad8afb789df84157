"""An early checkpoint's samples are noise: nearly every pixel lit, one region over the whole image.
The shape reader read each as a large shape in the middle centre: shape_present_fraction 1.0 and
shape_place_accuracy the share of captions asking for the centre (0.5 on the smoke demo's pure-noise
grid), beside a reader accuracy of 0.97 that said nothing was amiss. A lit region far larger than
any real shape is no shape on a black background: not present."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evaluation.image.metrics import evaluate_image
from evaluation.image.shapes import ShapeReader, read_shape, shape_request

from .fakes import fake_context, image_example
from .test_shapes import _drawings


@pytest.fixture(scope="module")
def examples():
    return [image_example(f"s{i:04d}", img, cap) for i, (img, cap) in enumerate(_drawings(60, seed=3))]


def test_noise_shows_no_shape_and_scores_nothing(examples, tmp_path):
    rng = np.random.default_rng(0)

    def noise(prompts, seed):
        return torch.from_numpy(rng.uniform(-1, 1, (len(prompts), *prompts[0].latent.shape)).astype(np.float32))

    m, _ = evaluate_image(fake_context(examples, noise, tmp_path, samples_per_class=6))
    assert m["shape_reader_accuracy"] == 1.0  # the real shapes are still read
    assert m["shape_present_fraction"] == 0.0
    assert (m["shape_accuracy"], m["shape_size_accuracy"], m["shape_place_accuracy"], m["shape_all_accuracy"]) == (0, 0, 0, 0)


def test_the_largest_real_shape_and_a_bit_more_is_still_read():
    drawings = _drawings(60, seed=5)
    asks, readings = [shape_request(c) for _, c in drawings], [read_shape(i) for i, _ in drawings]
    reader = ShapeReader.fit(asks, readings)
    largest = max(range(len(readings)), key=lambda i: readings[i].area)
    assert reader.max_area == readings[largest].area and reader.name(readings[largest]) == asks[largest]
    lit = np.zeros((32, 32, 3), np.uint8)
    side = int(np.sqrt(1.4 * reader.max_area) * 32)  # a square 1.4x the largest real area: still a shape
    lit[:side, :side] = 255
    assert read_shape(lit).present and reader.name(read_shape(lit)) is not None
