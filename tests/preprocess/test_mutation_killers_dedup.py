"""Near-duplicate signatures that mutmut showed no test pinned (bench/mutation/REPORT.md)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from preprocess.image.dedup import PHASH_BITS, colour_distance, colour_signature, perceptual_hash


def test_phash_fits_the_banded_search():
    # 16 bands of 16 bits: a longer hash would leave bits no band looks at
    rng = np.random.default_rng(0)
    hashes = [perceptual_hash(Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8))) for _ in range(8)]
    assert max(h.bit_length() for h in hashes) == PHASH_BITS == 256


def test_colour_distance_of_a_darker_copy_is_the_brightness_step():
    base = np.full((32, 32, 3), 40, dtype=np.uint8)
    darker, brighter = Image.fromarray(base), Image.fromarray(base + 25)
    assert colour_distance(colour_signature(darker), colour_signature(brighter)) == 25.0  # no uint8 wrap-around
    assert colour_distance(colour_signature(brighter), colour_signature(darker)) == 25.0


def test_colour_signature_is_the_mean_colour_of_each_cell():
    img = np.zeros((16, 16, 3), dtype=np.uint8)
    img[5, 6] = (255, 128, 0)  # one pixel in cell (1, 1) of the 4x4 grid
    sig = colour_signature(Image.fromarray(img)).reshape(4, 4, 3)
    np.testing.assert_allclose(sig[1, 1], np.array([255, 128, 0]) / 16, atol=0.51)
    assert (np.delete(sig.reshape(16, 3), 5, axis=0) == 0).all()  # the other cells see nothing of it


def test_greyscale_images_get_an_rgb_signature():
    sig = colour_signature(Image.fromarray(np.full((8, 8), 200, dtype=np.uint8), mode="L"))
    assert sig.shape == (16, 3) and (sig == 200).all()
