"""`lumina catalog why FILE` when one file gave several samples, and where a quarantined input was copied.

After an accidental `lumina refresh raw --modality speech`, `why latin1.png` showed only the speech
row `REJECTED: unsupported_type` and hid the image row `QUARANTINED: caption_not_utf8`.
"""

from __future__ import annotations

import json

import pytest

from catalog import Catalog
from catalog.cli import main

from .helpers import key

IMAGE = key(0, 4)  # quarantined: decode_error
SPEECH = key(1, 3)  # made the speech row of the same file below
FILE = "/raw/0/4.png"


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def two_rows(catalog_copy, tmp_path, monkeypatch):
    """The image row of FILE, and a later speech refresh's row of the same file."""
    monkeypatch.setenv("LUMINA_HOME", str(tmp_path / "elsewhere"))
    with Catalog.open(catalog_copy) as cat, cat._connection() as con:
        con.execute("UPDATE samples SET modality = 'speech', status = 'rejected', reason = 'unsupported_type: 4.png (.png)', "
                    "source_uri = ?, last_run = 'run-later' WHERE key = ?", [FILE, SPEECH])
    return catalog_copy


def test_why_file_shows_the_telling_row_and_names_the_others(two_rows, capsys):
    rc, out, err = run(capsys, "why", "0/4.png", "--catalog", str(two_rows))
    lines = out.splitlines()
    assert rc == 0, err
    assert lines[0].startswith(f"sample {IMAGE}  [image]  QUARANTINED: decode_error")  # not the newer unsupported_type
    assert lines[1].startswith("  also         1 other sample came from this file:") and SPEECH[:12] in lines[1]
    section = out.split("== Other samples from this file (1)\n", 1)[1].split("\n\n", 1)[0]
    assert SPEECH in section and "speech" in section and "unsupported_type" in section


def test_modality_picks_the_row_of_that_modality(two_rows, capsys):
    rc, out, _ = run(capsys, "why", FILE, "--modality", "speech", "--catalog", str(two_rows))
    lines = out.splitlines()
    assert rc == 0 and lines[0].startswith(f"sample {SPEECH}  [speech]  REJECTED: unsupported_type")
    assert IMAGE[:12] in lines[1] and "[image] quarantined" in lines[1]
    rc, out, err = run(capsys, "why", FILE, "--modality", "video", "--catalog", str(two_rows))
    assert rc == 2 and err == ("lumina catalog: error: no sample with key '/raw/0/4.png', and none of modality video "
                               "came from a file of that name\n")
    rc, out, err = run(capsys, "why", IMAGE, "--modality", "speech", "--catalog", str(two_rows))
    assert rc == 2 and f"sample {IMAGE} is image, not speech" in err


def test_json_lists_the_other_samples_with_their_total(two_rows, capsys):
    rc, out, _ = run(capsys, "why", FILE, "--json", "--catalog", str(two_rows))
    story = json.loads(out)
    assert story["sample"]["key"] == IMAGE and story["other_samples_total"] == 1
    assert [(o["key"], o["modality"], o["status"]) for o in story["other_samples"]] == [(SPEECH, "speech", "rejected")]


def test_a_sample_alone_in_its_file_has_no_note(base_catalog, capsys):
    rc, out, _ = run(capsys, "why", key(1, 0), "--catalog", str(base_catalog))
    assert rc == 0 and "  also " not in out and "Other samples from this file" not in out


def test_the_api_caps_the_others_listed_but_counts_them_all(two_rows):
    with Catalog.open(two_rows) as cat, cat._connection() as con:
        con.execute("UPDATE samples SET source_uri = ? WHERE key = ?", [FILE, key(2, 3)])
    story = Catalog.open(two_rows, read_only=True).why(IMAGE, others_shown=1)
    assert story["other_samples_total"] == 2 and len(story["other_samples"][1]) == 1


def test_a_quarantined_sample_says_where_its_copy_is(two_rows, tmp_path, capsys):
    rc, out, _ = run(capsys, "why", IMAGE, "--catalog", str(two_rows))
    expected = tmp_path / "quarantine" / IMAGE  # beside the catalog: its workspace
    assert f"  quarantined  {expected}/ (not there:" in out
    expected.mkdir(parents=True)
    (expected / "error.txt").write_text("decode_error: truncated\n")
    (expected / "4.png").write_bytes(b"x")
    rc, out, _ = run(capsys, "why", IMAGE, "--catalog", str(two_rows))
    assert f"  quarantined  {expected}/ (4.png, error.txt)" in out.splitlines()


def test_home_names_the_workspace_holding_the_quarantined_copy(two_rows, tmp_path, capsys):
    copy = tmp_path / "ws" / "quarantine" / IMAGE
    copy.mkdir(parents=True)
    (copy / "error.txt").write_text("decode_error: truncated\n")
    rc, out, _ = run(capsys, "why", IMAGE, "--json", "--catalog", str(two_rows), "--home", str(tmp_path / "ws"))
    assert json.loads(out)["quarantined_copy"] == {"path": str(copy), "exists": True, "files": ["error.txt"]}
    rc, out, _ = run(capsys, "why", key(1, 0), "--json", "--catalog", str(two_rows))
    assert json.loads(out)["quarantined_copy"] is None  # accepted: nothing was copied
