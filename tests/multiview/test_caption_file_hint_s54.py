"""A user's object folder with its caption in Caption.TXT, prompt.txt or <obj>.txt (2026-12-07
walkthrough) was quarantined `missing_caption: no caption beside the media`, and the text file
itself recorded `unsupported_type: (not a view image, camera file or caption)`: a caption, to its
author, and nothing said which names are read. In a sample without a caption, such a file's reason
now names them and the rename; beside a caption it keeps the plain reason."""

import io
import json
import tarfile

from preprocess.multiview.group import group_multiview
from preprocess.sources import SourceSpec, list_entries

CAMERAS = json.dumps({"convention": "spherical", "views": [
    {"file": f, "elevation": 20, "azimuth": 45 + 90 * i, "radius": 2.0} for i, f in enumerate(("000.png", "090.png"))]})


def _folder(tmp_path, text_files: dict[str, str]):
    obj = tmp_path / "obj"
    obj.mkdir()
    for n in ("000.png", "090.png"):
        (obj / n).write_bytes(b"\x89PNG")
    (obj / "cameras.json").write_text(CAMERAS)
    for name, text in text_files.items():
        (obj / name).write_text(text)
    return group_multiview(list_entries(SourceSpec(str(tmp_path))))


def test_a_text_file_in_a_sample_without_a_caption_names_the_caption_files(tmp_path):
    inputs, leftovers = _folder(tmp_path, {"Caption.TXT": "a red duck"})
    assert inputs[0].caption is None
    assert [(lo.entry.name, lo.reason_kind, lo.detail) for lo in leftovers] == [(
        "obj/Caption.TXT", "unsupported_type", "not read as a caption: a sample's caption is caption.txt or caption.json, "
        "and this sample has none: rename Caption.TXT to caption.txt")]


def test_a_json_file_is_told_the_json_name(tmp_path):
    _, leftovers = _folder(tmp_path, {"meta.json": "{}"})
    assert leftovers[0].detail.endswith("rename meta.json to caption.json")


def test_beside_a_caption_another_text_file_keeps_the_plain_reason(tmp_path):
    inputs, leftovers = _folder(tmp_path, {"caption.txt": "a red duck", "notes.txt": "rendered in blender"})
    assert inputs[0].caption is not None
    assert [(lo.entry.name, lo.detail) for lo in leftovers] == [("obj/notes.txt", "not a view image, camera file or caption")]


def test_a_tar_sample_is_told_its_own_member_names(tmp_path):
    members = {"obj1.cameras.json": CAMERAS.encode(), "obj1.000.png": b"\x89PNG", "obj1.090.png": b"\x89PNG",
               "obj1.prompt.txt": b"a red duck"}
    with tarfile.open(tmp_path / "part.tar", "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    _, leftovers = group_multiview(list_entries(SourceSpec(str(tmp_path / "part.tar"))))
    assert [lo.detail for lo in leftovers] == [
        "not read as a caption: a sample's caption is obj1.txt or obj1.json, and this sample has none: "
        "rename obj1.prompt.txt to obj1.txt"]


def test_a_nerf_split_file_is_no_caption_to_rename(tmp_path):
    """A NeRF folder read by its transforms.json keeps transforms_test.json and transforms_val.json:
    each was told 'rename transforms_test.json to caption.json'; they are camera files of other splits."""
    obj = tmp_path / "lego"
    obj.mkdir()
    frames = [{"file_path": f"./r_{i}", "transform_matrix": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 2], [0, 0, 0, 1]]}
              for i in range(2)]
    for i in range(2):
        (obj / f"r_{i}.png").write_bytes(b"\x89PNG")
    for name in ("transforms.json", "transforms_test.json", "transforms_val.json"):
        (obj / name).write_text(json.dumps({"camera_angle_x": 0.69, "frames": frames}))
    _, leftovers = group_multiview(list_entries(SourceSpec(str(tmp_path))))
    assert [lo.entry.name for lo in leftovers] == ["lego/transforms_test.json", "lego/transforms_val.json"]
    assert all(lo.detail.startswith("a NeRF transforms file: only one named transforms.json") for lo in leftovers), leftovers
