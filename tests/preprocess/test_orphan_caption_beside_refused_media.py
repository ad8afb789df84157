"""A caption beside a file the modality does not take names that file: it said "no media of the same
name" although dvd.mpg lay beside dvd.txt (helper B's walkthrough), so a user looked for a missing file."""

from __future__ import annotations

from preprocess.modality import get_plugin
from preprocess.sources import SourceSpec, group_by_stem, list_entries


def test_the_orphan_caption_names_the_media_this_modality_refused(tmp_path):
    (tmp_path / "dvd.mpg").write_bytes(b"\x00\x00\x01\xba" + bytes(60))
    (tmp_path / "dvd.txt").write_text("a dvd rip")
    (tmp_path / "lonely.txt").write_text("no file at all")
    _, leftovers = group_by_stem(list_entries(SourceSpec(str(tmp_path))), get_plugin("image").media_suffixes)
    said = {lo.entry.name.rsplit("/", 1)[-1]: (lo.reason_kind, lo.detail) for lo in leftovers}
    assert said["dvd.txt"] == ("orphan_caption", "its media dvd.mpg is unsupported_type")
    assert said["lonely.txt"] == ("orphan_caption", "no media of the same name")
    assert said["dvd.mpg"][0] == "unsupported_type"
