"""--init-from does not warn that --model-overrides "are not used" when they describe the checkpoint's
model with patch_size written as a pair ([2, 2] for 2): a stage-2 train.yaml that did so was told
"(patch_size [2, 2]; the checkpoint's: patch_size 2) are not used". Another patch is still named."""

from __future__ import annotations

from modelzoo import get_config
from training.trainer import TrainConfig, _asked_model_differs

ARCH = {"dim": 32, "n_layers": 1, "n_heads": 2}


def _saved(patch):
    return get_config("flag-dit-tiny", in_channels=3, cap_dim=384, patch_size=patch, **ARCH)


def test_the_same_patch_written_as_a_pair_or_an_int_is_the_same_model():
    assert _asked_model_differs(TrainConfig(model_overrides={**ARCH, "patch_size": [2, 2]}), _saved(2)) == ""
    assert _asked_model_differs(TrainConfig(model_overrides={**ARCH, "patch_size": 2}), _saved((2, 2))) == ""


def test_another_patch_is_named():
    assert (_asked_model_differs(TrainConfig(model_overrides={**ARCH, "patch_size": [1, 2]}), _saved(2))
            == "patch_size [1, 2]; the checkpoint's: patch_size [2, 2]")
