"""A batch registered before is registered again when another run's batch has given its samples or
encodings other rows since: a curation with options A, then B, then A again (the A shard reused as it
was) left the catalog with B's rows while lumina encode encoded A's shard, the latest curated (speech
mel_layout image in the catalog, [80, 1, 1, W] latents; image width 48 beside 32x32 latents)."""

from __future__ import annotations

from catalog import Catalog
from contracts.records import Batch, EncodingRecord, SampleRecord

KEY = "0" * 32


def _curated(layout: str) -> Batch:
    return Batch(samples=[SampleRecord(key=KEY, modality="speech", source_uri="/a.wav", split="train", status="accepted",
                                       meta={"mel_layout": layout})])


def _encoded(shard: str) -> Batch:
    return Batch(encodings=[EncodingRecord(key=KEY, encoder_fingerprint="identity@x", kind="latent", shape=[80, 1, 1, 9],
                                           dtype="float16", shard_uri=shard, member=f"{KEY}.latent.npy")])


def _rows(cat: Catalog) -> tuple:
    return cat.sql("SELECT s.meta->>'mel_layout', e.shard_uri FROM samples s LEFT JOIN encodings e USING (key)")[1][0]


def test_a_batch_registered_before_counts_again_after_another_runs(tmp_path):
    with Catalog.open(tmp_path / "catalog.duckdb") as cat:
        for layout, shard in (("channels", "/enc-a.tar"), ("image", "/enc-b.tar"), ("channels", "/enc-a.tar")):
            run = cat.start_run("curate", {})
            counts = cat.register_batches([_curated(layout), _encoded(shard)], run)
            cat.finish_run(run)
            assert _rows(cat) == (layout, shard)
        assert counts["skipped"] == 0
        run = cat.start_run("curate", {})
        assert cat.register_batches([_curated("channels"), _encoded("/enc-a.tar")], run)["skipped"] == 2  # still current


def test_a_batch_whose_rows_no_other_run_touched_is_skipped_after_unrelated_batches(tmp_path):
    """Another run's batch of other samples since (another folder curated) forces the look at the
    catalog's rows, which finds this batch's still current: skipped, as before."""
    other = Batch(samples=[SampleRecord(key="1" * 32, modality="speech", source_uri="/b.wav", split="train", status="accepted")])
    with Catalog.open(tmp_path / "catalog.duckdb") as cat:
        for batches in ([_curated("channels"), _encoded("/enc-a.tar")], [other], [_curated("channels"), _encoded("/enc-a.tar")]):
            run = cat.start_run("curate", {})
            counts = cat.register_batches(batches, run)
            cat.finish_run(run)
        assert counts["skipped"] == 2 and _rows(cat) == ("channels", "/enc-a.tar")
        assert cat.sql("SELECT count(*) FROM batches")[1][0][0] == 3


def test_a_sample_a_refresh_retired_is_current_again_when_its_batch_comes_back(tmp_path):
    """A refresh retires without a batch (it updates the samples' status): a curation that gives the
    retired sample's batch again, its content back in the source, makes it the catalog's row again."""
    from catalog.source_index import Retirement, retire

    with Catalog.open(tmp_path / "catalog.duckdb") as cat:
        run = cat.start_run("curate", {})
        cat.register_batches([_curated("channels")], run)
        cat.finish_run(run)
        refresh = cat.start_run("refresh", {})
        retire(cat, [Retirement(KEY, "removed", "removed: no longer in the source")], refresh)
        cat.finish_run(refresh)
        run = cat.start_run("curate", {})
        assert cat.register_batches([_curated("channels")], run)["skipped"] == 0
        assert cat.sql("SELECT status FROM samples")[1] == [("accepted",)]
