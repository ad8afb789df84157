"""Fault-suite findings in source listing: entries that crashed a curation or vanished from it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from catalog import Catalog
from contracts.records import Batch
from preprocess.curate import CurateConfig, curate


def _curate(folder: Path, home: Path) -> dict[str, tuple[str, str]]:
    result = curate(str(folder), home, CurateConfig(), backend="local")
    return {Path(s.source_uri).name: (s.status, (s.reason or "").split(":")[0])
            for p in result.batch_paths for s in Batch.read(p).samples}


@pytest.fixture()
def folder(tmp_path) -> Path:
    f = tmp_path / "src"
    f.mkdir()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(f / "ok.png")
    (f / "ok.txt").write_text("a red square")
    return f


def test_a_symlink_loop_is_a_rejected_entry_not_a_crash(folder, tmp_path):
    (folder / "loop_a.png").symlink_to("loop_b.png")
    (folder / "loop_b.png").symlink_to("loop_a.png")
    got = _curate(folder, tmp_path / "home")
    assert got["loop_a.png"] == ("rejected", "symlink_loop") and got["loop_b.png"] == ("rejected", "symlink_loop")
    assert got["ok.png"][0] != "quarantined"  # the rest of the source is curated as usual


def test_empty_folders_are_recorded_even_when_named_like_an_image(folder, tmp_path):
    (folder / "photo.png").mkdir()
    (folder / "ok_caption_dir.txt").mkdir()
    (folder / "nested" / "empty").mkdir(parents=True)
    got = _curate(folder, tmp_path / "home")
    assert got["photo.png"] == ("rejected", "empty_folder")
    assert got["ok_caption_dir.txt"] == ("rejected", "empty_folder")
    assert got["empty"] == ("rejected", "empty_folder") and "nested" not in got  # only the leaf is empty


def test_a_file_name_that_is_not_utf8_is_curated_under_a_printable_name(folder, tmp_path):
    from flows.steps import curate_step

    name = os.fsdecode("café".encode("latin-1"))  # bytes 0xE9: Python holds a lone surrogate
    Image.new("RGB", (32, 32), (30, 30, 200)).save(folder / f"{name}.png")
    (folder / f"{name}.txt").write_text("a blue square with a latin-1 name")
    out = curate_step(str(folder), str(tmp_path / "home"), CurateConfig(), backend="local")  # registers in the catalog
    assert out["registered"]["samples"] == 2
    with Catalog.open(tmp_path / "home" / "catalog.duckdb", read_only=True) as cat:
        rows = dict(cat.sql("SELECT source_uri, status FROM samples")[1])
    latin1 = next(uri for uri in rows if uri.endswith("/caf\\xe9.png"))  # the undecodable byte, escaped
    assert rows[latin1] != "quarantined"  # read and decoded through the real path


def test_a_byte_order_mark_is_no_part_of_a_caption(tmp_path):
    """Editors on Windows start UTF-8 files with a BOM: the caption (and its key) is the text after
    it, and a .json caption with one parses."""
    from preprocess.sources import Entry, read_caption

    for name, data in (("a.txt", "\ufeffa red square".encode()), ("a.json", '\ufeff{"caption": "a red square"}'.encode())):
        entry = Entry(name, str(tmp_path / name), len(data), ("bytes", data))
        assert read_caption(entry) == ("a red square", None), name


def test_a_link_that_is_not_read_says_what_it_points_at(folder, tmp_path):
    from preprocess.sources import SourceSpec, list_entries

    (folder / "dangling.png").symlink_to("gone.png")
    (folder / "sub").mkdir()
    (folder / "sub" / "b.png").write_bytes(b"y")
    (folder / "dir.png").symlink_to("sub")
    (folder / "out.png").symlink_to(tmp_path / "elsewhere.png")
    entries = {e.name: (e.kind, e.detail) for e in list_entries(SourceSpec(str(folder)))}
    assert entries["dangling.png"] == ("symlink", "points to gone.png, which does not exist; not read")
    assert entries["dir.png"] == ("symlink", "points to sub, a folder (its files are listed where they are); not read")
    assert entries["out.png"] == ("symlink_outside_source", "points outside the source, which does not exist; not read")


@pytest.mark.parametrize("encoding, hint", [("utf-16", "it looks like UTF-16: save it as UTF-8"),
                                            ("utf-16-be", "it looks like UTF-16: save it as UTF-8"),
                                            ("latin-1", "save it as UTF-8")])
def test_a_caption_not_in_utf8_says_what_to_save_it_as(tmp_path, encoding, hint):
    from preprocess.sources import Entry, read_caption

    path = tmp_path / "c.txt"
    path.write_bytes("une crème brûlée".encode(encoding))
    caption, error = read_caption(Entry("c.txt", str(path), path.stat().st_size, ("file", str(path))))
    assert caption is None and error.startswith("caption_not_utf8: ") and error.endswith(f"({hint})")


def test_a_missing_relative_source_names_where_it_was_looked_for(tmp_path, monkeypatch):
    """A deployment's worker resolves a relative source against its own folder: the error says which."""
    from preprocess.sources import SourceError, detect_kind

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SourceError) as e:
        detect_kind("data/nothere")
    assert str(e.value) == f"source not found: data/nothere (looked for {tmp_path / 'data' / 'nothere'})"
    with pytest.raises(SourceError) as e:
        detect_kind(str(tmp_path / "nothere"))
    assert str(e.value) == f"source not found: {tmp_path / 'nothere'}"
