"""--null-caption naming a plain .npy (np.save's one array: the features alone, a plausible mistake)
is refused in the one line that names a file that is not a null caption's .npz. It loaded as one
array, which z["cap_feats"] indexed by name: an IndexError traceback ("only integers, slices ...")
from inside the run, after its folder and catalog row were made."""

from __future__ import annotations

import numpy as np
import pytest

from training.trainer import _load_null_caption


def test_a_plain_npy_is_named_as_no_null_caption(tmp_path):
    path = tmp_path / "null_caption.npy"
    np.save(path, np.zeros((32, 384), np.float32))
    with pytest.raises(ValueError, match=rf"^--null-caption {path}: not a null caption's \.npz \(cap_feats and cap_mask"):
        _load_null_caption(str(path))
