"""lumina sample with a text encoder other than the checkpoint's names the folder it loaded: it named
the recorded one, so a wrong --text-path read as "your original encoder changed"."""

from __future__ import annotations

import json
import shutil

import pytest


@pytest.fixture()
def other_fingerprint(tiny_checkpoint, tmp_path):
    ckpt = tmp_path / tiny_checkpoint.name
    shutil.copytree(tiny_checkpoint, ckpt)
    info = json.loads((ckpt / "text_encoder.json").read_text())
    info["fingerprint"] = "all-MiniLM-L6-v2@0000000000000000"  # trained on another encoder's captions
    (ckpt / "text_encoder.json").write_text(json.dumps(info))
    return ckpt, info


def test_the_folder_loaded_is_named_and_the_way_on(other_fingerprint, tmp_path):
    from evaluation.sample import SampleConfig, sample_to_files

    ckpt, info = other_fingerprint
    given = info.get("path")  # the same encoder, given as --text-path
    with pytest.raises(ValueError) as e:
        sample_to_files(SampleConfig(checkpoint=str(ckpt), prompt="digit 3", out=str(tmp_path / "s.png"), steps=1,
                                     text_path=given))
    msg = str(e.value)
    assert msg.startswith(f"the {info['name']} text encoder")
    assert "not all-MiniLM-L6-v2@0000000000000000, which the checkpoint's captions were encoded by" in msg
    assert msg.endswith("give --text-path the folder of that encoder") == bool(given)


def test_without_text_path_it_says_the_encoder_changed():
    from evaluation.sample import text_encoder_mismatch

    msg = text_encoder_mismatch({"name": "clip", "path": "/models/clip", "fingerprint": "clip@aaaa"}, None, "clip@bbbb")
    assert msg == ("the clip text encoder at /models/clip is clip@bbbb, not clip@aaaa, which the checkpoint's captions "
                   "were encoded by: the encoder changed since (its weights, or the phone encoder's inventory version)")
    moved = text_encoder_mismatch({"name": "clip", "path": "/models/clip", "fingerprint": "clip@aaaa"}, "/new/clip48", "clip@bbbb")
    assert moved.startswith("the clip text encoder at /new/clip48 is clip@bbbb") and moved.endswith("give --text-path the folder of that encoder")
