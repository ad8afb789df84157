"""A rejected multi-view folder that changes and is still rejected: lumina refresh supersedes its old
row by the new one, as it does a changed rejected image, so one current row says why it is out
(a 2026-12-05 walkthrough saw a row per change pile up). `lumina curate` run again on a changed
source adds rows for any modality; refresh is the command that follows a source's changes."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from catalog import Catalog
from flows.refresh import refresh_source
from preprocess.curate import CurateConfig

from .test_view_decoding import AZIMUTHS, encoded, rendered_object


def _odd_set(folder: Path, odd_side: int) -> None:
    """Four views of a rendered object, the last of another size: rejected view_size."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"v{i}.png" for i in range(4)]
    for name, az, side in zip(names, AZIMUTHS, (64, 64, 64, odd_side)):
        (folder / name).write_bytes(encoded(Image.fromarray(rendered_object(az, side)[0])))
    cams = [{"file": n, "elevation": 20.0, "azimuth": az, "radius": 2.0} for n, az in zip(names, AZIMUTHS)]
    (folder / "cameras.json").write_text(json.dumps({"convention": "spherical", "views": cams}))
    (folder / "caption.txt").write_text("a red test object")


def test_a_changed_rejected_folder_supersedes_its_old_row(tmp_path):
    src, home = tmp_path / "src", tmp_path / "home"
    _odd_set(src / "odd", 48)
    cfg = CurateConfig(modality="multiview")
    first = refresh_source(str(src), home, cfg, backend="local")
    _odd_set(src / "odd", 40)  # changed, still rejected
    second = refresh_source(str(src), home, cfg, backend="local")
    assert first.curated == second.curated == {"rejected": 1} and second.superseded == 1, second
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        # by status, not by run: two refreshes within one second have run ids that sort by their random part
        _, rows = cat.sql("SELECT status, reason, key FROM samples ORDER BY status DESC")
    assert [s for s, _, _ in rows] == ["superseded", "rejected"], rows
    assert rows[1][1].startswith("view_size: v3.png is 40x40") and rows[0][1] == f"superseded: by {rows[1][2]}", rows
