"""c2w cameras exported in another convention (session 51 walkthrough): COLMAP/OpenCV camera-to-world
matrices, OpenCV world-to-camera ones labelled c2w, or OpenGL world-to-camera ones were rejected
`camera_look_at: 030.png points 180.0 degrees off the bbox centre vs threshold 5`, which left the user to
guess why. When every camera would aim at the centre read in one of those conventions, the reason says
which and what to write instead; a camera that is simply off target keeps the plain reason."""

import json

import numpy as np
import pytest

from encoders.cameras import look_at_error_deg, misread_axes, parse_cameras, spherical_to_c2w

CENTRE = np.array([0.1, -0.2, 0.05])
BBOX = [(CENTRE - 0.5).tolist(), (CENTRE + 0.5).tolist()]


def _gl(az: float) -> np.ndarray:
    return spherical_to_c2w(20.0, az, 1.5, CENTRE)


def _set(matrices):
    views = [{"file": f"{i}.png", "c2w": m.tolist()} for i, m in enumerate(matrices)]
    return parse_cameras(json.dumps({"convention": "c2w", "bbox": BBOX, "views": views}).encode())


def _opencv_w2c(m: np.ndarray) -> np.ndarray:
    cv = m @ np.diag([1.0, -1.0, -1.0, 1.0])
    return np.linalg.inv(cv)


@pytest.mark.parametrize("export, says", [
    (lambda m: m @ np.diag([1.0, -1.0, -1.0, 1.0]), "OpenCV/COLMAP axes"),
    (_opencv_w2c, "OpenCV world-to-camera"),
    (np.linalg.inv, 'world-to-camera matrices (OpenGL axes), which all aim at it: write their inverses as "c2w"'),
])
def test_an_export_in_another_convention_is_named(export, says):
    cams = _set([export(_gl(az)) for az in (30, 120, 210, 300)])
    assert max(look_at_error_deg(c, cams.centre) for c in cams.cameras) > 5
    assert says in misread_axes(cams, 5.0)


def test_cameras_simply_off_target_get_no_advice():
    turned = [_gl(az) for az in (30, 120, 210, 300)]
    turned[1][:3, :3] = turned[1][:3, :3] @ np.array([[0.866, -0.5, 0], [0.5, 0.866, 0], [0, 0, 1.0]])
    assert misread_axes(_set(turned), 5.0) is None


def test_the_curation_reason_carries_the_advice():
    import io

    from PIL import Image

    from preprocess.multiview.plugin import MultiviewOptions, Rejected, load_views
    from preprocess.sources import Entry, RawInput

    views = [{"file": f"{i}.png", "c2w": (_gl(az) @ np.diag([1.0, -1.0, -1.0, 1.0])).tolist()} for i, az in enumerate((30, 120, 210))]
    doc = json.dumps({"convention": "c2w", "bbox": BBOX, "views": views}).encode()
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PNG")
    media = {"cameras.json": Entry("o/cameras.json", "/s/o/cameras.json", len(doc), ("bytes", doc))}
    media.update({v["file"]: Entry(f"o/{v['file']}", f"/s/o/{v['file']}", 0, ("bytes", buf.getvalue())) for v in views})
    with pytest.raises(Rejected) as e:
        load_views(RawInput("o/cameras.json", "/s/o", media), "0" * 32, MultiviewOptions(), [])
    assert e.value.reason.startswith("camera_look_at: 0.png points 180.0 degrees off the bbox centre vs threshold 5; these look like "
                                     "camera-to-world matrices in OpenCV/COLMAP axes")
