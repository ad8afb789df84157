"""A listing's columns: a caption column it lacks is a wrong name, one line and exit code 2 as a
wrong path column is, not a run that quarantines every input as `missing_caption` and copies
every file. A listing that names caption files beside its media needs no caption column."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from contracts.records import Batch
from preprocess.curate import CurateConfig, curate
from preprocess.sources import SourceError, SourceSpec, list_entries


def _media(root: Path) -> list[str]:
    (root / "m").mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = []
    for i in range(3):
        Image.fromarray((rng.random((24, 40, 3)) * 255).astype(np.uint8)).save(root / "m" / f"{i}.png")
        (root / "m" / f"{i}.txt").write_text(f"coloured noise number {i}")
        names.append(f"m/{i}.png")
    return names


def _listing(root: Path, kind: str, rows: list[dict]) -> Path:
    path = root / f"listing.{kind}"
    if kind == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif kind == "csv":
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("kind", ["jsonl", "csv", "parquet"])
def test_a_caption_column_the_listing_lacks_is_one_clear_error(tmp_path, kind):
    rows = [{"path": n, "caption": f"caption {n}"} for n in _media(tmp_path)]
    listing = _listing(tmp_path, kind, rows)
    assert len(list_entries(SourceSpec(str(listing)))) == 3
    with pytest.raises(SourceError) as e:
        list_entries(SourceSpec(str(listing), caption_column="nope"))
    assert str(e.value) == f"listing {listing} has no column 'nope' (columns: path, caption); set --caption-column"
    # no caption column at all, and only media rows: every input would be missing_caption
    bare = _listing(tmp_path / "bare", kind, [{"path": f"../{n}"} for n in _media(tmp_path / "bare")])
    with pytest.raises(SourceError, match=r"has no column 'caption' \(columns: path\); set --caption-column"):
        list_entries(SourceSpec(str(bare)))


def test_a_listing_of_media_and_their_caption_files_needs_no_caption_column(tmp_path):
    names = _media(tmp_path)
    rows = [{"path": p} for n in names for p in (n, n[:-4] + ".txt")]
    listing = _listing(tmp_path, "jsonl", rows)
    result = curate(str(listing), tmp_path / "home", CurateConfig(options={"vae_factor": 1}), backend="local")
    captions = sorted(s.caption for p in result.batch_paths for s in Batch.read(p).samples)
    assert result.counts == {"accepted": 3} and captions == [f"coloured noise number {i}" for i in range(3)]
    # a caption column the user names is checked all the same
    with pytest.raises(SourceError, match="has no column 'text'"):
        list_entries(SourceSpec(str(listing), caption_column="text"))


def test_a_jsonl_row_without_the_caption_key_is_an_uncaptioned_input(tmp_path):
    """jsonl rows may differ: the column exists when any row has it (here not the first); a row
    without it is an input without a caption (quarantined as missing_caption), as a null caption is."""
    names = _media(tmp_path)
    listing = _listing(tmp_path, "jsonl", [{"path": names[1]}, {"path": names[0], "caption": "some coloured noise"}])
    result = curate(str(listing), tmp_path / "home", CurateConfig(options={"vae_factor": 1}), backend="local")
    assert result.counts == {"accepted": 1, "quarantined": 1} and result.reasons == {"missing_caption": 1}


def test_lumina_curate_with_a_wrong_caption_column_exits_2_in_one_line_and_copies_nothing(tmp_path, capsys):
    from flows.cli import main

    rows = [{"path": n, "caption": f"caption {n}"} for n in _media(tmp_path)]
    listing = _listing(tmp_path, "csv", rows)
    home = tmp_path / "home"
    rc = main(["curate", str(listing), "--modality", "image", "--home", str(home), "--vae-factor", "1",
               "--caption-column", "nope", "--local"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err == f"lumina curate: error: listing {listing} has no column 'nope' (columns: path, caption); set --caption-column\n"
    assert not [p for p in home.rglob("*") if p.is_file() and p.suffix in (".png", ".txt")]  # nothing quarantined


@pytest.mark.parametrize("kind, text, what", [("jsonl", '{"path": "m/0.png"}\n[1, 2]\n', "row 1 is an array"),
                                              ("jsonl", '"m/0.png"\n', "row 0 is a string"), ("json", '[{"path": "m/0.png"}, 3]', "row 1 is a number")])
def test_a_json_row_that_is_no_object_is_one_clear_error(tmp_path, kind, text, what):
    """It crashed curation with an AttributeError, or a string row read as columns of one letter."""
    _media(tmp_path)
    listing = tmp_path / f"listing.{kind}"
    listing.write_text(text)
    with pytest.raises(SourceError, match=rf"^unreadable listing .*: {what}, not an object$"):
        list_entries(SourceSpec(str(listing)))
