"""`lumina sample --views 8` on a video checkpoint: refused in one line naming --frames, before any model
loads (it made 8 frames without a word); --frames 8 and multi-view's --views are untouched (helper D, session 48)."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def video_ckpt(tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")
    (ckpt / "training.json").write_text(json.dumps({"modality": "video", "latent_shape": [1, 4, 16, 16]}))
    return ckpt


def test_views_on_a_video_checkpoint_is_refused_naming_frames(video_ckpt, tmp_path, capsys):
    from flows.cli import main

    rc = main(["sample", "--home", str(tmp_path / "home"), "--checkpoint", str(video_ckpt), "--prompt", "a 3 moving left",
               "--views", "8", "--out", str(tmp_path / "clip.mp4")])
    err = capsys.readouterr().err
    assert rc != 0 and "--views is for multiview checkpoints; this one is video: give the number of frames as --frames" in err, err
    assert not (tmp_path / "clip.mp4").exists()


def test_the_command_records_which_name_gave_a_generic_flag(video_ckpt, tmp_path, monkeypatch):
    import evaluation.sample as sample
    from flows.cli import main

    got = []
    monkeypatch.setattr(sample, "sample_to_files", lambda cfg: got.append(cfg) or [])
    base = ["sample", "--home", str(tmp_path / "home"), "--checkpoint", str(video_ckpt), "--prompt", "a"]
    assert main([*base, "--views", "8"]) == 0 and got[-1].frames == 8 and got[-1].given_as == {"frames": "--views"}
    assert main([*base, "--frames", "8"]) == 0 and got[-1].frames == 8 and got[-1].given_as == {}
    # --text alone: --prompt too, with another value, is refused since 1dec229 (tests/cli/test_one_setting_two_spellings.py)
    assert main([*base[:-2], "--text", "b"]) == 0 and got[-1].prompt == "b" and got[-1].given_as == {"prompt": "--text"}
