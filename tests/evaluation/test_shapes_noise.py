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


def test_a_shape_far_larger_than_any_real_one_is_still_read_while_it_leaves_a_background():
    """The 800-step demo model draws large circles at up to 81% of the image, 1.5x the largest real
    shape (54%): a rule relative to the real shapes (1.5x) read one of them as no shape at all."""
    drawings = _drawings(60, seed=5)
    asks, readings = [shape_request(c) for _, c in drawings], [read_shape(i) for i, _ in drawings]
    reader = ShapeReader.fit(asks, readings)
    largest = max(range(len(readings)), key=lambda i: readings[i].area)
    assert reader.name(readings[largest]) == asks[largest]
    for fraction, read in ((0.85, True), (0.95, False)):
        lit = np.zeros((40, 40, 3), np.uint8)
        side = int(round(np.sqrt(fraction) * 40))
        lit[:side, :side] = (230, 200, 20)
        reading = read_shape(lit)
        assert reading.present and reading.area > 1.5 * readings[largest].area
        assert (reader.name(reading) is not None) == read, fraction
