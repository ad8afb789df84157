"""`lumina refresh` of a datasets folder after a row was deleted: the rows after it moved up one
place, and nothing is curated (tests/preprocess/test_refresh_moved_rows_s56b.py has the plan). A
user's 20-row dataset, row 3 deleted: before, inputs_to_curate 16, a second curated and encoded
shard, superseded 1 (the deleted row's sample, "by" the row that took its place), removed 0; now
inputs_to_curate 0, moved 16, removed 1. One real refresh_source, its samples registered by hand
as rejected (nothing to encode), so no curation, Ray or Prefect runs."""

from __future__ import annotations

import io
from pathlib import Path

from catalog import Catalog
from contracts.records import Batch, SampleRecord
from flows.refresh import refresh_source
from preprocess.curate import CurateConfig
from preprocess.modality import get_plugin
from preprocess.refresh import content_key
from preprocess.sources import SourceSpec, list_entries

CFG = CurateConfig(modality="image", caption_column="text")


def _save(folder: Path, rows: list[int]) -> None:
    import shutil

    import datasets
    from PIL import Image

    def png(i: int) -> bytes:
        out = io.BytesIO()
        Image.new("RGB", (4, 4), (i * 50, 1, 2)).save(out, format="PNG")
        return out.getvalue()

    shutil.rmtree(folder, ignore_errors=True)
    features = datasets.Features({"image": datasets.Image(), "text": datasets.Value("string")})
    datasets.Dataset.from_dict({"image": [{"bytes": png(i), "path": f"{i}.png"} for i in rows],
                                "text": [f"picture {i}" for i in rows]}, features=features).save_to_disk(str(folder))


def _samples(home: Path) -> dict[str, tuple[str, str]]:
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        rows = cat.sql("SELECT key, source_uri, status FROM samples")[1]
    return {key: (uri.rsplit("#", 1)[1], status) for key, uri, status in rows}


def test_a_refresh_after_a_deleted_row_moves_the_rows_after_it_and_removes_that_row(tmp_path):
    folder, home = tmp_path / "ds", tmp_path / "home"
    _save(folder, [0, 1, 2, 3])
    plugin = get_plugin("image")
    inputs, _ = plugin.group(list_entries(SourceSpec(str(folder), caption_column="text")), plugin.options({}))
    key = {row: content_key(item, CFG, plugin) for row, item in enumerate(inputs)}
    with Catalog.open(home / "catalog.duckdb") as cat:  # as `lumina curate` left them: too small, all four
        run = cat.start_run("curate", {"source": str(folder.resolve()), "modality": "image", "caption_column": "text"})
        cat.register_batches([Batch(samples=[SampleRecord(key[row], "image", item.uri, "rejected", "min_size: 4 < 24")
                                             for row, item in enumerate(inputs)])], run)
        cat.finish_run(run)
    assert refresh_source(str(folder), home, CFG, backend="local").noop  # the index: what the source holds
    _save(folder, [0, 2, 3])  # row 1 deleted
    result = refresh_source(str(folder), home, CFG, backend="local")
    # before: inputs_to_curate 2, curated {'rejected': 2}, superseded 1, removed 0
    assert result.plan["inputs_to_curate"] == 0 and not result.curated, result
    assert (result.moved, result.removed, result.superseded, result.new_samples) == (2, 1, 0, 0), result
    assert _samples(home) == {key[0]: ("row=0", "rejected"), key[1]: ("row=1", "removed"),
                              key[2]: ("row=1", "rejected"), key[3]: ("row=2", "rejected")}
    assert refresh_source(str(folder), home, CFG, backend="local").noop
