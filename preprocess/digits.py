"""scikit-learn's digits for the demo corpora (image and video), without importing scikit-learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def load_digit_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits: images [1797, 8, 8] (float64, 0-16) and labels (int64), as
    ``sklearn.datasets.load_digits`` gives them, read from the data file it reads
    (sklearn/datasets/data/digits.csv.gz) without importing scikit-learn (1.5 s CPU of imports:
    scipy.stats and more, in each process that writes the corpus); load_digits itself where that
    file is not there."""
    import gzip
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    for folder in (spec.submodule_search_locations or []) if spec else []:
        data_file = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if data_file.is_file():
            with gzip.open(data_file, "rt") as f:
                data = np.loadtxt(f, delimiter=",")
            return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int)
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target
