"""lumina convert on what is not a checkpoint: one line and exit 2, never a traceback; a release
folder's model_args.pth (an argparse Namespace) is not read as weights."""

import argparse

import pytest
import torch

from modelzoo.convert import main


def _bad_inputs(tmp_path):
    (tmp_path / "text.pth").write_text("I am not a checkpoint\n" * 20)
    torch.save({"encoder.weight": torch.zeros(2, 2)}, tmp_path / "other_model.pth")
    data = b"\x00" * 8
    (tmp_path / "cut.safetensors").write_bytes(data)
    torch.save({"x": torch.zeros(1000)}, tmp_path / "whole.pth")
    (tmp_path / "cut.pth").write_bytes((tmp_path / "whole.pth").read_bytes()[:300])
    return {"text.pth": "not a readable checkpoint", "other_model.pth": "is not a Lumina-T2X Flag-DiT checkpoint",
            "cut.safetensors": "not a readable checkpoint", "cut.pth": "not a readable checkpoint"}


def test_what_is_no_checkpoint_is_one_line_and_exit_2(tmp_path, capsys):
    for name, message in _bad_inputs(tmp_path).items():
        assert main([str(tmp_path / name), str(tmp_path / "out")]) == 2, name
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (name, err)


def test_model_args_beside_the_weights_is_not_read_as_weights(tmp_path, capsys):
    folder = tmp_path / "release"
    folder.mkdir()
    torch.save(argparse.Namespace(model="NextDiT_2B"), folder / "model_args.pth")
    torch.save({"encoder.weight": torch.zeros(2, 2)}, folder / "consolidated.00-of-01.pth")
    assert main([str(folder), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "is not a Lumina-T2X Flag-DiT checkpoint" in err and "Namespace" not in err and "Unpickling" not in err, err


def test_save_pretrained_writes_weights_the_umask_allows_to_read(tmp_path):
    import os
    import stat

    from modelzoo import FlagDiT, get_config

    model = FlagDiT(get_config("flag-dit-s", in_channels=4, cap_dim=8, dim=32, n_layers=1, n_heads=2, multiple_of=16))
    old = os.umask(0o022)
    try:
        model.save_pretrained(tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "model.safetensors").stat().st_mode) == 0o644


def test_an_existing_output_is_not_written_over_without_force(tmp_path, capsys):
    """Converting into a trained checkpoint's folder replaced its weights and kept its training.json,
    encoders and resume state: lumina sample then ran the foreign model as that run."""
    from modelzoo import FlagDiT, get_config

    model = FlagDiT(get_config("flag-dit-tiny", dim=32, n_layers=1, n_heads=2, cap_dim=8, time_scale=1.0))
    model.save_pretrained(tmp_path / "ours")
    official = tmp_path / "official.safetensors"
    assert main([str(tmp_path / "ours"), str(official), "--to-official"]) == 0
    assert main([str(tmp_path / "ours"), str(official), "--to-official"]) == 2
    assert "official.safetensors exists; choose another output or give --force" in capsys.readouterr().err
    run = tmp_path / "checkpoint-0000010"
    run.mkdir()
    (run / "training.json").write_text("{}")
    assert main([str(official), str(run), "--n-heads", "2"]) == 2
    assert "is not empty" in capsys.readouterr().err and not (run / "model.safetensors").exists()
    assert main([str(official), str(run), "--n-heads", "2", "--force"]) == 0
    assert main([str(official), str(tmp_path / "fresh"), "--n-heads", "2"]) == 0
    assert main([str(tmp_path / "ours"), str(official), "--to-official", "--force"]) == 0


def test_to_official_of_a_public_checkpoint_says_which_way_converts(tmp_path, capsys):
    """A public release folder given to --to-official printed a bare "[Errno 2] ... config.json"."""
    folder = tmp_path / "release"
    folder.mkdir()
    torch.save({"x": torch.zeros(1)}, folder / "consolidated.00-of-01.pth")
    assert main([str(folder), str(tmp_path / "out.pth"), "--to-official"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"lumina convert: error: {folder} is not one of our Flag-DiT model folders (no config.json): --to-official "
        "writes ours in the public layout; to read a public checkpoint, leave --to-official out"]


def test_a_time_scale_refusal_says_how_to_train_for_export(tmp_path, capsys):
    from modelzoo import FlagDiT, get_config

    model = FlagDiT(get_config("flag-dit-tiny", dim=32, n_layers=1, n_heads=2, cap_dim=8))  # time_scale 1000
    model.save_pretrained(tmp_path / "ours")
    assert main([str(tmp_path / "ours"), str(tmp_path / "out.pth"), "--to-official"]) == 2
    err = capsys.readouterr().err
    assert "time_scale=1000.0 (to export, train with --model-overrides '{\"time_scale\": 1.0}'" in err, err


def test_the_files_read_are_named_the_ema_ones_first(tmp_path, capsys):
    from tests.modelzoo.test_official import random_official_state

    folder = tmp_path / "release"
    folder.mkdir()
    state = random_official_state()
    torch.save(state, folder / "consolidated.00-of-01.pth")
    torch.save(state, folder / "consolidated_ema.00-of-01.pth")
    assert main([str(folder), str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"read {folder / 'consolidated_ema.00-of-01.pth'}"


def test_to_official_into_a_folder_not_made_yet_writes_it(tmp_path, capsys):
    """`lumina convert RUN/checkpoint-N /new/folder/x.safetensors --to-official` printed a
    SafetensorError traceback (exit 1) when the folder was not there; --to-official into a folder
    makes it, as the other direction's save_pretrained does. The summary counts "1 layer"."""
    from modelzoo import FlagDiT, get_config

    model = FlagDiT(get_config("flag-dit-tiny", dim=32, n_layers=1, n_heads=2, cap_dim=8, time_scale=1.0))
    model.save_pretrained(tmp_path / "ours")
    for name in ("x.safetensors", "x.pth"):
        out = tmp_path / "new" / name.split(".")[1] / name
        assert main([str(tmp_path / "ours"), str(out), "--to-official"]) == 0, capsys.readouterr().err
        said = capsys.readouterr().out
        assert out.is_file() and f"wrote {out}: dim 32, 1 layer, 2 heads, cap_dim 8, " in said, said
