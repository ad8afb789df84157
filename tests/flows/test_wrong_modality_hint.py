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


def test_multiview_objects_curated_as_images_get_the_hint(tmp_path, caplog):
    """Forgetting --modality multiview: 0 accepted, every view missing_caption, exit 0 and no word,
    though every object folder held its cameras.json."""
    from flows.steps import curate_step
    from preprocess.curate import CurateConfig
    from PIL import Image

    src = tmp_path / "objects"
    for obj in ("duck", "mug", "cube"):
        (src / obj).mkdir(parents=True)
        for v in range(4):
            Image.new("RGB", (16, 16), (40 * v, 90, 200)).save(src / obj / f"view_{v:02d}.png")
        (src / obj / "cameras.json").write_text('{"convention": "spherical", "views": []}')
        (src / obj / "caption.txt").write_text(f"a blue {obj}")
    with caplog.at_level("WARNING", logger="flows.steps"):
        out = curate_step(str(src), str(tmp_path / "home"), CurateConfig(modality="image"), backend="local")
    assert not out["counts"].get("accepted")
    assert "folders hold cameras.json or transforms.json, which make them multiview inputs: curate with --modality multiview" in caplog.text


def test_the_hint_lists_only_the_suffixes_the_other_modality_takes(tmp_path, caplog):
    """PNGs curated as speech beside a notes.csv: the hint said image takes '.png x2, .csv x1'."""
    from flows.steps import curate_step
    from preprocess.curate import CurateConfig

    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.png", "b.png", "notes.csv"):
        (src / name).write_bytes(b"not read: the suffix decides")
    with caplog.at_level("WARNING", logger="flows.steps"):
        curate_step(str(src), str(tmp_path / "home"), CurateConfig(modality="speech"), backend="local")
    assert "2 files were refused as unsupported_type that image takes (.png x2): curate with --modality image" in caplog.text
