"""A refresh's plan draws a bar while it hashes the files that are new or changed, and while it
reads the inputs `lumina curate` took in before the first refresh (preprocess/refresh.py,
PROGRESS_FROM files or more): on a user's 20,000 images the first refresh said nothing for its
4-7 s of hashing before the analysis bar, and would for minutes at a million."""

from __future__ import annotations

from pathlib import Path

import preprocess.refresh as planner
from catalog import Catalog
from catalog.source_index import commit_listing
from contracts.layout import Workspace
from flows.refresh import listing_stage
from preprocess.curate import CurateConfig
from preprocess.sources import SourceSpec


def _plan(src: Path, home: Path):
    ws = Workspace.at(home)
    cat = Catalog.open(ws.catalog)
    spec = SourceSpec(str(src))
    source = planner.source_identity(spec)
    with listing_stage(ws) as stage:
        stage.load_index(cat, source, "image")
        plan = planner.plan_refresh(spec, CurateConfig(modality="image"), stage)
        commit_listing(cat, source, "image", stage, None)
    return plan


def test_the_plan_shows_a_bar_while_it_hashes(tmp_path, capsys, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"{i}.png").write_bytes(f"pixels of {i}".encode())
        (src / f"{i}.txt").write_text(f"caption {i}")
    monkeypatch.setattr(planner, "PROGRESS_FROM", 6, raising=False)
    first = _plan(src, tmp_path / "home")
    assert first.counts["hashed"] == 6
    assert "image: hash new or changed files" in capsys.readouterr().err  # before: nothing
    (src / "3.png").write_bytes(b"pixels of 3")
    (src / "3.txt").write_text("caption 3")
    assert _plan(src, tmp_path / "home").counts["hashed"] == 2  # fewer than PROGRESS_FROM: no bar
    assert "hash new or changed files" not in capsys.readouterr().err
