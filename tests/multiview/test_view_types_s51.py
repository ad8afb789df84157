"""Which pictures are views (session 51 walkthrough): TIFF renders (Blender's 16-bit output; the image
decoder reads them) were `unsupported_type` and their sample `views_present: 030.tif is in the camera file
but not in the sample`, though the file was right there; a listed view of a type no decoder reads (.exr)
said the same. TIFF views are read now, and a listed file of another type is named as no view image."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from preprocess.multiview.group import group_multiview
from preprocess.multiview.plugin import MultiviewOptions, Rejected, load_views
from preprocess.sources import SourceSpec, list_entries


def _object(tmp_path, suffix: str):
    obj = tmp_path / "obj"
    obj.mkdir()
    names = [f"{a:03d}{suffix}" for a in (30, 120, 210)]
    for n in names:
        buf = io.BytesIO()
        Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(buf, format="TIFF")
        (obj / n).write_bytes(buf.getvalue())
    views = [{"file": n, "elevation": 20, "azimuth": 30 + 90 * i, "radius": 1.0} for i, n in enumerate(names)]
    (obj / "cameras.json").write_text(json.dumps({"convention": "spherical", "views": views}))
    (obj / "caption.txt").write_text("a thing")
    return group_multiview(list_entries(SourceSpec(str(tmp_path))))


@pytest.mark.parametrize("suffix", [".tif", ".tiff"])
def test_tiff_views_are_members_of_their_sample(tmp_path, suffix):
    (item,), leftovers = _object(tmp_path, suffix)
    assert leftovers == [] and sorted(n for n in item.media if n.endswith(suffix)) == [f"030{suffix}", f"120{suffix}", f"210{suffix}"]


def test_a_listed_view_of_another_type_is_named_as_no_view_image(tmp_path):
    (item,), leftovers = _object(tmp_path, ".exr")
    assert {lo.reason_kind for lo in leftovers} == {"unsupported_type"}
    with pytest.raises(Rejected) as e:
        load_views(item, "0" * 32, MultiviewOptions(), [])
    assert e.value.reason == ("views_present: 030.exr is in the camera file but not a view image (views are .png, .jpg, .jpeg, "
                              ".jfif, .webp, .avif, .bmp, .gif, .tif, .tiff, .ico, .tga, .ppm, .pgm, .pbm, .pnm, .qoi, .jp2, .j2k, "
                              ".j2c, .jpc) (3 missing)")
