"""`lumina refresh` of a datasets folder holding one image twice, the copy's row (0) before the
original's (1), after a later row was deleted: the original's row number now holds the next image
(moved there), the copy's row is unchanged. Before, the refresh removed the original's sample and
left the copy rejected as an exact_duplicate of that removed sample: the image, still in the
dataset, had no current sample. Now the copy is curated again, as a near copy is when its kept
picture leaves (catalog.source_index.near_copies_of), and holds the sample. One real refresh_source
of 4x4 pictures (rejected for their size: nothing to encode), the catalog registered by hand.
Also a folder's file edited while a copy of it lies beside it: the copy stayed rejected as a duplicate
of the sample the edit superseded; now it holds that sample."""

from __future__ import annotations

from pathlib import Path

from catalog import Catalog
from contracts.records import Batch, EncodingRecord, SampleRecord
from flows.refresh import refresh_source
from preprocess.curate import CurateConfig
from preprocess.modality import get_plugin
from preprocess.refresh import content_key, duplicate_key
from preprocess.sources import SourceSpec, list_entries
from tests.flows.test_refresh_moved_rows_s56b import _save

CFG = CurateConfig(modality="image", caption_column="text")


def _current(home: Path) -> dict[str, tuple[str, str]]:
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        rows = cat.sql("SELECT key, source_uri, status FROM samples WHERE status NOT IN ('removed', 'superseded')")[1]
    return {key: (uri.rsplit("#", 1)[-1], status) for key, uri, status in rows}


def test_the_copy_of_an_image_whose_row_another_took_holds_its_sample(tmp_path):
    folder, home = tmp_path / "ds", tmp_path / "home"
    _save(folder, [1, 1, 2, 3])  # rows 0 and 1: one image
    plugin = get_plugin("image")
    inputs, _ = plugin.group(list_entries(SourceSpec(str(folder), caption_column="text")), plugin.options({}))
    key = [content_key(item, CFG, plugin) for item in inputs]
    copy = duplicate_key(key[0], inputs[0].name, inputs[1].name)
    with Catalog.open(home / "catalog.duckdb") as cat:  # row 0 a copy of row 1, whose sample is accepted and encoded
        run = cat.start_run("curate", {"source": str(folder.resolve()), "modality": "image", "caption_column": "text"})
        samples = [SampleRecord(copy, "image", inputs[0].uri, "rejected", f"exact_duplicate: same content as {key[1]}"),
                   SampleRecord(key[1], "image", inputs[1].uri, "accepted", caption="picture 1", split="train"),
                   *(SampleRecord(key[i], "image", inputs[i].uri, "rejected", "min_size: 4 < 24") for i in (2, 3))]
        encodings = [EncodingRecord(key[1], "identity@v1", kind, [3, 1, 4, 4], "float16", "/shards/e.tar", f"{key[1]}.{kind}.npy")
                     for kind in ("latent", "text")]
        cat.register_batches([Batch(samples=samples, encodings=encodings)], run)
        cat.finish_run(run)
    assert refresh_source(str(folder), home, CFG, backend="local").noop  # the index: what the source holds
    _save(folder, [1, 2, 3])  # the last row 1 and the rows after it moved up: row 0 unchanged
    result = refresh_source(str(folder), home, CFG, backend="local")
    assert result.moved == 2 and result.removed == 0, result
    # before: {'row=0': the copy row, rejected}, key[1] removed at row=1
    current = _current(home)
    assert current[key[1]][0] == "row=0" and copy not in current, current
    assert {current[key[2]][0], current[key[3]][0]} == {"row=1", "row=2"}, current
    assert refresh_source(str(folder), home, CFG, backend="local").noop


def _picture(path: Path, level: int) -> None:
    from PIL import Image

    Image.new("RGB", (4, 4), (level, 1, 2)).save(path)
    path.with_suffix(".txt").write_text(f"picture {level}")


def test_the_copy_of_an_edited_file_holds_its_old_picture(tmp_path):
    folder, home = tmp_path / "pics", tmp_path / "home"
    folder.mkdir()
    _picture(folder / "a.png", 50)
    _picture(folder / "b.png", 50)  # a copy of a.png
    cfg = CurateConfig(modality="image")
    plugin = get_plugin("image")
    inputs, _ = plugin.group(list_entries(SourceSpec(str(folder))), plugin.options({}))
    a, b = sorted(inputs, key=lambda item: item.name)
    key = content_key(a, cfg, plugin)
    copy = duplicate_key(key, b.name, a.name)
    with Catalog.open(home / "catalog.duckdb") as cat:  # a.png's sample accepted and encoded, b.png its copy
        run = cat.start_run("curate", {"source": str(folder.resolve()), "modality": "image"})
        samples = [SampleRecord(key, "image", a.uri, "accepted", caption="picture 50", split="train"),
                   SampleRecord(copy, "image", b.uri, "rejected", f"exact_duplicate: same content as {key}")]
        encodings = [EncodingRecord(key, "identity@v1", kind, [3, 1, 4, 4], "float16", "/shards/e.tar", f"{key}.{kind}.npy")
                     for kind in ("latent", "text")]
        cat.register_batches([Batch(samples=samples, encodings=encodings)], run)
        cat.finish_run(run)
    assert refresh_source(str(folder), home, cfg, backend="local").noop
    _picture(folder / "a.png", 150)  # edited: b.png alone holds the old picture now
    refresh_source(str(folder), home, cfg, backend="local")
    current = _current(home)
    # before: key superseded (by a.png's new sample), b.png's row still rejected as its copy
    assert current.get(key, ("",))[0].endswith("b.png") and copy not in current, current
    assert refresh_source(str(folder), home, cfg, backend="local").noop
