"""Disk trouble during a days-long run: an encoded shard the frozen manifest names is deleted, cut
short or has a damaged member, before the run plans from it or after. The user sees one line naming
the shard and what to do (lumina train prints a ValueError's first line and exits 2), from the
training process and from a loader worker alike; never numpy's, json's or tarfile's bare error, and
never an epoch quietly planned without the samples a cut took."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest

from training.buckets import BatchBudget
from training.stream import DamagedShard, ManifestIndex, Position, ShardStream, _tar_table, batch_loader
from training.synthetic import write_synthetic_shards


def tokens(shape):
    return shape[-1] * shape[-2]


@pytest.fixture
def manifest(tmp_path):
    """24 samples of one shape in 6 shards of 4: 6 batches of 4 an epoch."""
    return write_synthetic_shards(tmp_path, [(4, 1, 8, 8)] * 24, per_shard=4)


def shards_of(m) -> list[str]:
    return sorted({x.encodings["latent"][0] for x in m.members})


def stream_of(m) -> ShardStream:
    return ShardStream(ManifestIndex(m), BatchBudget(max_samples=4), tokens, seed=3, shuffle_buffer=4)


def first_error(m, workers: int) -> tuple[int, BaseException]:
    """(batches handed out, the error) of a loader over the first 12 batches (two epochs)."""
    loader = batch_loader(stream_of(m), Position(), workers=workers)
    n = 0
    try:
        for _ in range(12):
            next(loader)
            n += 1
    except Exception as e:  # noqa: BLE001 - the test looks at it
        return n, e
    finally:
        getattr(loader, "close", lambda: None)()
    raise AssertionError(f"no error in {n} batches")


def assert_one_line(e: BaseException, shard: str, *says: str) -> None:
    assert isinstance(e, DamagedShard), f"{type(e).__name__}: {e}"
    text = str(e)
    assert "\n" not in text and f"encoded shard {shard}" in text and "lumina encode" in text, text
    for s in says:
        assert s in text, text


def member_offsets(path: str) -> dict[str, tuple[int, int]]:
    with tarfile.open(path) as tar:
        return {i.name: (i.offset, i.offset_data) for i in tar}


@pytest.mark.parametrize("workers", [0, 2])
def test_a_deleted_shard_is_named_with_what_to_do(manifest, workers):
    """It was errno's bare line ("No such file or directory: '...'"), and from a loader worker torch's
    "Caught FileNotFoundError in DataLoader worker process 0." with no path at all."""
    gone = shards_of(manifest)[2]
    os.unlink(gone)
    _, e = first_error(manifest, workers)
    assert_one_line(e, gone, "is missing")


@pytest.mark.parametrize("workers", [0, 2])
def test_a_shard_cut_at_a_member_boundary_is_damaged_not_a_shorter_epoch(manifest, workers, caplog):
    """Cut where a header begins, a tar reads as a shorter valid archive: the epoch was planned without
    the lost samples, said only as a count "not in their shards", and training went on."""
    cut = shards_of(manifest)[3]
    offsets = member_offsets(cut)
    at = sorted(o for o, _ in offsets.values())[len(offsets) // 2]
    Path(cut).write_bytes(Path(cut).read_bytes()[:at])
    with pytest.raises(DamagedShard) as e:
        _tar_table(cut)
    assert_one_line(e.value, cut, "is cut short")
    with caplog.at_level("WARNING", logger="training.stream"):
        n, e2 = first_error(manifest, workers)
    assert_one_line(e2, cut, "is cut short")
    assert n < 6 and not caplog.records  # stopped within its first epoch; no "not in their shards" warning


@pytest.mark.parametrize("workers", [0, 2])
def test_a_member_that_does_not_decode_is_named(manifest, workers):
    """A latent whose .npy header was overwritten: ast's SyntaxError (a traceback from lumina train),
    or from a worker "Caught SyntaxError in DataLoader worker process 1."."""
    bad = shards_of(manifest)[1]
    raw = bytearray(Path(bad).read_bytes())
    name = next(n for n in member_offsets(bad) if n.endswith(".latent.npy"))
    data = member_offsets(bad)[name][1]
    raw[data + 12:data + 20] = b"garbage!"  # inside the header's dict literal
    Path(bad).write_bytes(bytes(raw))
    _, e = first_error(manifest, workers)
    assert_one_line(e, bad, f"member {name} does not decode", "SyntaxError")


@pytest.mark.parametrize("workers", [0, 2])
def test_a_meta_member_that_does_not_decode_is_named(manifest, workers):
    """json's JSONDecodeError: from a worker torch could not rebuild it and raised a RuntimeError
    (a traceback from lumina train, exit 1)."""
    bad = shards_of(manifest)[0]
    raw = bytearray(Path(bad).read_bytes())
    for name, (_, data) in member_offsets(bad).items():
        if name.endswith(".json"):
            raw[data:data + 2] = b"}{"
    Path(bad).write_bytes(bytes(raw))
    _, e = first_error(manifest, workers)
    assert_one_line(e, bad, ".json does not decode", "JSONDecodeError")


def test_a_shard_cut_after_the_plan_read_its_headers_is_named(manifest):
    """Mid-epoch: the plan (headers only) is made, then the shard is cut short; reading a batch gave
    numpy's "buffer is smaller than requested size" or json's "Expecting value"."""
    s = stream_of(manifest)
    batches = list(s.epoch_plan(0))
    shard = batches[0][0].latent.shard
    Path(shard).write_bytes(Path(shard).read_bytes()[:1024])  # the file stays open in the reader
    with pytest.raises(DamagedShard) as e:
        s.rank_batch(Position(0, 0), batches[0])
    assert_one_line(e.value, shard, "ends before the member")
    s.reader.close()  # opened again (its handle left the reader's few open ones): the size says it changed
    with pytest.raises(DamagedShard) as e:
        s.rank_batch(Position(0, 0), batches[0])
    assert_one_line(e.value, shard, "changed while training read it")


def test_a_shard_rewritten_after_the_plan_is_not_read_at_the_old_offsets(manifest, tmp_path):
    """The same path written again with one sample fewer (another encode): the planned offsets of the
    old file, read in the new one, gave the neighbouring sample's members under this key."""
    s = stream_of(manifest)
    batches = list(s.epoch_plan(0))
    shard = batches[0][0].latent.shard
    s.reader.close()
    other = write_synthetic_shards(tmp_path / "again", [(4, 1, 8, 8)] * 3, per_shard=4, seed=1)
    os.replace(shards_of(other)[0], shard)
    with pytest.raises(DamagedShard) as e:
        for b in batches:
            s.rank_batch(Position(0, 0), b)
    assert_one_line(e.value, shard, "changed while training read it")


def test_an_intact_manifest_reads_as_before(manifest):
    """The checks cost nothing on whole shards: every sample once an epoch, every member decodes."""
    s = stream_of(manifest)
    keys = [k for _, b in zip(range(6), batch_loader(s, Position(), workers=0)) for k in b["keys"]]
    assert sorted(keys) == sorted(m.key for m in manifest.members)
    one = json.loads(s.reader.read(next(s.shard_refs(shards_of(manifest)[0])).meta))
    assert one["caption"].startswith("sample ")


def test_a_first_shard_holding_none_of_its_samples_is_named(manifest, tmp_path):
    """The trainer sizes its model by the first shard's first sample: a shard written again with other
    samples (the same size: tar pads to 10240 bytes) gave a bare StopIteration and a traceback."""
    first = shards_of(manifest)[0]
    other = write_synthetic_shards(tmp_path / "other", [(4, 1, 8, 8)] * 28, per_shard=4)  # keys 0-27: shard 6 is 24-27
    os.replace(shards_of(other)[6], first)
    s = stream_of(manifest)
    with pytest.raises(DamagedShard) as e:
        s.first_ref()
    assert_one_line(e.value, first, "holds none of the 4 samples of manifest synthetic@v1 the catalog lists in it")
    assert stream_of(other).first_ref().key == "000000000000"


def test_a_disks_read_error_is_named(manifest):
    """EIO from a failing disk: errno's bare "[Errno 5] Input/output error" named no shard."""
    import errno

    s = stream_of(manifest)
    batch = next(s.epoch_plan(0))
    shard = batch[0].latent.shard

    class FailingFile:
        def seek(self, *a):
            pass

        def read(self, n=-1):
            raise OSError(errno.EIO, "Input/output error")

    s.reader.files[shard] = FailingFile()
    with pytest.raises(DamagedShard) as e:
        s.rank_batch(Position(0, 0), [r for r in batch if r.latent.shard == shard])
    assert_one_line(e.value, shard, "cannot be read (Input/output error)")


def test_a_manifest_none_of_whose_samples_are_in_their_shards_says_so_from_a_worker(manifest, tmp_path):
    """Every shard written again with other samples: "gives no batch", not torch's "Caught ValueError in
    DataLoader worker process 0."; the worker's traceback comes along as a note (LUMINA_TRACEBACK=1)."""
    other = write_synthetic_shards(tmp_path / "other", [(4, 1, 8, 8)] * 48, per_shard=4)
    for mine, theirs in zip(shards_of(manifest), shards_of(other)[6:]):
        os.replace(theirs, mine)
    _, e = first_error(manifest, workers=2)
    assert str(e) == "manifest synthetic@v1 gives no batch of at least 1 samples"
    assert any("in loader worker" in n and "plan_with_ends" in n for n in getattr(e, "__notes__", []))
