"""A listing's path cell that cannot be a file name ended `lumina curate` in a traceback: a caption
in the path column (columns swapped, a 500-word caption) raised `OSError: [Errno 36] File name too
long` out of Path.is_file, and a parquet column of image bytes named as --path-column did the same
(each cell read as str(bytes)). The first is now that row's missing_media, saying why; the second
ends in one line naming the column and what to do with media held in a column."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from preprocess.sources import SourceError, SourceSpec, group_by_stem, list_entries


def test_a_path_cell_too_long_for_a_name_is_that_rows_missing_media(tmp_path):
    listing = tmp_path / "listing.jsonl"
    listing.write_text(json.dumps({"path": "word " * 100, "caption": "a.png"}) + "\n")
    _, [row] = group_by_stem(list_entries(SourceSpec(str(listing))), (".png",))
    assert (row.entry.uri, row.reason_kind) == (f"{listing}#row=0", "missing_media")
    assert row.detail == "not a usable path: File name too long"


def test_a_path_column_of_bytes_is_refused_in_one_line(tmp_path):
    listing = tmp_path / "listing.parquet"
    pq.write_table(pa.Table.from_pylist([{"image": b"\x89PNG" * 100, "caption": "a cat"}]), listing)
    with pytest.raises(SourceError, match=r"column 'image' holds bytes \(row 0\), not file paths; .*datasets.save_to_disk"):
        list_entries(SourceSpec(str(listing), path_column="image"))
