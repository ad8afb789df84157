"""Tests written from mutmut survivors of camera-file parsing in encoders/cameras.py (bench/mutation/modules.toml,
module cameras): each pins a camera file read right (cameras, intrinsics, bbox, how its convention was known),
or refused with its reason."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from encoders.cameras import CameraFileError, parse_cameras, spherical_of, spherical_to_c2w
from preprocess.multiview.group import VIEW_SUFFIXES

C2W = spherical_to_c2w(20.0, 45.0, 2.0)


def _parse(doc, suffixes: tuple[str, ...] = VIEW_SUFFIXES):
    return parse_cameras(json.dumps(doc).encode(), suffixes)


def _refusal(doc, suffixes: tuple[str, ...] = VIEW_SUFFIXES) -> str:
    with pytest.raises(CameraFileError) as e:
        _parse(doc, suffixes)
    return str(e.value)


def _frame(path, **more):
    return {"file_path": path, "transform_matrix": C2W.tolist(), **more}


# ---------------------------------------------------------------- NeRF transforms.json


def test_nerf_intrinsics_come_from_the_file_and_a_frame_overrides_them():
    doc = {"fl_x": 500.0, "fl_y": 510.0, "cx": 320.0, "cy": 240.0, "w": 640, "camera_angle_x": 0.9,
           "frames": [_frame("./r_0"), _frame("./r_1", fl_x=600.0, fl_y=610.0, cx=300.0, cy=200.0)]}
    cams = _parse(doc)
    assert [(c.file, c.fx, c.fy, c.cx, c.cy) for c in cams.cameras] == [
        ("r_0.png", 500.0, 510.0, 320.0, 240.0), ("r_1.png", 600.0, 610.0, 300.0, 200.0)]
    assert (cams.convention, cams.convention_known) == ("nerf", "read as a NeRF transforms.json")
    assert np.array_equal(cams.cameras[0].c2w, C2W)


def test_nerf_camera_angle_x_with_the_image_width_gives_both_focal_lengths():
    """The NeRF synthetic scenes: camera_angle_x (radians) and, as instant-ngp adds, w; fx = w / 2 / tan(angle / 2)."""
    doc = {"camera_angle_x": 0.6911112070083618, "w": 800, "frames": [_frame("./r_0"), _frame("./r_1", w=400)]}
    cams = _parse(doc).cameras
    assert cams[0].fx == pytest.approx(400 / math.tan(0.3455556035041809)) and cams[0].fx == pytest.approx(1111.111, abs=1e-3)
    assert cams[1].fx == pytest.approx(200 / math.tan(0.3455556035041809))
    assert [(c.fy, c.cx, c.cy) for c in cams] == [(cams[0].fx, None, None), (cams[1].fx, None, None)]
    no_width = _parse({"camera_angle_x": 0.69, "frames": [_frame("./r_0")]}).cameras[0]
    no_angle = _parse({"w": 800, "frames": [_frame("./r_0")]}).cameras[0]
    assert (no_width.fx, no_width.fy, no_angle.fx, no_angle.fy) == (None, None, None, None)  # the default field of view


def test_a_nerf_file_may_give_the_bbox():
    cams = _parse({"bbox": [[0, 0, 0], [1, 2, 3]], "frames": [_frame("./r_0")]})
    assert cams.bbox_given and cams.bbox.tolist() == [[0, 0, 0], [1, 2, 3]] and cams.centre.tolist() == [0.5, 1.0, 1.5]
    assert not _parse({"frames": [_frame("./r_0")]}).bbox_given


@pytest.mark.parametrize("path, name", [("./r_0", "r_0.png"), ("r_0", "r_0.png"), ("./r_0.png", "r_0.png"),
                                        ("./R_0.PNG", "R_0.PNG"), ("r_0.jpg", "r_0.jpg"), ("./r_0.depth", "r_0.depth.png")])
def test_a_nerf_file_path_becomes_the_view_name_beside_it(path, name):
    assert _parse({"frames": [_frame(path)]}).cameras[0].file == name


def test_without_view_suffixes_a_nerf_file_path_is_kept_as_written():
    assert _parse({"frames": [_frame("./r_0")]}, ()).cameras[0].file == "r_0"


@pytest.mark.parametrize("frame", [{"transform_matrix": C2W.tolist()}, _frame(5), _frame(None), _frame("")])
def test_a_nerf_frame_without_a_file_path_is_refused(frame):
    assert _refusal({"frames": [frame]}) == "view 0 has no 'file' name"


def test_nerf_views_in_a_subfolder_are_told_to_sit_beside_transforms_json():
    """The NeRF synthetic scenes keep views in train/ (file_path './train/r_0')."""
    assert _refusal({"frames": [_frame("./train/r_0")]}) == (
        "view 0's file 'train/r_0.png' is not a plain name: views sit beside transforms.json, not in a subfolder")


# ---------------------------------------------------------------- the document and its convention


def test_a_file_with_views_is_ours_even_if_it_also_has_frames():
    doc = {"convention": "c2w", "views": [{"file": "a.png", "c2w": C2W.tolist()}], "frames": [_frame("./b")]}
    cams = _parse(doc)
    assert cams.convention == "c2w" and [c.file for c in cams.cameras] == ["a.png"]


@pytest.mark.parametrize("doc, says", [([1, 2], "no 'views' list"), ("views", "no 'views' list"),
                                       ({"views": "a.png"}, "'views' is a string; it must be a list of views, each an object "
                                                            "with its \"file\" and camera"),
                                       ({"views": {"a.png": {}}}, "'views' is an object; it must be a list of views, each an "
                                                                  "object with its \"file\" and camera"),
                                       ({"views": None}, "'views' is null; it must be a list of views, each an object "
                                                         "with its \"file\" and camera"),
                                       ({"views": [], "bbox": None}, "the 'views' list is empty")])
def test_a_file_without_a_views_list_says_so(doc, says):
    assert _refusal(doc) == says


def test_how_the_convention_was_known_is_said_exactly():
    spherical = [{"file": f"{i}.png", "elevation": 20.0, "azimuth": 90.0 * i, "radius": 2.0} for i in range(3)]
    c2w = [{"file": f"{i}.png", "c2w": spherical_to_c2w(20.0, 90.0 * i, 2.0).tolist()} for i in range(3)]
    known = [(s.convention, s.convention_known) for s in (_parse({"convention": "c2w", "views": c2w}), _parse({"views": c2w}),
                                                          _parse({"views": spherical}), _parse({"convention": "spherical", "views": spherical}))]
    assert known == [("c2w", "given"), ("c2w", "assumed"), ("spherical", "inferred from elevation/azimuth/radius"),
                     ("spherical", "given")]


def test_views_with_spherical_fields_and_a_c2w_are_read_by_their_c2w():
    views = [{"file": f"{i}.png", "elevation": 20.0, "azimuth": 90.0, "radius": 2.0, "c2w": spherical_to_c2w(20.0, 45.0 + i, 2.0).tolist()}
             for i in range(2)]
    cams = _parse({"views": views})
    assert (cams.convention, cams.convention_known) == ("c2w", "assumed")
    assert spherical_of(cams.cameras[1], cams.centre)[1] == pytest.approx(46.0)


# ---------------------------------------------------------------- views, matrices, bbox


@pytest.mark.parametrize("view", ["a.png", {"file": 5, "c2w": C2W.tolist()}, {"file": ["a.png"], "c2w": C2W.tolist()}])
def test_a_view_without_a_file_name_string_is_refused(view):
    assert _refusal({"convention": "c2w", "views": [view]}) == "view 0 has no 'file' name"


def test_a_hidden_file_is_no_view_name():
    """'._view.png' (macOS metadata) or '.view.png' are not the view images."""
    assert _refusal({"convention": "c2w", "views": [{"file": "._a.png", "c2w": C2W.tolist()}]}).startswith(
        "view 0's file '._a.png' is not a plain name")


@pytest.mark.parametrize("radius", [0.0, -1.0, float("inf"), float("nan")])
def test_a_spherical_view_at_radius_zero_or_not_finite_is_refused(radius):
    doc = {"convention": "spherical", "views": [{"file": "a.png", "elevation": 20.0, "azimuth": 45.0, "radius": radius}]}
    assert _refusal(doc) == "view 0: elevation/azimuth/radius must be finite, radius > 0"


def test_a_4x4_w2c_is_read_as_its_3x4_rows():
    w2c = np.linalg.inv(C2W @ np.diag([1.0, -1.0, -1.0, 1.0]))
    three, four = (_parse({"convention": "w2c_opencv", "views": [{"file": "a.png", "w2c": m.tolist()}]}).cameras[0] for m in (w2c[:3], w2c))
    assert np.allclose(three.c2w, C2W, atol=1e-9) and np.allclose(four.c2w, C2W, atol=1e-9)


def test_a_w2c_of_another_shape_is_refused_naming_the_shapes_it_may_have():
    doc = {"convention": "w2c_opencv", "views": [{"file": "a.png", "w2c": np.eye(4)[:, :3].tolist()}]}
    assert _refusal(doc) == "view 0 w2c must be a 3x4 or 4x4 matrix, got shape (4, 3)"


def test_a_null_in_a_matrix_is_a_non_finite_value():
    """JavaScript's JSON.stringify writes NaN as null."""
    c2w = C2W.tolist()
    c2w[1][2] = None
    assert _refusal({"convention": "c2w", "views": [{"file": "a.png", "c2w": c2w}]}) == "view 0 c2w has 1 non-finite values (NaN or inf)"
    view = {"file": "a.png", "c2w": C2W.tolist()}
    assert _refusal({"convention": "c2w", "bbox": [[0, 0, None], [1, 1, 1]], "views": [view]}) == "bbox has 1 non-finite values (NaN or inf)"


def test_a_bbox_of_another_shape_is_refused_as_the_bbox():
    view = {"file": "a.png", "c2w": C2W.tolist()}
    assert _refusal({"convention": "c2w", "bbox": [0, 0, 0], "views": [view]}) == "bbox must be a 2x3 matrix, got shape (3,)"


# ---------------------------------------------------------------- radians written as degrees


def _refused_as_radians(azimuths, elevations) -> bool:
    elevations = elevations if isinstance(elevations, list) else [elevations] * len(azimuths)
    views = [{"file": f"{i}.png", "elevation": e, "azimuth": a, "radius": 2.0} for i, (a, e) in enumerate(zip(azimuths, elevations))]
    try:
        _parse({"convention": "spherical", "views": views})
    except CameraFileError as e:
        assert "look like radians" in str(e), e
        return True
    return False


def test_two_views_in_radians_are_refused():
    assert _refused_as_radians([0.5, 2.0], 0.3)
    assert not _refused_as_radians([0.5], 0.3)  # one view: no ring to judge


@pytest.mark.parametrize("azimuths, elevation", [
    ([0.0, 90.0, 180.0, 270.0], 0.0),  # a turntable at the equator
    ([0.0, 2.0, 4.0, 6.0], 2.0),  # azimuths within 2 pi, but an elevation above pi / 2
    ([0.0, 3.5, 7.0], 1.0),  # azimuths past 2 pi
    ([0.0, 90.0, 180.0], 0.5),
])
def test_rings_in_degrees_are_read(azimuths, elevation):
    assert not _refused_as_radians(azimuths, elevation)


@pytest.mark.parametrize("azimuths, elevations", [
    ([0.0, math.pi / 2, math.pi, 2 * math.pi], 0.3),  # a closed ring: 0 and 2 pi both listed
    ([0.0, 2 * math.pi + 1e-6], 0.3),  # 2 pi written with a rounding error, up to the tolerance
    ([0.0, 1.0, 2.0], [0.3, 0.3, math.pi / 2]),  # a top view
    ([0.0, 1.0, 2.0], [0.3, 0.3, math.pi / 2 + 1e-6]),
    ([0.0, 1.0, 2.0], 1.2),  # a high ring
    ([0.0, 0.5, 1.0], 0.0),  # an arc of one radian
])
def test_rings_in_radians_are_refused(azimuths, elevations):
    assert _refused_as_radians(azimuths, elevations)


def test_views_that_share_one_azimuth_are_not_judged_as_a_ring():
    """The rule needs azimuths that spread: a column of cameras at one azimuth is left as written."""
    assert not _refused_as_radians([1.0, 1.0, 1.0], [0.0, 0.5, 1.0])
