"""A camera file that names its views without their extension ('030' for 030.png) or in another case
('030.PNG') names no file (session 51 walkthrough): every picture was `unlisted_view: 030.png (not in
cameras.json)` and the sample `views_present: 030 ... not in the sample`, with nothing tying the two.
The picture's reason now names the entry it was meant to be."""

import json

import pytest

from preprocess.multiview.group import group_multiview
from preprocess.sources import SourceSpec, list_entries

VIEWS = ("030.png", "120.png", "210.png")


def _folder(tmp_path, listed):
    obj = tmp_path / "obj"
    obj.mkdir()
    for n in VIEWS:
        (obj / n).write_bytes(b"\\x89PNG")
    views = [{"file": f, "elevation": 20, "azimuth": 30 + 90 * i, "radius": 1.0} for i, f in enumerate(listed)]
    (obj / "cameras.json").write_text(json.dumps({"convention": "spherical", "views": views}))
    (obj / "caption.txt").write_text("a thing")
    return group_multiview(list_entries(SourceSpec(str(tmp_path))))


@pytest.mark.parametrize("listed", [("030", "120", "210"), ("030.PNG", "120.PNG", "210.PNG")])
def test_a_picture_names_the_entry_it_was_meant_to_be(tmp_path, listed):
    _, leftovers = _folder(tmp_path, listed)
    assert [(lo.reason_kind, lo.detail) for lo in leftovers][0] == (
        "unlisted_view", f"not in cameras.json, which lists {listed[0]!r}: a view's name must match its file's exactly, extension and case")


def test_a_picture_no_entry_resembles_keeps_the_plain_reason(tmp_path):
    _, leftovers = _folder(tmp_path, ("030.png", "120.png", "999.png"))
    assert [(lo.entry.name, lo.detail) for lo in leftovers] == [("obj/210.png", "not in cameras.json")]
