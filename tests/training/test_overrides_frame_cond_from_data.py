"""--model-overrides frame_cond_dim is refused before any run, as cap_dim and in_channels are: the
width comes from the manifest's per-frame conditioning. On an image manifest it was recorded as a
run and failed at step 1 with "this model has frame_cond_dim > 0: pass frame_cond [B, T,
frame_cond_dim]"."""

from __future__ import annotations

import pytest

from training.config import TrainConfig


def test_frame_cond_dim_is_refused_saying_where_it_comes_from():
    with pytest.raises(ValueError) as e:
        TrainConfig(manifest="m", model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "frame_cond_dim": 5})
    assert str(e.value) == ("model_overrides cannot set frame_cond_dim: frame_cond_dim comes from the manifest's per-frame "
                            "conditioning (its width; none where the samples have no per-frame conditioning)")
