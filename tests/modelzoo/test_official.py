"""Public Lumina-T2X checkpoints: the documented mapping, both ways, against the public forward."""

from __future__ import annotations

import pytest
import torch

from modelzoo import FlagDiT, get_config
from modelzoo.convert import main as convert
from modelzoo.official import config_from_official, official_shapes

from .helpers import caption
from .official_reference import official_forward

OFFICIAL = dict(cap_dim=16, time_scale=1.0, patch_order="chw")  # the public T2I model's fields


def random_official_state(seed: int = 0, **overrides) -> dict[str, torch.Tensor]:
    """A checkpoint as the public code would save it, built from the documented names only."""
    g = torch.Generator().manual_seed(seed)
    cfg = get_config("flag-dit-tiny", **{**OFFICIAL, **overrides})
    state = {}
    for name, shape in official_shapes(cfg).items():
        base = 1.0 if name.endswith("norm.weight") else 0.0
        state[name] = torch.randn(shape, generator=g) * 0.2 + base
    return state


def inputs(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    images = [torch.randn(4, 8, 8, generator=g), torch.randn(4, 6, 10, generator=g), torch.randn(4, 4, 12, generator=g)]
    feats, mask = caption(3)
    return images, torch.rand(3, generator=g), feats, mask


@pytest.mark.parametrize("overrides", [{}, dict(qk_norm="none")])
def test_converted_model_reproduces_the_public_forward(overrides):
    state = random_official_state(**overrides)
    model = FlagDiT.from_official_state(state, config_from_official(state))
    images, t, feats, mask = inputs()
    expected = official_forward(state, images, t, feats, mask, n_heads=4)
    with torch.no_grad():
        ours = model([img[:, None] for img in images], t, cap_feats=feats, cap_mask=mask)  # mixed sizes
        ours_tensor = model(torch.stack(images[:1] * 2)[:, :, None], t[:2], cap_feats=feats[:2], cap_mask=mask[:2])
    for a, b in zip(ours, expected):
        torch.testing.assert_close(a[:, 0], b, rtol=0, atol=1e-4)
    torch.testing.assert_close(ours_tensor[0, :, 0], expected[0], rtol=0, atol=1e-4)
    # the two fields are what stands between the layouts: our defaults give other outputs
    for field in (dict(time_scale=1000.0), dict(patch_order="hwc")):
        other = FlagDiT(get_config("flag-dit-tiny", **{**OFFICIAL, **overrides, **field}, multiple_of=64)).eval()
        other.load_state_dict(model.state_dict())
        with torch.no_grad():
            moved = other([img[:, None] for img in images], t, cap_feats=feats, cap_mask=mask)
        assert max((a - b).abs().max() for a, b in zip(moved, ours)) > 1e-3, field


def test_official_round_trip_keeps_every_name_shape_and_value():
    state = random_official_state()
    cfg = config_from_official(state)
    assert (cfg.dim, cfg.n_layers, cfg.n_heads, cfg.cap_dim, cfg.in_channels) == (64, 2, 4, 16, 4)
    back = FlagDiT.from_official_state(state, cfg).official_state_dict()
    assert {k: tuple(v.shape) for k, v in back.items()} == {k: tuple(v.shape) for k, v in state.items()}
    for name, value in state.items():
        if name.startswith("final_layer.linear."):  # rows (ph, pw, 2C): the sigma half comes back as zeros
            grid = value.unflatten(0, (2, 2, 8))
            torch.testing.assert_close(back[name].unflatten(0, (2, 2, 8))[:, :, :4], grid[:, :, :4], rtol=0, atol=0)
            assert (back[name].unflatten(0, (2, 2, 8))[:, :, 4:] == 0).all()
        else:
            torch.testing.assert_close(back[name], value, rtol=0, atol=0, msg=name)


def test_our_own_models_export_in_the_public_column_order():
    """A model trained here (patch columns (ph, pw, C)) is permuted on export, and loads back equal."""
    model = FlagDiT(get_config("flag-dit-tiny", cap_dim=16, time_scale=1.0, multiple_of=64)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    state = model.official_state_dict(learn_sigma=False)
    images, t, feats, mask = inputs()
    expected = official_forward(state, images, t, feats, mask, n_heads=4, learn_sigma=False)
    with torch.no_grad():
        ours = model([img[:, None] for img in images], t, cap_feats=feats, cap_mask=mask)
    for a, b in zip(ours, expected):
        torch.testing.assert_close(a[:, 0], b, rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match="time_scale"):
        FlagDiT(get_config("flag-dit-tiny", cap_dim=16)).official_state_dict()  # trained on 1000 t


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_lumina_convert_both_ways(tmp_path, suffix, capsys):
    state = random_official_state(seed=3)
    src = tmp_path / "release"
    src.mkdir()
    if suffix == ".pth":
        torch.save({f"module.{k}": v for k, v in state.items()}, src / "consolidated.00-of-01.pth")  # DDP prefix
    else:
        from safetensors.torch import save_file

        save_file(state, str(src / "consolidated.00-of-01.safetensors"))
    assert convert([str(src), str(tmp_path / "ours")]) == 0
    assert "64" in capsys.readouterr().out
    model = FlagDiT.from_pretrained(tmp_path / "ours")
    images, t, feats, mask = inputs()
    expected = official_forward(state, images, t, feats, mask, n_heads=4)
    with torch.no_grad():
        ours = model([img[:, None] for img in images], t, cap_feats=feats, cap_mask=mask)
    for a, b in zip(ours, expected):
        torch.testing.assert_close(a[:, 0], b, rtol=0, atol=1e-4)
    assert convert([str(tmp_path / "ours"), str(tmp_path / f"back{suffix}"), "--to-official"]) == 0
    again = FlagDiT.from_official(tmp_path / f"back{suffix}")
    for name, value in model.state_dict().items():
        torch.testing.assert_close(again.state_dict()[name], value, rtol=0, atol=0, msg=name)
    assert convert([str(tmp_path / "missing"), str(tmp_path / "x")]) == 2  # a clear message, no traceback
