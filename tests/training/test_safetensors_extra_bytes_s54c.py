"""A .safetensors file longer than its header describes is said to have bytes after its data, not to
be cut short, wherever a safetensors file is read: the checkpoint check (lumina sample, evaluate,
--init-from, --resume), a resume's state, `--weights raw` and `lumina convert`. safetensors' own error
is the same line for both ('incomplete metadata, file not fully covered')."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from evaluation.evaluate import raw_weights
from modelzoo.official import load_official_state
from training.state import STATE_TENSORS, DamagedCheckpoint, check_weights, load_tensors, safetensors_problem

EXTRA = "3 extra bytes after its data: "


def _longer(path) -> int:
    """``path`` with 3 bytes appended; the size its header describes."""
    size = path.stat().st_size
    with open(path, "ab") as f:
        f.write(b"abc")
    return size


def _checkpoint(tmp_path):
    from modelzoo import FlagDiT, get_config

    ckpt = tmp_path / "checkpoint-0000002"
    FlagDiT(get_config("flag-dit-tiny", dim=32, n_layers=1, n_heads=2, cap_dim=8)).save_pretrained(ckpt)
    save_file({"model.w": torch.ones(2)}, str(ckpt / STATE_TENSORS))
    return ckpt


def test_the_header_check_says_extra_bytes_and_a_cut_file_stays_cut_short(tmp_path):
    path = tmp_path / "a.safetensors"
    save_file({"x": torch.ones(3)}, str(path))
    described = _longer(path)
    assert safetensors_problem(path) == (f"{EXTRA}{described + 3} bytes where its header describes {described} "
                                         "(appended to, or written over a longer file?)")
    path.write_bytes(path.read_bytes()[:described - 1])
    assert safetensors_problem(path).startswith("cut short: ")


def test_a_checkpoint_with_bytes_after_its_weights_is_refused_naming_them(tmp_path):
    ckpt = _checkpoint(tmp_path)
    _longer(ckpt / "model.safetensors")
    with pytest.raises(DamagedCheckpoint) as e:
        check_weights(ckpt, flag="--checkpoint")
    assert f"{ckpt / 'model.safetensors'}: {EXTRA}" in str(e.value) and "cut short" not in str(e.value)


def test_the_state_and_raw_weights_that_do_not_load_say_what_is_wrong(tmp_path):
    ckpt = _checkpoint(tmp_path)
    _longer(ckpt / STATE_TENSORS)
    with pytest.raises(DamagedCheckpoint, match=f"^{ckpt / STATE_TENSORS} does not load \\({EXTRA}"):
        load_tensors(ckpt / STATE_TENSORS)
    with pytest.raises(ValueError, match=f"^--weights raw: {ckpt / STATE_TENSORS} does not load \\({EXTRA}"):
        raw_weights(ckpt)


def test_convert_of_a_safetensors_file_with_bytes_after_its_data_says_so(tmp_path):
    path = tmp_path / "release.safetensors"
    save_file({"x_embedder.weight": torch.zeros(2, 2)}, str(path))
    _longer(path)
    with pytest.raises(ValueError, match=f"^{path} is not a readable checkpoint \\({EXTRA}"):
        load_official_state(path)


def test_an_error_without_a_message_is_named_once(tmp_path):
    """A load that failed with a message-less error on a sound file said 'ValueError: ValueError'."""
    import torch
    from safetensors.torch import save_file

    from modelzoo.weights_file import load_failure

    sound = tmp_path / "model.safetensors"
    save_file({"w": torch.zeros(2)}, str(sound))
    assert load_failure(sound, ValueError("")) == "ValueError"
    assert load_failure(sound, ValueError("bad dtype\ndetails")) == "ValueError: bad dtype"
