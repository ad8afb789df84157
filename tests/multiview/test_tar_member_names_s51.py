"""A webdataset tar's camera file may name its views by their whole member names (session 51
walkthrough): `obj.cameras.json` listing "obj.030.png" beside the member obj.030.png was rejected
`views_present: obj.030.png is in the camera file but not in the sample`, and each picture
`unlisted_view: obj.030.png (not in cameras.json)`, which it plainly was. Both spellings now work."""

import io
import json
import tarfile

import pytest

from preprocess.multiview.group import group_multiview
from preprocess.sources import SourceSpec, list_entries

VIEWS = ("030.png", "120.png", "210.png")


def _tar(tmp_path, listed_with_prefix: bool):
    views = [{"file": ("obj." if listed_with_prefix else "") + v, "elevation": 20, "azimuth": 30 + 90 * i, "radius": 1.0}
             for i, v in enumerate(VIEWS)]
    members = {"obj.cameras.json": json.dumps({"convention": "spherical", "views": views}).encode(), "obj.txt": b"a thing",
               **{f"obj.{v}": b"\x89PNG" for v in VIEWS}}
    with tarfile.open(tmp_path / "000.tar", "w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return group_multiview(list_entries(SourceSpec(str(tmp_path / "*.tar"))))


@pytest.mark.parametrize("listed_with_prefix", [False, True])
def test_views_listed_by_either_name_are_the_samples_views(tmp_path, listed_with_prefix):
    (item,), leftovers = _tar(tmp_path, listed_with_prefix)
    assert leftovers == []
    assert sorted(r for r in item.media if r.endswith(".png")) == [("obj." if listed_with_prefix else "") + v for v in VIEWS]
