"""A focal length that is NaN, 0, negative or infinite is a malformed camera file (quarantined as
camera_file_unparsable, naming the view and the value), not a sample: a NaN one was accepted with a
failed camera_intrinsics verdict, and 0 / a negative one passed it with score 1. Every check of the
plugin fails on a NaN score, so an accepted sample never carries a failed verdict."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import preprocess.multiview.plugin as mv
from encoders.cameras import CameraFileError, parse_cameras, spherical_to_c2w
from preprocess.multiview.group import VIEW_SUFFIXES, group_multiview
from preprocess.multiview.plugin import MultiviewOptions, MultiviewPlugin
from preprocess.sources import SourceSpec, list_entries
from tests.multiview.test_view_decoding import AZIMUTHS, KEY, rendered_object

BAD = [float("nan"), 0.0, -5.0, float("inf"), float("-inf")]


def _views(**first) -> list[dict]:
    views = [{"file": f"v{i}.png", "c2w": spherical_to_c2w(20.0, az, 2.0).tolist(), "fx": 80.0, "fy": 80.0}
             for i, az in enumerate(AZIMUTHS)]
    views[0].update(first)
    return views


def _folder(tmp_path: Path, views: list[dict]) -> Path:
    folder = tmp_path / "obj"
    folder.mkdir()
    for i, az in enumerate(AZIMUTHS):
        rgb, inside = rendered_object(az)
        Image.fromarray(np.where(inside[..., None], rgb, 255).astype(np.uint8)).save(folder / f"v{i}.png")
    (folder / "cameras.json").write_text(json.dumps({"convention": "c2w", "views": views}))
    (folder / "caption.txt").write_text("a red test object")
    return folder


def _analysed(folder: Path):
    (item,), _ = group_multiview(list_entries(SourceSpec(str(folder))))
    (cand,) = MultiviewPlugin().analyse(item, "a red test object", KEY, MultiviewOptions())
    return cand.record, cand.verdicts


@pytest.mark.parametrize("key", ["fx", "fy"])
@pytest.mark.parametrize("value", BAD)
def test_parse_cameras_refuses_a_focal_length_that_is_not_finite_and_positive(key, value):
    with pytest.raises(CameraFileError) as e:
        parse_cameras(json.dumps({"convention": "c2w", "views": _views(**{key: value})}).encode())
    assert str(e.value).startswith(f"view 0: {key} is {value:g}: a focal length must be a finite number of pixels > 0")


@pytest.mark.parametrize("angle", [0, 0.0, "wide"])
def test_a_nerf_camera_angle_x_that_gives_no_focal_length_is_a_camera_file_error(angle):
    """camera_angle_x 0 divided by zero (ZeroDivisionError escaped parse_cameras); a string raised ValueError."""
    doc = {"camera_angle_x": angle, "w": 64, "frames": [{"file_path": "./r_0", "transform_matrix": np.eye(4).tolist()}]}
    with pytest.raises(CameraFileError, match=r"transforms.json frame 0: camera_angle_x .* gives no focal length"):
        parse_cameras(json.dumps(doc).encode(), VIEW_SUFFIXES)


def test_a_nerf_camera_angle_x_over_pi_gives_a_negative_focal_length_refused():
    doc = {"camera_angle_x": 4.0, "w": 64, "frames": [{"file_path": "./r_0", "transform_matrix": np.eye(4).tolist()}]}
    with pytest.raises(CameraFileError, match=r"view 0: fx is -\d.*must be a finite number of pixels > 0"):
        parse_cameras(json.dumps(doc).encode(), VIEW_SUFFIXES)


@pytest.mark.parametrize("fx, fy", [(float("nan"), float("nan")), (0.0, -5.0), (80.0, 0.0)])
def test_a_sample_with_a_bad_focal_length_is_quarantined_as_an_unparsable_camera_file(tmp_path, fx, fy):
    rec, verdicts = _analysed(_folder(tmp_path, _views(fx=fx, fy=fy)))
    assert rec.status == "quarantined"
    assert rec.reason.startswith("camera_file_unparsable: view 0: f")
    assert "must be a finite number of pixels > 0" in rec.reason


def test_good_focal_lengths_are_accepted_with_a_passed_intrinsics_verdict(tmp_path):
    rec, verdicts = _analysed(_folder(tmp_path, _views()))
    assert (rec.status, rec.reason) == ("accepted", None)
    (v,) = [v for v in verdicts if v.filter == "camera_intrinsics"]
    assert (v.score, v.passed) == (1.0, True)


@pytest.mark.parametrize("target, check", [("rotation_error", "rotation_orthonormal"),
                                           ("look_at_error_deg", "camera_look_at"),
                                           ("read_cameras", "camera_intrinsics")])
def test_a_nan_score_rejects_the_sample_whatever_check_gives_it(tmp_path, monkeypatch, target, check):
    """Scores that come out NaN (here forced, for one view) fail their check: before, `nan > threshold`
    was False, so the sample went on to be accepted with that verdict's passed False."""
    folder = _folder(tmp_path, _views())
    if target == "read_cameras":  # a NaN focal length past parse_cameras' own check
        real = mv.read_cameras

        def read_cameras(data):
            cams = real(data)
            cams.cameras[1] = type(cams.cameras[1])(cams.cameras[1].file, cams.cameras[1].c2w, math.nan, math.nan)
            return cams
        monkeypatch.setattr(mv, "read_cameras", read_cameras)
    else:
        real = getattr(mv, target)
        monkeypatch.setattr(mv, target, lambda cam, *a: math.nan if cam.file == "v1.png" else real(cam, *a))
    rec, verdicts = _analysed(folder)
    (v,) = [v for v in verdicts if v.filter == check]
    assert math.isnan(v.score) and v.passed is False
    assert rec.status == "rejected" and rec.reason.startswith(f"{check}: ")
    assert not [v for v in verdicts if not v.passed and rec.status == "accepted"]
