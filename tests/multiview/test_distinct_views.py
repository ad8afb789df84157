"""distinct_views catches a renderer that wrote one image for several views, not a symmetric object.

Before, any two views closer than 0.5 (mean difference, 0..255) were 'the same image': a lego brick
whose views 90 degrees apart differ by 0.42 was rejected though its files and cameras differ."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.multiview.test_view_decoding import KEY, curated, rendered_object


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def _object_set(folder: Path, views: list[np.ndarray], azimuths: list[float]) -> Path:
    folder.mkdir(parents=True)
    cams = [{"file": f"view_{i}.png", "elevation": 20.0, "azimuth": az, "radius": 2.0} for i, az in enumerate(azimuths)]
    (folder / "cameras.json").write_text(json.dumps({"convention": "spherical", "views": cams}))
    (folder / "caption.txt").write_text("a red test object")
    for i, v in enumerate(views):
        (folder / f"view_{i}.png").write_bytes(_png(v))
    return folder


def _on_white(azimuth: float) -> np.ndarray:
    rgb, inside = rendered_object(azimuth)
    return np.where(inside[..., None], rgb, 255).astype(np.uint8)


def _nudged(rgb: np.ndarray, seed: int, share: float = 0.3) -> np.ndarray:
    """The same render a level lighter or darker on ``share`` of its values: mean difference about
    ``share`` (a symmetric object's view from the far side differs by about that much)."""
    rng = np.random.default_rng(seed)
    step = (rng.random(rgb.shape) < share) * rng.choice([-1, 1], rgb.shape)
    return np.clip(rgb.astype(int) + step, 0, 255).astype(np.uint8)


def test_a_symmetric_object_seen_from_cameras_apart_is_accepted(tmp_path):
    """Views 0 and 2 nearly alike (mean difference about 0.3), cameras 180 degrees round (140 degrees apart at 20 up)."""
    v0, v1 = _on_white(10.0), _on_white(100.0)
    folder = _object_set(tmp_path / "brick", [v0, v1, _nudged(v0, 1), _nudged(v1, 2)], [10.0, 100.0, 190.0, 280.0])
    status, reason, _ = curated(folder)
    assert (status, reason) == ("accepted", None)


def test_one_image_written_for_two_views_is_rejected_whatever_the_cameras(tmp_path):
    views = [_on_white(a) for a in (10.0, 100.0, 190.0)]
    folder = _object_set(tmp_path / "copied", [*views, views[0]], [10.0, 100.0, 190.0, 280.0])
    status, reason, _ = curated(folder)
    assert status == "rejected" and reason == ("distinct_views: view_0.png and view_3.png are the same image (mean difference 0 vs "
                                               "threshold 0.05) though their cameras are 83 degrees apart: one image written for two views, "
                                               "or an object that looks the same from both (a cube seen square-on: "
                                               "lower options.min_copy_difference for such objects)")


def test_near_identical_views_from_one_pose_are_rejected(tmp_path):
    views = [_on_white(a) for a in (10.0, 100.0, 190.0)]
    folder = _object_set(tmp_path / "twice", [*views, _nudged(views[2], 3)], [10.0, 100.0, 190.0, 190.5])
    status, reason, _ = curated(folder)
    assert status == "rejected" and reason.startswith("distinct_views: view_2.png and view_3.png are the same image (mean difference 0.")
    assert "from cameras 0.5 degrees apart" in reason


def test_views_all_alike_are_rejected_though_no_two_are_copies(tmp_path):
    """Cameras that never moved: every view the same render with its own small noise."""
    base = _on_white(10.0)
    folder = _object_set(tmp_path / "static", [_nudged(base, s, 0.1) for s in range(4)], [10.0, 100.0, 190.0, 280.0])
    status, reason, _ = curated(folder)
    assert status == "rejected" and reason.startswith("distinct_views: all 4 views are alike")


@pytest.mark.parametrize("share, passed", [(0.3, True), (0.0, False)])
def test_the_verdict_holds_the_threshold_that_applied(tmp_path, share, passed):
    from preprocess.multiview.group import group_multiview
    from preprocess.multiview.plugin import MultiviewOptions, load_views
    from preprocess.sources import SourceSpec, list_entries

    v0, v1 = _on_white(10.0), _on_white(100.0)
    folder = _object_set(tmp_path / "s", [v0, v1, _nudged(v0, 1, share), _nudged(v1, 2)], [10.0, 100.0, 190.0, 280.0])
    (item,), _ = group_multiview(list_entries(SourceSpec(str(folder))))
    verdicts = []
    try:
        load_views(item, KEY, MultiviewOptions(), verdicts)
    except Exception:  # noqa: BLE001 - the rejection itself is tested above
        pass
    (v,) = [v for v in verdicts if v.filter == "distinct_views"]
    assert (v.threshold, v.passed, v.score >= v.threshold) == (0.05, passed, passed)
