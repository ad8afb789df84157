"""A folder curated as the wrong modality: every file was rejected as unsupported_type, exit 0,
with no hint of which modality would take them."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("asked, files, hint", [("video", ["a.wav", "b.wav", "c.flac"], "speech"),
                                                ("speech", ["a.png", "b.jpg"], "image"),
                                                ("image", ["a.mp4", "b.webm"], "video"),
                                                ("image", ["a.xyz"], None)])
def test_curating_as_another_modality_says_which_one_takes_the_files(tmp_path, caplog, asked, files, hint):
    from flows.steps import curate_step
    from preprocess.curate import CurateConfig

    src = tmp_path / "src"
    src.mkdir()
    for name in files:
        (src / name).write_bytes(b"not read: the suffix decides")
        (src / name).with_suffix(".txt").write_text("a caption")
    with caplog.at_level("WARNING", logger="flows.steps"):
        out = curate_step(str(src), str(tmp_path / "home"), CurateConfig(modality=asked), backend="local")
    assert not out["counts"].get("accepted")
    said = f"curate with --modality {hint}"
    assert (said in caplog.text) == (hint is not None), caplog.text
    if hint:
        assert f"no {asked} input was accepted, and {len(files)} files were refused as unsupported_type that {hint} takes" in caplog.text
