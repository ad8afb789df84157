"""Shards checked against the sizes the catalog records, before a run trains: one deleted or cut short
since it was encoded is named at once (not when an epoch's plan reaches it, hours into a run), and
from then on every reader (the trainer's and each loader worker's) holds each shard to that size."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from training.buckets import BatchBudget
from training.stream import DamagedShard, ManifestIndex, Position, ShardStream, batch_loader
from tests.training.test_stream_recorded_shapes import registered


def tokens(shape):
    return shape[-1] * shape[-2]


def test_a_deleted_and_a_cut_shard_are_named_before_training(tmp_path):
    catalog, shards = registered(tmp_path, [(4, 1, 8, 8)] * 12)
    index = ManifestIndex.from_catalog(catalog, "m")
    assert index.recorded_bytes == {s: os.path.getsize(s) for s in shards}
    index.check_shards()
    assert index.checked and index.checked_size(shards[1]) == os.path.getsize(shards[1])
    whole = os.path.getsize(shards[2])
    os.unlink(shards[0])
    Path(shards[2]).write_bytes(Path(shards[2]).read_bytes()[:1536])  # cut where a header begins: still a tar to tarfile
    index = ManifestIndex.from_catalog(catalog, "m")
    with pytest.raises(DamagedShard) as e:
        index.check_shards()
    assert str(e.value).startswith(f"encoded shard {shards[0]} is missing") and "lumina encode" in str(e.value)
    assert str(e.value).endswith("; 1 more of manifest m@v1's 3 shards are missing or changed too")
    assert not index.checked and index.checked_size(shards[1]) is None
    os.unlink(shards[2])
    Path(shards[0]).write_bytes(b"")
    with pytest.raises(DamagedShard, match=f"encoded shard {shards[0]} is 0 bytes where the catalog records"):
        ManifestIndex.from_catalog(catalog, "m").check_shards()
    assert whole > 1536


def rewritten_with_one_member_more(shard: str) -> None:
    """The same samples and shapes at other offsets: a valid shard another tool wrote at the same path."""
    with tarfile.open(shard) as tar:
        rows = [(i, tar.extractfile(i).read()) for i in tar]
    tmp = shard + ".new"
    with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
        extra = tarfile.TarInfo("aaaa.txt")
        extra.size = 30_000  # past tar's padding to 10240 bytes: the size changes
        tar.addfile(extra, io.BytesIO(b"x" * extra.size))
        for info, data in rows:
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, shard)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_shard_changed_after_the_check_stops_every_reader_that_meets_it(tmp_path, workers):
    """A process that first read the shard after it changed took the new file as it was: it planned from
    it in silence while one that read it before planned from the old one (two loader workers, two ranks
    on other batches than each other's)."""
    catalog, shards = registered(tmp_path, [(4, 1, 8, 8)] * 12)
    index = ManifestIndex.from_catalog(catalog, "m")
    index.check_shards()
    rewritten_with_one_member_more(shards[1])
    stream = ShardStream(index, BatchBudget(max_samples=4), tokens, seed=1, shuffle_buffer=4)
    loader = batch_loader(stream, Position(), workers=workers)
    try:
        with pytest.raises(DamagedShard) as e:
            for _ in range(6):
                next(loader)
    finally:
        getattr(loader, "close", lambda: None)()
    assert str(e.value).startswith(f"encoded shard {shards[1]} changed while training read it")
    unchecked = ManifestIndex.from_catalog(catalog, "m")  # not checked: read as it is now, as before
    assert sum(len(b) for b in ShardStream(unchecked, BatchBudget(max_samples=4), tokens).epoch_plan(0)) == 12
