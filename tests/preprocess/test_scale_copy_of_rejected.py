"""A copy of a rejected (or quarantined) file that a later run meets is an exact_duplicate row of it,
as a copy of an accepted one is: every file keeps exactly one current row.

Found on a user's 20,000-image folder (bench/bench_scale.py): an exact copy got the same content
key as the rejected sample of its original, so registering it moved that row to the copy and the
original file had no row left (the catalog asked only accepted samples who else had the content)."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from catalog import Catalog
from flows.refresh import refresh_source
from flows.steps import curate_step
from preprocess.curate import CurateConfig
from preprocess.encode import EncodeConfig

CFG, ENCODE = CurateConfig(options={"vae_factor": 1}), EncodeConfig(text="phone")


def _folder(root: Path) -> Path:
    """Two accepted noise images, a flat one (rejected: solid_colour) and a cut-short PNG (quarantined)."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(root / f"ok{i}.png")
        (root / f"ok{i}.txt").write_text(f"noise {i}")
    Image.fromarray(np.full((40, 40, 3), 120, np.uint8)).save(root / "flat.png")
    (root / "flat.txt").write_text("a flat grey square")
    Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(root / "cut.png")
    (root / "cut.png").write_bytes((root / "cut.png").read_bytes()[:200])
    (root / "cut.txt").write_text("a picture cut short")
    return root


def _copy(src: Path, dst: Path, stem: str, as_stem: str) -> None:
    for suffix in (".png", ".txt"):
        shutil.copy(src / f"{stem}{suffix}", dst / f"{as_stem}{suffix}")


def _rows(home: Path) -> dict[str, list[tuple[str, str]]]:
    """file name -> [(status, reason kind)] of its current rows."""
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        rows = cat.sql("SELECT source_uri, status, split_part(reason, ':', 1) FROM samples "
                       "WHERE status NOT IN ('removed', 'superseded') ORDER BY source_uri")[1]
    out: dict[str, list[tuple[str, str]]] = {}
    for uri, status, kind in rows:
        out.setdefault(uri.rsplit("/", 1)[-1], []).append((status, kind))
    return out


def test_a_refresh_meets_copies_of_a_rejected_and_a_quarantined_file(tmp_path):
    src, home = _folder(tmp_path / "src"), tmp_path / "home"
    with contextlib.redirect_stderr(io.StringIO()):
        refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local")
        _copy(src, src, "flat", "z_flat_copy")
        _copy(src, src, "cut", "z_cut_copy")
        added = refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local")
    assert added.curated == {"rejected": 2} and added.superseded == 0, added
    rows = _rows(home)
    # before: flat.png and cut.png had no row (their copies had taken their keys)
    assert rows["flat.png"] == [("rejected", "solid_colour")], rows
    assert rows["cut.png"] == [("quarantined", "decode_error")], rows
    assert rows["z_flat_copy.png"] == rows["z_cut_copy.png"] == [("rejected", "exact_duplicate")], rows
    assert sorted(rows) == ["cut.png", "flat.png", "ok0.png", "ok1.png", "z_cut_copy.png", "z_flat_copy.png"]


def test_a_curate_of_another_folder_meets_a_copy_of_a_rejected_file(tmp_path):
    src, other, home = _folder(tmp_path / "src"), tmp_path / "other", tmp_path / "home"
    other.mkdir()
    _copy(src, other, "flat", "flat")
    with contextlib.redirect_stderr(io.StringIO()):
        curate_step(str(src), str(home), CFG, backend="local")
        curate_step(str(other), str(home), CFG, backend="local")
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        rows = cat.sql("SELECT source_uri, status, split_part(reason, ':', 1) FROM samples ORDER BY source_uri")[1]
    assert [(uri, status, kind) for uri, status, kind in rows if uri.endswith("flat.png")] == [
        (str(other / "flat.png"), "rejected", "exact_duplicate"), (str(src / "flat.png"), "rejected", "solid_colour")]
