"""A datasets folder names its rows by position (`<ds>#row=i`): deleting a row moves every later
row to the uri before it. The refresh curated each of them again as changed (decoded, analysed,
written to a new shard, encoded) and marked the deleted row's sample superseded by the row that
took its place (a user's 8-row dataset, row 3 deleted: inputs_to_curate 4, superseded 1, removed 0).
Now the plan says they moved (plan.moves: nothing curated), the deleted row's sample is removed,
the moved samples follow their rows (catalog.source_index.follow_moves) and `why` says where each was.
The plan and the catalog side, without curation, Ray or Prefect."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from catalog import Catalog
from catalog.source_index import commit_listing, follow_moves, retire
from contracts.layout import Workspace
from contracts.records import Batch, SampleRecord
from flows.refresh import _retirements, listing_stage
from preprocess.curate import CurateConfig
from preprocess.modality import get_plugin
from preprocess.refresh import IncrementalCuration, content_key, plan_refresh, source_identity
from preprocess.sources import SourceSpec

CFG = CurateConfig(modality="image", caption_column="text")
SHARD = "/nowhere/curated-x.tar"  # every sample "in a whole curated shard": a moved one is not curated again for want of one


def _png(i: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (i * 40 % 256, 7, 9)).save(out, format="PNG")
    return out.getvalue()


def _save(folder: Path, rows: list[int]) -> None:
    """A save_to_disk folder of the images ``rows`` (each its own picture and caption), written anew."""
    import datasets

    shutil.rmtree(folder, ignore_errors=True)
    features = datasets.Features({"image": datasets.Image(), "text": datasets.Value("string")})
    datasets.Dataset.from_dict({"image": [{"bytes": _png(i), "path": f"img{i}.png"} for i in rows],
                                "text": [f"picture {i}" for i in rows]}, features=features).save_to_disk(str(folder))


def _plan(folder: Path, cat: Catalog):
    spec = SourceSpec(str(folder), caption_column="text")
    with listing_stage(Workspace.at(cat.path.parent)) as stage:
        stage.load_index(cat, source_identity(spec), "image")
        plan = plan_refresh(spec, CFG, stage, curated_shards_fn=lambda keys: {k: SHARD for k in keys})
        commit_listing(cat, source_identity(spec), "image", stage, None)
    return plan


@pytest.fixture
def curated(tmp_path):
    """A 6-row dataset whose samples the catalog has (accepted, keyed as a curation keys them), listed once."""
    folder = tmp_path / "ds"
    _save(folder, list(range(6)))
    cat = Catalog.open(tmp_path / "home" / "catalog.duckdb")
    first = _plan(folder, cat)
    plugin = get_plugin("image")
    keys = {item.uri: content_key(item, CFG, plugin) for item in first.inputs}
    run = cat.start_run("curate", {"source": str(folder.resolve()), "caption_column": "text"})
    cat.register_batches([Batch(samples=[SampleRecord(key, "image", uri, "accepted", caption="c", width=8, height=8)
                                         for uri, key in keys.items()])], run)
    cat.finish_run(run)
    return folder, cat, keys


def _key_at(keys: dict[str, str], folder: Path, row: int) -> str:
    return keys[f"{folder.resolve()}#row={row}"]


def test_deleting_a_row_moves_the_later_rows_and_removes_the_deleted_one(curated):
    folder, cat, keys = curated
    uri = lambda row: f"{folder.resolve()}#row={row}"  # noqa: E731
    _save(folder, [0, 1, 3, 4, 5])  # row 2 deleted
    plan = _plan(folder, cat)
    # before: inputs_to_curate 3 (rows 2-4, each the next row's picture), removed_uris [#row=5]
    assert plan.inputs == [] and plan.counts["inputs_to_curate"] == 0, plan.counts
    assert [(m.key, m.old_uri, m.new_uri) for m in plan.moves] == [
        (_key_at(keys, folder, row + 1), uri(row + 1), uri(row)) for row in (2, 3, 4)]
    assert plan.removed_uris == [uri(2)] and plan.counts["removed_inputs"] == 1, (plan.removed_uris, plan.counts)
    assert plan.shards_to_encode == [SHARD] and not plan.empty

    run = cat.start_run("refresh", {"source": str(folder.resolve())})
    with cat.hold():
        assert follow_moves(cat, [(m.key, m.old_uri, m.new_uri) for m in plan.moves], run) == 3
        retirements = _retirements(cat, plan, IncrementalCuration([], [], {}, {}, {}, {}))
        retire(cat, retirements, run)
    assert [(r.key, r.status) for r in retirements] == [(_key_at(keys, folder, 2), "removed")]
    rows = dict(cat.sql("SELECT key, source_uri || ' ' || status FROM samples")[1])
    assert rows == {_key_at(keys, folder, 0): f"{uri(0)} accepted", _key_at(keys, folder, 1): f"{uri(1)} accepted",
                    _key_at(keys, folder, 2): f"{uri(2)} removed", _key_at(keys, folder, 3): f"{uri(2)} accepted",
                    _key_at(keys, folder, 4): f"{uri(3)} accepted", _key_at(keys, folder, 5): f"{uri(4)} accepted"}
    changes = cat.why(_key_at(keys, folder, 5))["status_changes"][1]
    assert [(c[1], c[2], c[3]) for c in changes] == [("accepted", "accepted", f"moved: from {uri(5)}")]
    assert cat.why(uri(2))["sample"]["key"] == _key_at(keys, folder, 3)  # the row there now
    assert _plan(folder, cat).empty  # and the next refresh has nothing to do


def test_a_row_inserted_is_curated_and_the_rows_after_it_move(curated):
    folder, cat, keys = curated
    uri = lambda row: f"{folder.resolve()}#row={row}"  # noqa: E731
    _save(folder, [0, 1, 9, 2, 3, 4, 5])  # a new picture as row 2
    plan = _plan(folder, cat)
    assert [item.uri for item in plan.inputs] == [uri(2)], plan.counts
    assert [(m.old_uri, m.new_uri) for m in plan.moves] == [(uri(row), uri(row + 1)) for row in range(2, 6)]
    assert plan.removed_uris == [] and plan.counts["removed_inputs"] == 0


def test_a_row_that_keeps_its_place_and_a_copy_of_it_are_no_move(curated):
    """Row 1's picture copied over row 4: row 1 still holds it, so row 4 is a copy, curated (an
    exact_duplicate row), and row 4's own sample superseded, as before."""
    folder, cat, keys = curated
    _save(folder, [0, 1, 2, 3, 1, 5])
    plan = _plan(folder, cat)
    assert [item.uri for item in plan.inputs] == [f"{folder.resolve()}#row=4"] and plan.moves == []


def test_after_lumina_curate_of_the_shortened_dataset_its_rows_are_not_curated_again(curated):
    """`lumina curate` after the deletion registered each row at its new uri (the deleted row's sample
    stays beside the one that took its place): the refresh curated 15 of 19 rows again."""
    folder, cat, keys = curated
    uri = lambda row: f"{folder.resolve()}#row={row}"  # noqa: E731
    _save(folder, [0, 1, 3, 4, 5])
    run = cat.start_run("curate", {"source": str(folder.resolve()), "caption_column": "text"})
    cat.register_batches([Batch(samples=[SampleRecord(_key_at(keys, folder, row + 1), "image", uri(row), "accepted",
                                                      caption="c", width=8, height=8) for row in (2, 3, 4)])], run)
    cat.finish_run(run)
    plan = _plan(folder, cat)
    assert plan.inputs == [] and plan.moves == [] and plan.counts["already_curated"] == 3, plan.counts
    assert plan.in_place == {uri(2): _key_at(keys, folder, 3)}  # beside the deleted row's sample
    retirements = _retirements(cat, plan, IncrementalCuration([], [], {}, {}, {}, {}))
    assert [(r.key, r.status, r.superseded_by) for r in retirements] == [
        (_key_at(keys, folder, 2), "superseded", _key_at(keys, folder, 3))]  # as a curation of row 2 says


def test_a_listings_rejected_last_row_moves_with_its_row_when_a_row_before_it_is_deleted(tmp_path):
    """A csv row naming a missing file is recorded at its position (listing.csv#row=3): deleting row 0
    left no row 3, and the refresh marked the record `removed: no longer in the source` while the row
    was still there, as row 2, and recorded it nowhere. Media rows are named by their files: no move."""
    from catalog.source_index import current_samples_among
    from preprocess.curate import leftover_candidate

    folder = tmp_path / "listing"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.png").write_bytes(_png(i))
    lines = [f"{i}.png,picture {i}" for i in range(3)] + ["gone.png,a file not there"]
    (folder / "listing.csv").write_text("path,caption\n" + "\n".join(lines) + "\n")
    cat = Catalog.open(tmp_path / "home" / "catalog.duckdb")
    spec = SourceSpec(str(folder / "listing.csv"))
    cfg = CurateConfig(modality="image")

    def plan():
        with listing_stage(Workspace.at(cat.path.parent)) as stage:
            stage.load_index(cat, source_identity(spec), "image")
            out = plan_refresh(spec, cfg, stage, curated_shards_fn=lambda keys: {k: SHARD for k in keys},
                               current_fn=lambda keys: current_samples_among(cat, keys, "image"))
            commit_listing(cat, source_identity(spec), "image", stage, None)
        return out

    first = plan()
    plugin = get_plugin("image")
    row = leftover_candidate(first.leftovers[0], "image", cfg.holdout_percent).record
    run = cat.start_run("curate", {"source": source_identity(spec)})
    cat.register_batches([Batch(samples=[row, *(SampleRecord(content_key(item, cfg, plugin), "image", item.uri, "accepted",
                                                             caption="c", width=8, height=8) for item in first.inputs)])], run)
    cat.finish_run(run)
    (folder / "listing.csv").write_text("path,caption\n" + "\n".join(lines[1:]) + "\n")
    listing = str((folder / "listing.csv").resolve())
    after = plan()
    assert [(m.key, m.old_uri, m.new_uri) for m in after.moves] == [(row.key, f"{listing}#row=3", f"{listing}#row=2")]
    assert after.removed_uris == [str((folder / "0.png").resolve())] and after.counts["removed_inputs"] == 1, after.counts
    assert after.inputs == [] and after.leftovers == []
