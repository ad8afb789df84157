"""Session 53 review (helper S). A camera file of brackets nested a few thousand deep (200 kB) raised
RecursionError out of the multi-view grouping, which reads every camera file in the driver, and the
whole curation ended in a traceback; it is camera_file_unparsable like any other unreadable camera file."""

from __future__ import annotations

import pytest

from encoders.cameras import CameraFileError, parse_cameras
from preprocess.multiview.group import VIEW_SUFFIXES, group_multiview, read_cameras
from preprocess.sources import Entry

DEEP = b"[" * 100_000 + b"]" * 100_000


def _entry(name: str, data: bytes) -> Entry:
    return Entry(name, f"/src/{name}", len(data), ("bytes", data))


@pytest.mark.parametrize("read", [read_cameras, lambda data: parse_cameras(data, VIEW_SUFFIXES)])
def test_a_deeply_nested_camera_file_is_unparsable(read):
    with pytest.raises(CameraFileError, match="nested deeper"):
        read(DEEP)


def test_grouping_goes_on_past_it():
    entries = [_entry("obj/000.png", b"png"), _entry("obj/001.png", b"png"), _entry("obj/cameras.json", DEEP)]
    inputs, _ = group_multiview(entries)
    assert [i.name for i in inputs] == ["obj"]
