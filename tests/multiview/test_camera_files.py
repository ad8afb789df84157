"""Camera files as users write them: a NeRF transforms.json is a camera file, a file without a
"convention" key is read by its fields (or says what was assumed and which keys it saw), angles
written in radians are refused with a reason that names the unit, and a look-at failure without a
bbox says the unit cube was assumed."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from encoders.cameras import CameraFileError, parse_cameras, spherical_of, spherical_to_c2w
from preprocess.multiview.group import group_multiview
from preprocess.multiview.plugin import MultiviewOptions, MultiviewPlugin, Rejected, load_views
from preprocess.sources import Entry, RawInput, SourceSpec, list_entries
from tests.multiview.test_view_decoding import AZIMUTHS, KEY, rendered_object

ELEVATION, RADIUS = 20.0, 2.0


def _write_views(folder: Path) -> list[str]:
    folder.mkdir(parents=True)
    names = []
    for i, az in enumerate(AZIMUTHS):
        rgb, inside = rendered_object(az)
        Image.fromarray(np.where(inside[..., None], rgb, 255).astype(np.uint8)).save(folder / f"r_{i}.png")
        names.append(f"r_{i}")
    (folder / "caption.txt").write_text("a red test object")
    return names


def _analysed(folder: Path):
    inputs, leftovers = group_multiview(list_entries(SourceSpec(str(folder))))
    return [MultiviewPlugin().analyse(i, "a red test object", KEY, MultiviewOptions())[0].record for i in inputs], leftovers


def test_a_nerf_transforms_json_is_a_camera_file(tmp_path):
    """Frames with file_path (no extension, as the NeRF synthetic scenes write it) and OpenGL
    transform_matrix: the same cameras as our c2w file, and the sample is curated."""
    nerf, native = tmp_path / "nerf", tmp_path / "native"
    frames = [{"file_path": f"./{n}", "transform_matrix": spherical_to_c2w(ELEVATION, az, RADIUS).tolist()}
              for n, az in zip(_write_views(nerf), AZIMUTHS)]
    (nerf / "transforms.json").write_text(json.dumps({"camera_angle_x": 0.69, "frames": frames}))
    views = [{"file": f["file_path"][2:] + ".png", "c2w": f["transform_matrix"]} for f in frames]
    _write_views(native)
    (native / "cameras.json").write_text(json.dumps({"convention": "c2w", "views": views}))

    (rec,), leftovers = _analysed(nerf)
    assert leftovers == [] and (rec.status, rec.reason) == ("accepted", None)
    assert rec.meta["camera_convention"] == "nerf"
    (twin,), _ = _analysed(native)
    assert rec.meta["azimuths"] == twin.meta["azimuths"] and rec.meta["elevations"] == twin.meta["elevations"]


def test_nerf_split_files_are_named_as_such_not_as_orphan_captions(tmp_path):
    folder = tmp_path / "scene"
    _write_views(folder)
    (folder / "transforms_train.json").write_text(json.dumps({"frames": []}))
    _, leftovers = _analysed(tmp_path)
    detail = {Path(lo.entry.name).name: lo.detail for lo in leftovers}
    assert "a NeRF transforms file" in detail["transforms_train.json"]
    assert "transforms.json" in detail["r_0.png"]  # a view without a camera file names both names


def test_a_camera_file_without_convention_is_read_by_its_fields():
    spherical = [{"file": f"{i}.png", "elevation": ELEVATION, "azimuth": az, "radius": RADIUS} for i, az in enumerate(AZIMUTHS)]
    cams = parse_cameras(json.dumps({"views": spherical}).encode())
    assert cams.convention == "spherical" and "inferred" in cams.convention_known
    assert spherical_of(cams.cameras[1], cams.centre)[1] == pytest.approx(AZIMUTHS[1])
    w2c = [{"file": "a.png", "w2c": np.eye(4)[:3].tolist()}]
    with pytest.raises(CameraFileError, match=r"no 'convention' key, so c2w was assumed.*keys seen: w2c"):
        parse_cameras(json.dumps({"views": w2c}).encode())


def test_angles_in_radians_are_refused_naming_the_unit_unless_the_file_says_so():
    views = [{"file": f"{i}.png", "elevation": math.radians(ELEVATION), "azimuth": math.radians(az), "radius": RADIUS}
             for i, az in enumerate(AZIMUTHS)]
    with pytest.raises(CameraFileError, match="look like radians"):
        parse_cameras(json.dumps({"convention": "spherical", "views": views}).encode())
    cams = parse_cameras(json.dumps({"convention": "spherical", "angle_unit": "radians", "views": views}).encode())
    assert [round(spherical_of(c, cams.centre)[1], 6) for c in cams.cameras] == pytest.approx(AZIMUTHS)


@pytest.mark.parametrize("bbox, says", [(None, "the unit cube at the origin was assumed"), ([[0.0, 0, 0], [0.6, 0.6, 0.6]], "off the bbox centre")])
def test_a_look_at_failure_says_which_centre_was_used(bbox, says):
    centre = np.array([0.3, 0.3, 0.3])  # the cameras aim at this point; without a bbox we expect the origin
    views = [{"file": f"{i}.png", "c2w": spherical_to_c2w(ELEVATION, az, RADIUS, centre=centre if bbox is None else (0.5, 0, 0)).tolist()}
             for i, az in enumerate(AZIMUTHS)]
    doc = json.dumps({"convention": "c2w", "views": views, **({} if bbox is None else {"bbox": bbox})}).encode()
    png = Image.new("RGB", (8, 8))
    media = {"cameras.json": Entry("o/cameras.json", "/s/o/cameras.json", len(doc), ("bytes", doc))}
    item = RawInput("o/cameras.json", "/s/o", media)
    media.update({v["file"]: Entry(f"o/{v['file']}", f"/s/o/{v['file']}", 0, ("bytes", _png(png))) for v in views})
    with pytest.raises(Rejected, match=says) as e:
        load_views(item, KEY, MultiviewOptions(), [])
    assert e.value.reason.startswith("camera_look_at:")


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_a_folder_with_both_camera_files_uses_cameras_json_and_records_the_other(tmp_path):
    folder = tmp_path / "obj"
    names = _write_views(folder)
    views = [{"file": f"{n}.png", "elevation": ELEVATION, "azimuth": az, "radius": RADIUS} for n, az in zip(names, AZIMUTHS)]
    (folder / "cameras.json").write_text(json.dumps({"convention": "spherical", "views": views}))
    (folder / "transforms.json").write_text(json.dumps({"frames": [{"file_path": "./r_0", "transform_matrix": np.eye(4).tolist()}]}))
    (rec,), leftovers = _analysed(tmp_path)
    assert rec.meta["camera_convention"] == "spherical" and rec.status == "accepted"
    assert [(Path(lo.entry.name).name, lo.detail) for lo in leftovers] == [("transforms.json", "cameras.json of the same sample is used")]


def test_a_small_ring_in_degrees_is_kept_when_the_file_says_degrees():
    views = [{"file": f"{i}.png", "elevation": 0.2, "azimuth": float(i), "radius": RADIUS} for i in range(3)]
    with pytest.raises(CameraFileError, match=r'"angle_unit": "radians" \(or "degrees" if they are\)'):
        parse_cameras(json.dumps({"convention": "spherical", "views": views}).encode())
    cams = parse_cameras(json.dumps({"convention": "spherical", "angle_unit": "degrees", "views": views}).encode())
    assert spherical_of(cams.cameras[2], cams.centre)[1] == pytest.approx(2.0)
