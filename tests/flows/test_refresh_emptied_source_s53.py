"""A refresh of a source that lists no input but a stray file (an unmounted share's mount point with a
NOT_MOUNTED marker or a README, an emptied folder with a .DS_Store) marked every accepted sample
removed: only a listing of no entries at all was refused. Walkthrough of session 53:
`lumina refresh src2 --modality image --local` after `mv src2/* away/; echo notes > src2/README.md`
printed `removed 10` and left no sample accepted."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from flows.refresh import EmptySourceError, refresh_source
from preprocess.encode import EncodeConfig

ENCODE = EncodeConfig(text="phone")  # no model to load


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    from preprocess.image.demo_corpus import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("emptied"), num_digits=6, num_shapes=0).root / "digits"


def _statuses(home: Path) -> dict[str, int]:
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        return dict(con.execute("SELECT status, count(*) FROM samples GROUP BY status").fetchall())
    finally:
        con.close()


@pytest.mark.parametrize("stray", ["NOT_MOUNTED", ".DS_Store", "README.md"])
def test_a_source_left_with_only_a_stray_file_is_refused_and_keeps_its_samples(tmp_path, digits, stray):
    src, home = tmp_path / "src", tmp_path / "home"
    shutil.copytree(digits, src)
    first = refresh_source(str(src), home, encode_cfg=ENCODE, backend="local")
    accepted = first.curated["accepted"]
    assert accepted > 0
    for f in src.iterdir():  # the share is unmounted: only what lies in the mount point is left
        f.unlink()
    (src / stray).write_text("the share is not mounted\n")

    with pytest.raises(EmptySourceError, match=f"lists no image input, only 1 other entry.*{accepted} accepted.*--allow-empty-source"):
        refresh_source(str(src), home, encode_cfg=ENCODE, backend="local")
    assert _statuses(home).get("accepted") == accepted

    gone = refresh_source(str(src), home, encode_cfg=ENCODE, backend="local", allow_empty_source=True)
    assert gone.removed == accepted and not _statuses(home).get("accepted")


def test_a_source_that_never_had_an_input_is_not_refused(tmp_path):
    """Only what would retire accepted samples is refused: a folder holding a README alone refreshes."""
    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    (src / "README.md").write_text("nothing yet\n")
    for _ in range(2):
        refresh_source(str(src), home, encode_cfg=ENCODE, backend="local")
    (src / "README.md").unlink()
    (src / "NOTES.md").write_text("still nothing\n")
    refresh_source(str(src), home, encode_cfg=ENCODE, backend="local")
