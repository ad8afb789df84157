"""The image and video demo corpora read scikit-learn's digits from its data file instead of importing
scikit-learn (1.5 s CPU of imports in every process that writes the corpus: `lumina demo`'s first
run, each test worker): the same arrays, and no sklearn module loaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def test_the_digits_are_load_digits_own():
    from sklearn.datasets import load_digits

    from preprocess.digits import load_digit_images

    images, labels = load_digit_images()
    digits = load_digits()
    assert images.dtype == digits.images.dtype and labels.dtype == digits.target.dtype
    assert np.array_equal(images, digits.images) and np.array_equal(labels, digits.target)


@pytest.mark.parametrize("modality, arguments, count", [("image", "num_digits=3, num_shapes=1", "num_digits"),
                                                        ("video", "num_clips=3", "num_clips")])
def test_writing_the_corpus_imports_no_sklearn(tmp_path, modality, arguments, count):
    code = (f"import sys; from preprocess.{modality}.demo_corpus import write_demo_corpus; "
            f"c = write_demo_corpus(sys.argv[1], {arguments}); "
            f"assert c.{count} == 3, c; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "corpus")], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "[]", r.stdout
