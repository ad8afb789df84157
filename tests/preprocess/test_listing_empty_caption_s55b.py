"""An empty caption cell was two facts by listing format: a CSV's empty cell was quarantined
missing_caption ('no caption beside the media'), a JSON line's "" accepted as a caption and rejected
caption_present ('score 0 vs threshold 1'), and a blank cell ('   ') rejected in both. An empty,
blank or null cell is now no caption in every format: quarantined missing_caption, naming the row
and its empty cell, under the key a folder's input without a caption gets (a CSV's empty cell kept
its key). A caption file of the media's name, where the listing names one, still gives the caption."""

from __future__ import annotations

import csv
import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from catalog import Batch
from preprocess.curate import CurateConfig, curate
from preprocess.sources import SourceSpec, group_by_stem, list_entries, read_caption

CELLS = {"said.png": "a red disc", "empty.png": "", "blank.png": " \t ", "null.png": None}
REASONS = {"empty.png": "its 'caption' cell is empty", "blank.png":
           "its 'caption' cell is blank (nothing but spaces or control characters)", "null.png": "its 'caption' cell is empty"}


def _listing(folder, fmt: str):
    rows = [{"path": name, "caption": cell} for name, cell in CELLS.items()]
    path = folder / f"listing.{fmt}"
    if fmt == "csv":  # CSV has no null: an empty cell
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, ["path", "caption"])
            w.writeheader()
            w.writerows({**r, "caption": r["caption"] or ""} for r in rows)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _captions(path) -> dict[str, tuple[str | None, str | None]]:
    inputs, _ = group_by_stem(list_entries(SourceSpec(str(path))), (".png",))
    return {i.name: read_caption(i.caption) for i in inputs}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_an_empty_blank_or_null_cell_is_no_caption_in_every_format(tmp_path, fmt):
    for name in CELLS:
        (tmp_path / name).write_bytes(b"")  # never decoded here
    path = _listing(tmp_path, fmt)
    got = _captions(path)
    assert got["said.png"] == ("a red disc", None)
    for name, detail in REASONS.items():  # CSV writes a null as an empty cell: the same detail
        assert got[name] == (None, f"missing_caption: listing.{fmt}#row={list(CELLS).index(name)}: {detail}"), name


def test_a_caption_file_the_listing_names_still_captions_a_row_with_an_empty_cell(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "a.txt").write_text("from the file")
    path = tmp_path / "listing.jsonl"
    path.write_text('{"path": "a.png", "caption": ""}\n{"path": "a.txt", "caption": ""}\n')
    assert _captions(path) == {"a.png": ("from the file", None)}


def test_csv_and_jsonl_give_a_folders_keys_and_statuses(tmp_path):
    """Curated: the same key, status and reason kind per image whatever the listing format, and a
    folder's image without a caption file has the empty cells' key."""
    for i, name in enumerate(CELLS):
        Image.new("RGB", (64, 64), (40 * i, 120, 200 - 40 * i)).save(tmp_path / name)
    (tmp_path / "folder").mkdir()
    shutil.copy(tmp_path / "empty.png", tmp_path / "folder" / "empty.png")  # no caption file beside it
    rows = {}
    for src in (_listing(tmp_path, "csv"), _listing(tmp_path, "jsonl"), tmp_path / "folder"):
        result = curate(str(src), tmp_path / f"home-{src.name}", CurateConfig(), backend="local")
        rows[src.name] = {s.source_uri.rsplit("/", 1)[-1]: (s.key, s.status, (s.reason or "").split(":")[0])
                          for p in result.batch_paths for s in Batch.read(p).samples}
    assert rows["listing.csv"] == rows["listing.jsonl"]
    assert {n: s for n, (_, s, _) in rows["listing.csv"].items() if n != "said.png"} == dict.fromkeys(REASONS, "quarantined")
    assert rows["folder"]["empty.png"] == rows["listing.csv"]["empty.png"]
    assert rows["folder"]["empty.png"][1:] == ("quarantined", "missing_caption")
