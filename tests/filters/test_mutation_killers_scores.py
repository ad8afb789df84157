"""technical_quality's scores on images whose answers are known by construction (64 x 64, the
reference size, so no resampling): the survivors of the curation mutation run once the tests on
a corpus of every digit left its per-mutant selection (bench/mutation/REPORT.md)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from preprocess.filters.quality import _at_reference_scale, technical_quality

P, Q, U = (32, 48, 64), (44, 60, 76), (27, 43, 59)  # P and Q share a coarse (16-level) colour bin
R, T = (200, 48, 64), (32, 200, 64)  # P with another red, P with another green


def _blocks(counts: list[tuple[tuple[int, int, int], int]]) -> np.ndarray:
    pixels = np.concatenate([np.tile(np.array(c, np.uint8), (n, 1)) for c, n in counts])
    assert len(pixels) == 64 * 64
    return pixels.reshape(64, 64, 3)


def test_the_reference_size_is_not_resampled_and_keeps_the_aspect():
    img = _blocks([(P, 2048), (R, 2048)])
    grey, colour = _at_reference_scale(img)
    assert np.array_equal(colour, img.astype(np.float32))
    wide_grey, wide = _at_reference_scale(np.zeros((32, 64, 3), np.uint8))
    assert wide.shape == (64, 128, 3) and wide_grey.shape == (64, 128)  # short side to 64, aspect kept


def test_downscaling_averages_whole_pixels():
    """A 2x larger step edge shrinks by box averaging: still only black and white (no ringing)."""
    edge = np.zeros((128, 128, 3), np.uint8)
    edge[:, 64:] = 255
    _, colour = _at_reference_scale(edge)
    assert set(np.unique(colour)) == {0.0, 255.0}


def test_solid_fraction_counts_pixels_within_8_levels_of_the_dominant_colour():
    # P (1600) and Q (800) make the dominant bin, mean (36, 52, 68): Q is exactly 8 away, U 9 away
    img = _blocks([(P, 1600), (Q, 800), (R, 600), (T, 600), (U, 496)])
    assert technical_quality(img)["solid_fraction"] == pytest.approx(2400 / 4096)


def test_colourfulness_is_hasler_and_suesstrunk_on_the_0_to_255_scale():
    img = _blocks([(P, 1600), (R, 1000), (T, 1496)])
    c = img.reshape(-1, 3).astype(np.float64)
    rg, yb = c[:, 0] - c[:, 1], 0.5 * (c[:, 0] + c[:, 1]) - c[:, 2]
    expected = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    assert technical_quality(img)["colourfulness"] == pytest.approx(expected, rel=1e-5)


def test_a_greyscale_array_scores_as_its_rgb_copy():
    g = np.random.default_rng(0).integers(0, 256, (40, 52), dtype=np.uint8)
    assert technical_quality(g) == pytest.approx(technical_quality(np.repeat(g[..., None], 3, -1)))


def test_clipping_thresholds_brightness_and_sharpness_on_known_levels():
    levels = np.repeat(np.array([250, 5, 6, 249], np.uint8), 1024).reshape(64, 64)  # a quarter each
    scores = technical_quality(levels)
    assert scores["highlight_clip"] == 0.25  # luma >= 250 / 255
    assert scores["shadow_clip"] == 0.25  # luma <= 5 / 255
    assert scores["brightness"] == pytest.approx((250 + 5 + 6 + 249) / 4 / 255, rel=1e-6)
    assert technical_quality(np.full((8, 8), 255, np.uint8))["brightness"] == pytest.approx(1.0)
    grey = levels.astype(np.float32) / 255.0
    assert scores["sharpness"] == pytest.approx(ndimage.laplace(grey, mode="reflect").var() * 1000.0, rel=1e-5)


def test_far_apart_colours_never_share_a_coarse_bin():
    # (16, 0, 0) and (0, 240, 16) differ by one red step and fifteen green steps plus one blue step
    img = _blocks([((16, 0, 0), 2458), ((0, 240, 16), 1638)])
    assert technical_quality(img)["solid_fraction"] == pytest.approx(2458 / 4096)
