"""A refresh compares the near duplicates it takes in with what the catalog kept: a re-compressed
copy of a kept image came in as a new sample (found only after a full re-scan); a near copy of a
file deleted in the same refresh is the new sample."""

from __future__ import annotations

from pathlib import Path

import duckdb

from flows.refresh import refresh_source
from preprocess.curate import CurateConfig
from preprocess.encode import EncodeConfig
from tests.preprocess.test_near_duplicates_across_runs import _photo


def _near_copy(i: int):
    """The same picture with two pixels changed: other bytes, other key, pHash distance ~0."""
    import numpy as np
    from PIL import Image

    a = np.array(_photo(i))
    a[0, 0] ^= 8
    a[-1, -1] ^= 8
    return Image.fromarray(a)


def _refresh(src, home):
    return refresh_source(str(src), home, CurateConfig(modality="image"), encode_cfg=EncodeConfig(text="phone"),
                          backend="local")


def _status(home: Path) -> dict[str, tuple[str, str | None]]:
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        return {Path(u).name: (s, r) for u, s, r in con.execute("SELECT source_uri, status, reason FROM samples").fetchall()}
    finally:
        con.close()


def test_a_near_copy_of_a_kept_image_is_rejected_and_of_a_deleted_one_kept(tmp_path):
    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    for i in range(3):
        _photo(i).save(src / f"photo{i}.png")
        (src / f"photo{i}.txt").write_text(f"a photo number {i}")
    assert _refresh(src, home).curated == {"accepted": 3}
    _near_copy(0).save(src / "again.png")  # a near copy of photo0, which stays
    (src / "again.txt").write_text("the first photo again")
    (src / "photo1.png").unlink()  # and photo1 leaves, with a near copy taking its place
    (src / "photo1.txt").unlink()
    _near_copy(1).save(src / "replaced.png")
    (src / "replaced.txt").write_text("the second photo, re-saved")
    _refresh(src, home)
    rows = _status(home)
    assert rows["again.png"][0] == "rejected" and rows["again.png"][1].startswith("phash_dedup: near duplicate of"), rows
    assert rows["replaced.png"] == ("accepted", None), rows
    assert rows["photo1.png"][0] == "removed" and rows["photo0.png"] == ("accepted", None)


def test_when_the_kept_one_of_a_near_pair_leaves_its_near_copy_is_curated_again(tmp_path):
    """The near copy stayed rejected against a removed sample: the picture was gone from training
    although a copy of it was still in the folder."""
    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    for i in range(2):
        _photo(i).save(src / f"photo{i}.png")
        (src / f"photo{i}.txt").write_text(f"a photo number {i}")
    _near_copy(0).save(src / "zz_again.png")
    (src / "zz_again.txt").write_text("the first photo again")
    _refresh(src, home)
    assert _status(home)["zz_again.png"][0] == "rejected"
    (src / "photo0.png").unlink()
    (src / "photo0.txt").unlink()
    _refresh(src, home)
    rows = _status(home)
    assert rows["photo0.png"][0] == "removed" and rows["zz_again.png"] == ("accepted", None), rows
    assert _refresh(src, home).noop  # and it stays so
