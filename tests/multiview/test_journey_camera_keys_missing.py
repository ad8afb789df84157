"""A user's own camera file (2026-12-06 walkthrough) said "convention": "c2w" but its views held a
position instead of a matrix: quarantined "camera_file_unparsable: view 0 c2w must be a 4x4
matrix, got shape ()" (a spherical view without radius: "view 0: KeyError: 'radius'"). The reason
now names the missing key, the convention that needs it and the keys the view has."""

from __future__ import annotations

import json

import pytest

from encoders.cameras import CameraFileError, parse_cameras


@pytest.mark.parametrize("doc, want", [
    ({"convention": "c2w", "views": [{"file": "cam0.png", "pos": [1, 2, 3], "fx": 77.3}]},
     "view 0 (cam0.png) has no 'c2w', which the c2w convention needs (its keys: pos, fx)"),
    ({"convention": "spherical", "views": [{"file": "a.png", "elevation": 20, "azimuth": 45}]},
     "view 0 (a.png) has no 'radius', which the spherical convention needs (its keys: elevation, azimuth)"),
    ({"convention": "w2c_opencv", "views": [{"file": "a.png", "RT": [[1, 0, 0, 0]] * 3}]},
     "view 0 (a.png) has no 'w2c', which the w2c_opencv convention needs (its keys: RT)"),
    ({"frames": [{"file_path": "./r_0"}]},
     "view 0 (r_0.png) has no 'transform_matrix', which the nerf convention needs"),
])
def test_a_view_without_its_conventions_keys_names_them(doc, want):
    with pytest.raises(CameraFileError) as e:
        parse_cameras(json.dumps(doc).encode(), (".png",))
    assert str(e.value).startswith(want), str(e.value)
