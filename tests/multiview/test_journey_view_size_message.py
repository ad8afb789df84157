"""A user's own multi-view folder (2026-12-06 walkthrough): one view rendered at 32 px among 64 px
views was rejected "view_size: cam1.png is 32x32, the other views are not", which left the user to
open every file to learn what size the sample wanted. The reason names the size the others share."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from encoders.cameras import spherical_to_c2w
from preprocess.multiview.group import CAMERA_FILE
from preprocess.multiview.plugin import MultiviewOptions, Rejected, load_views


class _Blob:
    def __init__(self, data: bytes):
        self.data = data

    def read(self) -> bytes:
        return self.data


class _Item:
    def __init__(self, media):
        self.media = media


def _png(size: int, shade: int) -> bytes:
    rgb = np.full((size, size, 3), 255, np.uint8)
    rgb[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = (shade, 40, 200 - shade)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("sizes, odd, want", [([64, 32, 64, 64], "cam1.png", "cam1.png is 32x32 where 3 of the 4 views are 64x64"),
                                              ([48, 48, 96, 48], "cam2.png", "cam2.png is 96x96 where 3 of the 4 views are 48x48")])
def test_view_size_names_the_size_the_other_views_share(sizes, odd, want):
    views = [{"file": f"cam{i}.png", "c2w": spherical_to_c2w(20.0, 45.0 + 90 * i, 2.0, np.zeros(3)).tolist()} for i in range(4)]
    media = {CAMERA_FILE: _Blob(json.dumps({"convention": "c2w", "views": views}).encode())}
    media.update({f"cam{i}.png": _Blob(_png(s, 30 * i)) for i, s in enumerate(sizes)})
    with pytest.raises(Rejected) as e:
        load_views(_Item(media), "k", MultiviewOptions(), [])
    assert str(e.value.reason).startswith(f"view_size: {want}: "), e.value.reason
    assert odd in e.value.reason
