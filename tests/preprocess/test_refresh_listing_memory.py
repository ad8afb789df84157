"""A refresh holds every entry of its source in memory once (the rest is staged in DuckDB), so
what one entry costs decides how large a source fits: entries and inputs carry no per-object
__dict__, and an entry's uri and the path it is read from are one string, not two copies."""

from __future__ import annotations

import os

from preprocess.sources import Entry, Leftover, RawInput, SourceSpec, list_entries


def test_entries_inputs_and_leftovers_have_no_instance_dict():
    e = Entry("a.png", "/x/a.png", 1, ("file", "/x/a.png"))
    for obj in (e, RawInput("a.png", "/x/a.png", {"media": e}), Leftover(e, "unsupported_type")):
        assert not hasattr(obj, "__dict__"), type(obj).__name__


def test_a_folder_entry_reads_from_its_uri_string_itself(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.png", "a.txt", "sub/b.png"):
        (tmp_path / name).write_bytes(b"x")
    entries = list_entries(SourceSpec(str(tmp_path)))
    assert len(entries) == 3 and all(e.loc[1] is e.uri for e in entries)


def test_a_name_that_is_not_utf8_is_still_escaped_for_the_catalog(tmp_path):
    raw = b"caf\xe9.png"
    with open(os.path.join(os.fsencode(tmp_path), raw), "wb") as f:
        f.write(b"x")
    (e,) = list_entries(SourceSpec(str(tmp_path)))
    assert e.name == "caf\\xe9.png" and e.uri.endswith("caf\\xe9.png") and e.read() == b"x"
