"""What a refresh plans, straight from plan_refresh and its ListingStage (no curation, no Ray): which
inputs are new or changed, which left, which bytes are hashed again. The listing and its diff
against the source index are SQL in a scratch DuckDB file; these pin down what that SQL decides."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from catalog import Catalog
from catalog.source_index import commit_listing, index_entries, samples_gone_from_source
from contracts.layout import Workspace
from contracts.records import Batch, SampleRecord
from flows.refresh import listing_stage
from preprocess.curate import CurateConfig
from preprocess.refresh import plan_refresh, source_identity, source_scope
from preprocess.sources import SourceSpec

CFG = CurateConfig(modality="image")


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _plan(src: Path, home: Path, gone: bool = False, ask: tuple[str, ...] = ()):
    """plan_refresh of ``src`` against the index in ``home``'s catalog, the listing then committed;
    the plan's present_names of the uris ``ask`` (the stage answers them) in ``plan.asked``."""
    ws = Workspace.at(home)
    cat = Catalog.open(ws.catalog)
    spec = SourceSpec(str(src))
    source = source_identity(spec)
    with listing_stage(ws) as stage:
        stage.load_index(cat, source, "image")
        gone_fn = (lambda listed: samples_gone_from_source(cat, source, "image", *source_scope(spec), listed)) if gone else None
        plan = plan_refresh(spec, CFG, stage, gone_fn)
        plan.asked = plan.present_names([str(src / name) for name in ask])
        commit_listing(cat, source, "image", stage, None)
    return plan


def _rewrite_keeping_mtime(path: Path, data: bytes) -> None:
    st = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.fixture
def source(tmp_path) -> Path:
    src = tmp_path / "src"
    for stem in ("a", "b", "e", "f", "g", "x"):
        _write(src / f"{stem}.png", f"pixels of {stem}".encode())
        _write(src / f"{stem}.txt", f"caption of {stem}".encode())
    for suffix in (".png", ".txt"):  # y: the same bytes as x (an exact duplicate of it)
        shutil.copy(src / f"x{suffix}", src / f"y{suffix}")
    _write(src / "c.png", b"pixels of c")
    _write(src / "notes.md", b"no media")  # a leftover (unsupported_type)
    return src


def test_a_second_refresh_plans_only_what_changed_and_what_left(source, tmp_path):
    home = tmp_path / "home"
    first = _plan(source, home)
    assert [i.name for i in first.inputs] == ["a.png", "b.png", "c.png", "e.png", "f.png", "g.png", "x.png", "y.png"]
    assert first.counts["hashed"] == first.counts["entries"] == 16 and first.indexed_entries == 0

    _write(source / "a.txt", b"a new caption of a")  # changed caption: a is curated again
    (source / "b.png").unlink()  # b's media left: b.png removed, b.txt now an orphan caption
    os.utime(source / "c.png", ns=(1, 10**18))  # touched, same bytes: hashed again, no change
    (source / "e.txt").unlink()  # e's caption left: e curated again (now uncaptioned)
    _write(source / "d.png", b"pixels of d")  # new
    (source / "notes.md").unlink()  # a leftover left
    (source / "x.png").unlink()  # x leaves, its copy y stays: y is curated again (x's sample moves there)
    (source / "x.txt").unlink()
    _rewrite_keeping_mtime(source / "f.txt", b"another caption of f")  # other size, same mtime: hashed, changed
    _rewrite_keeping_mtime(source / "g.txt", b"caption of G")  # same size, same mtime: taken as unchanged (make's rule)

    plan = _plan(source, home, ask=("d.png", "b.txt", "x.png"))
    assert [i.name for i in plan.inputs] == ["a.png", "d.png", "e.png", "f.png", "y.png"]
    assert [lo.entry.name for lo in plan.leftovers] == ["b.txt"]
    assert plan.removed_uris == [str(source / n) for n in ("b.png", "notes.md", "x.png", "x.txt")]
    assert plan.recurated_uris[str(source / "a.png")] == [str(source / "a.png"), str(source / "a.txt")]
    assert plan.indexed_entries == 16
    assert plan.counts == {"entries": 12, "inputs": 7, "hashed": 4, "changed_entries": 4, "removed_entries": 5,
                           "inputs_to_curate": 5, "leftovers_to_record": 1, "removed_inputs": 3,
                           "already_curated": 0}
    assert plan.asked == {str(source / "d.png"): "d.png", str(source / "b.txt"): "b.txt"}  # x.png left

    again = _plan(source, home)
    assert again.empty and again.counts["hashed"] == 0 and again.counts["changed_entries"] == 0
    with Catalog.open(Workspace.at(home).catalog, read_only=True) as cat:
        cols, rows = index_entries(cat, source_identity(SourceSpec(str(source))), "image")
    index = {r[0]: dict(zip(cols, r)) for r in rows}
    present = sorted(n for n, r in index.items() if r["status"] == "present")
    assert present == ["a.png", "a.txt", "b.txt", "c.png", "d.png", "e.png", "f.png", "f.txt", "g.png", "g.txt", "y.png", "y.txt"]
    assert {n for n, r in index.items() if r["status"] == "removed" and r["removed_at"]} == {"b.png", "e.txt", "notes.md",
                                                                                              "x.png", "x.txt"}
    last = max(r["last_seen"] for r in index.values())
    assert all(index[n]["last_seen"] == last for n in present)  # seen by the last refresh, changed or not
    assert index["b.txt"]["input_name"] is None and index["a.txt"]["size"] == len(b"a new caption of a")


def test_samples_of_inputs_gone_before_the_first_refresh_are_found_against_the_staged_listing(source, tmp_path):
    """`lumina curate` took in old.png, deleted before any refresh: the index never saw it, the
    anti-join of the source's samples against the staged listing finds it."""
    home = tmp_path / "home"
    with Catalog.open(Workspace.at(home).catalog) as cat:
        run = cat.start_run("curate", {"source": str(source)})
        cat.register_batches([Batch(samples=[SampleRecord(f"{i:032x}", "image", str(source / name), "accepted", caption="c",
                                                          width=8, height=8)
                                             for i, name in enumerate(["a.png", "old.png"])])], run)
        cat.finish_run(run)
    plan = _plan(source, home, gone=True)
    assert plan.removed_uris == [str(source / "old.png")] and plan.counts["removed_inputs"] == 1


def test_the_stage_folder_is_removed_after_the_refresh(tmp_path):
    with listing_stage(Workspace.at(tmp_path / "home")) as stage:
        folder = stage.folder
        assert folder.is_dir() and folder.parent == tmp_path / "home" / "tmp"
    assert not folder.exists()


def test_a_stage_folder_a_killed_refresh_left_is_removed_by_the_next_and_an_error_removes_its_own(tmp_path):
    """SIGKILL or an OOM kill runs no cleanup: its stage (GBs at millions of entries) stayed for good."""
    ws = Workspace.at(tmp_path / "home")
    with listing_stage(ws, "/data/src") as stage:
        folder = stage.folder
    folder.mkdir(parents=True)
    (folder / "stage.duckdb").write_bytes(b"left by a killed refresh")
    with listing_stage(ws, "/data/src") as stage:
        assert stage.folder == folder and not (folder / "stage.duckdb").read_bytes().startswith(b"left")
    assert not folder.exists()
    with pytest.raises(RuntimeError), listing_stage(ws, "/data/src"):
        raise RuntimeError("the refresh failed")
    assert not folder.exists()
    with listing_stage(ws, "/data/other") as other:
        assert other.folder != folder  # one per source: two sources refresh at once
