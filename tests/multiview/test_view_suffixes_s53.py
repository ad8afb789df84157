"""A view may be any picture the image modality takes, since views are decoded as images are: the
multi-view list was a copy that lacked Netpbm's .pbm and the JPEG 2000 codestreams .j2c and .jpc
(an object of .pbm views was rejected 'views_present: 030.pbm is in the camera file but not a view
image'), and .jfif, .avif, .gif and .ico."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from preprocess.image.plugin import ImagePlugin
from preprocess.multiview.group import VIEW_SUFFIXES, group_multiview
from preprocess.multiview.plugin import MultiviewOptions, load_views
from preprocess.sources import SourceSpec, list_entries

SAVE_AS = {".pbm": dict(format="PPM"), ".j2c": dict(format="JPEG2000", no_jp2=True), ".jpc": dict(format="JPEG2000", no_jp2=True)}


def test_views_are_what_images_are():
    assert set(VIEW_SUFFIXES) == set(ImagePlugin.media_suffixes) and VIEW_SUFFIXES[0] == ".png"


def _object(tmp_path, suffix: str):
    obj = tmp_path / "obj"
    obj.mkdir()
    names = [f"{a:03d}{suffix}" for a in (30, 120, 210)]
    for k, n in enumerate(names):
        picture = np.zeros((16, 16), np.uint8)
        picture[:, 4 * k:4 * k + 6] = 255  # views differ
        image = Image.fromarray(picture).convert("1" if suffix == ".pbm" else "RGB")
        buf = io.BytesIO()
        image.save(buf, **SAVE_AS[suffix])
        (obj / n).write_bytes(buf.getvalue())
    views = [{"file": n, "elevation": 20, "azimuth": 30 + 90 * i, "radius": 1.0} for i, n in enumerate(names)]
    (obj / "cameras.json").write_text(json.dumps({"convention": "spherical", "views": views}))
    (obj / "caption.txt").write_text("a thing")
    return names, group_multiview(list_entries(SourceSpec(str(tmp_path))))


@pytest.mark.parametrize("suffix", list(SAVE_AS))
def test_a_view_in_a_format_images_take_is_a_view(tmp_path, suffix):
    names, ((item,), leftovers) = _object(tmp_path, suffix)
    assert leftovers == [] and sorted(n for n in item.media if n.endswith(suffix)) == names
    decoded = load_views(item, "0" * 32, MultiviewOptions(), [])
    assert sorted(decoded.names) == names and all(v.shape[:2] == (16, 16) for v in decoded.views)
