"""A camera file that gives every view the same camera (copied down the list, or one azimuth typed for
all) while the pictures differ was accepted (session 51 walkthrough): the model was told four different
renders stood at one pose. It is rejected `distinct_cameras` now, naming the two views; views at other
cameras, or one camera at two focal lengths (a zoom), pass."""

import json

import numpy as np
from PIL import Image

from encoders.cameras import parse_cameras, repeated_cameras
from tests.multiview.test_view_decoding import AZIMUTHS, curated, encoded, rendered_object, write_set


def _views(azimuths, **extra):
    return [{"file": f"{i}.png", "elevation": 20.0, "azimuth": az, "radius": 1.0, **extra} for i, az in enumerate(azimuths)]


def test_one_camera_for_every_view_is_named():
    cams = parse_cameras(json.dumps({"convention": "spherical", "views": _views([30, 30, 30, 120])}).encode())
    assert repeated_cameras(cams.cameras) == [("0.png", "1.png"), ("0.png", "2.png")]


def test_distinct_cameras_and_a_zoom_are_no_repeat():
    ring = parse_cameras(json.dumps({"convention": "spherical", "views": _views([30, 120, 210, 300])}).encode())
    assert repeated_cameras(ring.cameras) == []
    views = _views([30, 30])
    views[1]["fx"] = views[1]["fy"] = 80.0
    zoom = parse_cameras(json.dumps({"convention": "spherical", "views": views}).encode())
    assert repeated_cameras(zoom.cameras) == []


def test_curation_rejects_distinct_renders_under_one_camera_and_keeps_them_under_their_own(tmp_path):
    renders = {f"view_{i}.png": encoded(Image.fromarray(np.where(m[..., None], rgb, 255).astype(np.uint8)))
               for i, (rgb, m) in enumerate(rendered_object(az) for az in AZIMUTHS)}
    own = write_set(tmp_path / "own", renders)
    one = write_set(tmp_path / "one", renders)
    doc = json.loads((one / "cameras.json").read_text())
    for v in doc["views"]:
        v["azimuth"] = AZIMUTHS[0]
    (one / "cameras.json").write_text(json.dumps(doc))
    assert curated(own)[:2] == ("accepted", None)
    status, reason, _ = curated(one)
    assert status == "rejected" and reason == ("distinct_cameras: view_0.png and view_1.png have the same camera (c2w and intrinsics) "
                                               f"though their pictures differ: the camera file repeats a camera ({len(AZIMUTHS) - 1} views "
                                               "with an earlier one's)")
