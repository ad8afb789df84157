"""--null-caption of another text encoder, or a file that is not one, is refused in one line naming
it. Before, another encoder's (phone [256, 215] beside MiniLM's [32, 384]) was a RuntimeError
traceback at the first step that dropped a caption ("shape mismatch: value tensor of shape
[4, 256, 215] ..."), and a text file "This file contains pickled (object) data ... allow_pickle=".
Both ran after the run was recorded; train() raises ValueError, which lumina train prints as one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.data import Example
from training.trainer import _check_null_caption, _load_null_caption


def _null(path, tokens: int, width: int):
    np.savez(path, cap_feats=np.zeros((tokens, width), np.float32), cap_mask=np.ones(tokens, bool))
    return str(path)


def _example(tokens: int = 32, width: int = 384) -> Example:
    return Example("k", torch.zeros(3, 1, 8, 8), torch.zeros(tokens, width), torch.ones(tokens, dtype=torch.bool), "a", "train")


def test_another_encoders_null_caption_is_refused_with_both_shapes(tmp_path):
    path = _null(tmp_path / "null.npz", 256, 215)
    with pytest.raises(ValueError) as e:
        _check_null_caption(_load_null_caption(path), _example(), path)
    assert str(e.value).startswith(f"--null-caption {path} holds caption features of shape [256, 215], this manifest's "
                                   "are [32, 384] (tokens, width): it is another text encoder's;")


def test_the_matching_one_passes(tmp_path):
    path = _null(tmp_path / "null.npz", 32, 384)
    _check_null_caption(_load_null_caption(path), _example(), path)


@pytest.mark.parametrize("content", [b"not an npz\n", None])
def test_a_file_that_is_not_one_is_named(tmp_path, content):
    path = tmp_path / "null.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"^--null-caption {path}: not a null caption's \.npz \(cap_feats and cap_mask"):
        _load_null_caption(str(path))
