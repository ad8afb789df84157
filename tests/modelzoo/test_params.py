"""Sizes against the reference code's parameter counts (built on the meta device: no memory)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from modelzoo import CONFIGS, FlagDiT, FlagDiTConfig, get_config


@pytest.mark.parametrize("name,overrides,reference", [
    ("flag-dit-600m", dict(num_classes=1000), 0.610e9),
    ("flag-dit-7b", dict(num_classes=1000), 7.294e9),
    ("flag-dit-5b", dict(cap_dim=4096, patch_size=2, in_channels=4), 5.047e9),
])
def test_parameter_count_matches_reference(name, overrides, reference):
    with torch.device("meta"):
        model = FlagDiT(get_config(name, **overrides))
    assert abs(model.parameter_count() - reference) / reference < 0.01


def test_text_conditioning_adds_text_kv_gates_and_norms():
    with torch.device("meta"):
        cls = FlagDiT(get_config("flag-dit-600m", num_classes=1000)).parameter_count()
        txt = FlagDiT(get_config("flag-dit-600m", cap_dim=4096)).parameter_count()
    cfg = get_config("flag-dit-600m")
    per_layer = 2 * 4096 * cfg.dim + 2 * cfg.dim + cfg.n_heads + 4096  # k/v, ky LayerNorm, gates, RMSNorm
    embed = (4096 * 2 + 4096 * cfg.adaln_dim + cfg.adaln_dim) - 1001 * cfg.adaln_dim  # cap_embedder - labels
    assert txt - cls == cfg.n_layers * per_layer + embed


def test_registry_and_overrides():
    assert set(CONFIGS) == {"flag-dit-tiny", "flag-dit-s", "flag-dit-b", "flag-dit-600m", "flag-dit-2b",
                            "flag-dit-5b", "flag-dit-7b"}
    assert (get_config("flag-dit-s").dim, get_config("flag-dit-s").n_layers, get_config("flag-dit-s").n_heads) == (384, 12, 6)
    assert (get_config("flag-dit-b").dim, get_config("flag-dit-b").n_heads) == (768, 12)
    assert (get_config("flag-dit-2b").dim, get_config("flag-dit-2b").n_layers) == (2304, 24)
    cfg = get_config("flag-dit-600m", cap_dim=4096, rope="axial")
    assert cfg.cap_dim == 4096 and cfg.rope.value == "axial"
    assert CONFIGS["flag-dit-600m"].cap_dim == 0  # overrides never leak into the registry
    assert get_config("flag-dit-600m").ffn_hidden == 4096 and get_config("flag-dit-5b").ffn_hidden == 8192
    with pytest.raises(TypeError):
        get_config("flag-dit-s", capdim=5)
    with pytest.raises(KeyError):
        get_config("flag-dit-3b")
    with pytest.raises(ValueError):
        get_config("flag-dit-s", qk_norm="layer")
    d = get_config("flag-dit-tiny", axial_dims=(4, 6, 6), rope="axial").to_dict()
    assert FlagDiTConfig.from_dict(d) == get_config("flag-dit-tiny", axial_dims=(4, 6, 6), rope="axial")
    assert all(dataclasses.is_dataclass(c) for c in CONFIGS.values())
