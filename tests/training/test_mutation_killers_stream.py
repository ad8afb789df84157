"""Tests written from the surviving mutants of training/stream.py (bench/mutation): what a user of
the streaming loader would notice (a lost or repeated sample, overlapping ranks, a wrong resume
position, wrong bytes, text read from the wrong place, a draw that ignores the seed, a loader that
reads whole shards to plan or keeps a process from exiting)."""

import io
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from contracts.members import CAP_FEATS, CAP_MASK, LATENT, META, MOMENTS, member
from contracts.shards import write_tar
from training.buckets import BatchBudget
from training.stream import (PLAN_VERSION, ManifestIndex, Position, ShardReader, ShardStream, StreamingDataset,
                             batch_loader, key_hash, prefetched)
from training.synthetic import write_synthetic_shards

REPO = Path(__file__).resolve().parents[2]


def tokens(shape):  # as in test_stream.py: patch 2, one [nextline] per row, one [nextframe] per frame when T > 1
    T, H, W = shape[-3:]
    return T * ((H // 2) * (W // 2 + 1) + (1 if T > 1 else 0))


def npy(arr, version=None):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, version=version, allow_pickle=False)
    return buf.getvalue()


def write_shard(path, samples):
    """samples: dicts with key, latent (.npy bytes), and optionally field (LATENT or MOMENTS),
    meta (dict), cap (an [L, D] array), mask (an [L] bool array), extra members [(name, bytes)]."""
    rows = []
    for s in samples:
        k = s["key"]
        rows.append((member(k, s.get("field", LATENT)), s["latent"]))
        if "cap" in s:
            rows += [(member(k, CAP_FEATS), npy(s["cap"])), (member(k, CAP_MASK), npy(s["mask"]))]
        rows.append((member(k, META), json.dumps(s.get("meta", {})).encode()))
        rows += s.get("extra", [])
    write_tar(path, rows, stage="encoded", num_samples=len(samples))
    return str(Path(path).resolve())


def index_of(shard_keys, text_elsewhere=None):
    """A ManifestIndex of {shard: [keys]}, as the catalog gives it."""
    names = list(shard_keys)
    codes = [i for i, n in enumerate(names) for _ in shard_keys[n]]
    hashes = [key_hash(k) for n in names for k in shard_keys[n]]
    return ManifestIndex(manifest_id="t@v1", text_elsewhere=text_elsewhere,
                         hashed=[(names, np.array(codes, np.int64), np.array(hashes, np.uint64))])


def one_sample(key, latent, **extra):
    rng = np.random.default_rng(int(key, 16))
    return {"key": key, "latent": npy(latent), "cap": rng.standard_normal((4, 3)).astype(np.float16),
            "mask": np.array([True, True, False, False]), **extra}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """12 samples of one shape in 3 shards: 3 batches of 4 per epoch."""
    return write_synthetic_shards(tmp_path_factory.mktemp("small"), [(4, 1, 8, 8)] * 12, per_shard=4)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    shapes = [[(4, 1, 8, 8), (4, 1, 16, 8), (4, 3, 8, 8), (4, 1, 16, 16)][i % 4] for i in range(60)]
    return write_synthetic_shards(tmp_path_factory.mktemp("mixed"), shapes, per_shard=16, frame_cond_dim=3)


def stream_of(manifest, seed=3, shuffle_buffer=8, **budget):
    return ShardStream(ManifestIndex(manifest), BatchBudget(**{"max_samples": 4, **budget}), tokens, seed=seed,
                       shuffle_buffer=shuffle_buffer)


def keys_of(refs):
    return [r.key for r in refs]


# ---------------------------------------------------------------- ranks, workers, defaults


def test_one_process_without_ranks_gets_every_sample_of_each_global_batch(mixed):
    s = stream_of(mixed)
    plan = [(p, keys_of(b)) for _, (p, b) in zip(range(4), s.plan())]
    pos, refs = next(s.plan())
    assert s.rank_batch(pos, refs)["keys"] == keys_of(refs)
    assert [b["keys"] for _, b in zip(range(4), StreamingDataset(stream_of(mixed), Position()))] == [k for _, k in plan]
    assert [b["keys"] for _, b in zip(range(4), batch_loader(stream_of(mixed), Position()))] == [k for _, k in plan]


@pytest.mark.parametrize("world", [2, 3])
def test_the_loader_splits_each_global_batch_between_ranks_without_overlap(mixed, world):
    plan = [keys_of(b) for _, (_, b) in zip(range(5), stream_of(mixed).plan())]
    per_rank = [[b["keys"] for _, b in zip(range(5), batch_loader(stream_of(mixed), Position(), rank, world))]
                for rank in range(world)]
    for i, global_keys in enumerate(plan):
        mine = [per_rank[r][i] for r in range(world)]
        assert mine == [global_keys[r::world] for r in range(world)]


def test_a_rank_batch_reports_its_global_size_tokens_position_and_unit_weights(mixed):
    s = stream_of(mixed)
    pos, refs = next(s.plan(Position(0, 2)))
    item = s.rank_batch(pos, refs, 1, 2)
    assert item["position"] == pos == Position(0, 2)
    assert item["global_size"] == len(refs) and item["tokens"] == sum(r.tokens for r in refs)
    assert item["weights"].tolist() == [1.0] * len(item["keys"])


def test_a_rank_without_a_sample_of_its_own_steps_on_a_stand_in_that_counts_zero(mixed):
    s = stream_of(mixed)
    pos, refs = next(s.plan())
    refs = refs[:2]
    real = [s.rank_batch(pos, refs, r, 4) for r in (0, 1)]
    assert [b["weights"].tolist() for b in real] == [[1.0], [1.0]]
    for rank in (2, 3):  # an epoch's tail: two samples for four ranks
        b = s.rank_batch(pos, refs, rank, 4)
        assert b["keys"] == [refs[rank % 2].key] and b["positions"] == [rank % 2]
        assert b["weights"].tolist() == [0.0]


class _ParentOnlyReader(ShardReader):
    """A reader that must not be used from a forked loader worker (its handles' offsets are shared)."""

    def __init__(self):
        super().__init__()
        import os

        self.pid = os.getpid()

    def file(self, shard):
        import os

        if os.getpid() != self.pid:
            raise RuntimeError("a loader worker used the parent's shard files")
        return super().file(shard)


def test_loader_workers_open_their_own_shard_files(mixed):
    s = stream_of(mixed)
    s.reader = _ParentOnlyReader()
    list(zip(range(2), s.plan()))  # the parent has opened shards before forking
    two = [b["keys"] for _, b in zip(range(4), batch_loader(s, Position(), workers=2))]
    assert two == [b["keys"] for _, b in zip(range(4), StreamingDataset(stream_of(mixed), Position()))]


def test_loader_workers_hand_over_the_same_batches_as_one_process(mixed):
    one = [b for _, b in zip(range(3), batch_loader(stream_of(mixed), Position()))]
    two = [b for _, b in zip(range(3), batch_loader(stream_of(mixed), Position(), workers=1))]
    for a, b in zip(one, two):
        assert a.keys() == b.keys() and a["keys"] == b["keys"] and a["position"] == b["position"]
        for name in a["batch"]:
            x, y = a["batch"][name], b["batch"][name]
            assert type(x) is type(y) and all(torch.equal(p, q) for p, q in zip(x, y))


# ---------------------------------------------------------------- the plan and resume positions


def test_positions_count_batches_within_each_epoch_and_epochs_follow_one_another(small):
    straight = [(p, keys_of(b)) for _, (p, b) in zip(range(12), stream_of(small).plan())]
    assert [p for p, _ in straight] == [Position(e, i) for e in range(4) for i in range(3)]
    for e in range(4):  # every epoch has every sample once
        assert sorted(k for p, ks in straight if p.epoch == e for k in ks) == sorted(m.key for m in small.members)


def test_resuming_mid_epoch_continues_at_that_batch_without_repeating_one(small):
    straight = [(p, keys_of(b)) for _, (p, b) in zip(range(12), stream_of(small).plan())]
    for start in (Position(1, 1), Position(2, 2), Position(0, 1)):
        k = straight.index(next(x for x in straight if x[0] == start))
        resumed = [(p, keys_of(b)) for _, (p, b) in zip(range(12 - k), stream_of(small).plan(start))]
        assert resumed == straight[k:]


def test_batches_of_exactly_min_samples_are_trained_on(small):
    s = stream_of(small, max_samples=2, min_samples=2)
    seen = [k for b in s.epoch_plan(0) for k in keys_of(b)]
    assert sorted(seen) == sorted(m.key for m in small.members)


def _first_or_error(plan, seconds=20):
    out = {}

    def take():
        try:
            out["value"] = next(plan)
        except BaseException as e:  # noqa: BLE001
            out["error"] = e

    t = threading.Thread(target=take, daemon=True)
    t.start()
    t.join(seconds)
    assert out, f"no batch and no error after {seconds} s: the plan loops over epochs forever"
    return out


def test_a_manifest_too_small_for_one_batch_is_an_error_not_an_endless_wait(small):
    s = stream_of(small, max_samples=64, min_samples=13)  # 12 samples
    out = _first_or_error(s.plan())
    assert isinstance(out.get("error"), ValueError) and "gives no batch of at least 13 samples" in str(out["error"])


def test_an_empty_manifest_gives_an_empty_index_and_says_it_has_no_batch():
    for chunks in ([], [([], np.zeros(0, np.int64), np.zeros(0, np.uint64))]):
        index = ManifestIndex(manifest_id="empty@v1", hashed=chunks)
        assert index.num_samples == 0 and index.shards == [] and index.nbytes() == 0
        out = _first_or_error(ShardStream(index, BatchBudget(max_samples=4), tokens).plan())
        assert isinstance(out.get("error"), ValueError) and "empty@v1 gives no batch" in str(out["error"])


def test_an_empty_chunk_from_the_catalog_adds_nothing_to_the_index(small):
    whole = ManifestIndex(small)
    names = whole.shards
    rows = np.array([i for i, n in enumerate(names) for _ in whole.keys[n]], np.int64)
    hashes = np.concatenate([whole.keys[n] for n in names])
    index = ManifestIndex(manifest_id="x", hashed=[([], np.zeros(0, np.int64), np.zeros(0, np.uint64)),
                                                   (names, rows, hashes)])
    assert index.num_samples == 12 and index.shards == names and index.nbytes() == 8 * 12
    assert all(np.array_equal(index.keys[n], whole.keys[n]) for n in names)


# The batch plan of a fixed manifest, as PLAN_VERSION 5 makes it (and 4 and 3 made it) (sample numbers of
# write_synthetic_shards). A saved Position indexes this plan: a change to the order or grouping
# of an epoch's batches must bump PLAN_VERSION (and this table), or a resume skips other batches.
# (Plan 2 ended epoch 0 on [27, 30], [35], [31] and epoch 1 on [35], [39, 36], [37]: batches of one.)
PLAN_V4 = {0: [[20, 17, 2, 23], [19, 16, 4, 1], [18, 0, 21, 6], [33, 3, 39, 36], [5, 32, 38, 8], [22, 7, 34, 37],
               [13, 28], [27, 30], [10, 25, 31], [14, 11], [12, 15, 24, 9], [26, 29, 35]],
           1: [[24, 0, 3, 6], [25, 31, 1, 28], [26, 29, 5, 2], [7, 16, 22, 4], [18, 27, 30, 21], [17, 8, 23, 20],
               [13, 34, 37], [12, 15, 33, 9], [10, 19], [39, 36], [14, 32], [11, 38, 35]]}


def test_the_epoch_plan_is_the_one_its_plan_version_names(tmp_path):
    sizes = [(4, 1, 8, 8), (4, 1, 16, 8), (4, 1, 16, 16)]  # 20, 40 and 72 tokens: leftovers in three packs
    m = write_synthetic_shards(tmp_path, [sizes[i % 3] for i in range(40)], per_shard=8)
    s = stream_of(m, seed=7, shuffle_buffer=5)
    plan = {e: [[int(r.key, 16) for r in b] for b in s.epoch_plan(e)] for e in (0, 1)}
    assert PLAN_VERSION == 5 and plan == PLAN_V4


# ---------------------------------------------------------------- reading: bytes, formats, text


class _CountingFile:
    def __init__(self, f, counter):
        self.f, self.counter = f, counter

    def seek(self, *a):
        return self.f.seek(*a)

    def read(self, n=-1):
        data = self.f.read(n)
        self.counter[0] += len(data)
        return data


class _CountingReader(ShardReader):
    def __init__(self):
        super().__init__()
        self.count = [0]

    def file(self, shard):
        return _CountingFile(super().file(shard), self.count)


def test_planning_reads_headers_only_and_a_batch_reads_just_its_samples(tmp_path):
    m = write_synthetic_shards(tmp_path, [(4, 1, 64, 64)] * 24, per_shard=12)  # 32 KiB latents
    s = stream_of(m)
    s.reader = _CountingReader()
    batches = list(s.epoch_plan(0))
    assert s.reader.count[0] <= 8192 * 24  # a header's worth per sample (the latents alone are 24 x 32 KiB)
    s.reader.count[0] = 0
    refs = batches[0]
    s.rank_batch(Position(), refs)
    assert s.reader.count[0] == sum(r.latent.size + r.meta.size + r.cap_feats.size + r.cap_mask.size for r in refs)


def test_a_shard_reader_keeps_the_most_recently_used_shards_open_and_their_tables(tmp_path):
    shards = [write_shard(tmp_path / f"s{i}.tar", [one_sample(f"{i:012x}", np.full((4, 1, 2, 2), i, np.float16))])
              for i in range(5)]
    r = ShardReader(max_open=3)
    first = r.file(shards[0])
    assert r.file(shards[0]) is first and r.table(shards[0]) is r.table(shards[0])  # reused, not reopened
    for s in shards:
        loc = r.loc(s, member(split_member_key(s), LATENT))
        assert len(r.read(loc)) == loc.size
    assert list(r.files) == shards[2:] and list(r.tables) == shards[2:]
    assert first.closed and not any(f.closed for f in r.files.values())
    again = r.file(shards[2])  # used again: now the most recent
    assert list(r.files) == [shards[3], shards[4], shards[2]] and not again.closed


def split_member_key(shard):
    return f"{int(Path(shard).stem[1:]):012x}"


def test_fortran_ordered_and_version_2_npy_members_are_read_as_stored(tmp_path):
    a = np.arange(4 * 1 * 2 * 3, dtype=np.float16).reshape(4, 1, 2, 3)
    stored = {"00000000000a": npy(np.asfortranarray(a)), "00000000000b": npy(a + 100, version=(2, 0))}
    shard = write_shard(tmp_path / "s.tar", [{**one_sample(k, a), "latent": v} for k, v in stored.items()])
    s = ShardStream(index_of({shard: list(stored)}), BatchBudget(max_samples=4), tokens)
    refs = {r.key: r for r in s.shard_refs(shard)}
    assert refs["00000000000a"].shape == refs["00000000000b"].shape == (4, 1, 2, 3)
    assert np.array_equal(s.example(refs["00000000000a"], 0).latent.numpy(), a.astype(np.float32))
    assert np.array_equal(s.example(refs["00000000000b"], 0).latent.numpy(), (a + 100).astype(np.float32))


def test_every_tensor_of_an_example_is_float32_whatever_the_stored_dtype(mixed):
    s = stream_of(mixed)
    e = s.example(next(s.shard_refs(s.index.shards[0])), 0)
    assert e.latent.dtype == e.cap_feats.dtype == e.frame_cond.dtype == torch.float32 and e.cap_mask.dtype == torch.bool


def test_an_example_carries_the_caption_split_and_metadata_of_its_meta_member(tmp_path):
    lat = np.zeros((4, 1, 2, 2), np.float16)
    meta = {"caption": "a red square", "split": "holdout", "label": 3}
    shard = write_shard(tmp_path / "s.tar", [one_sample("00000000000a", lat, meta=meta), one_sample("00000000000b", lat)])
    s = ShardStream(index_of({shard: ["00000000000a", "00000000000b"]}), BatchBudget(max_samples=4), tokens)
    with_meta, bare = (s.example(r, 0) for r in s.shard_refs(shard))
    assert (with_meta.caption, with_meta.split, with_meta.meta) == ("a red square", "holdout", meta)
    assert (bare.caption, bare.split, bare.meta) == ("", "", {})


def test_text_stored_in_another_shard_is_read_from_there(tmp_path):
    """A sample's text re-encoded elsewhere (the catalog's text_elsewhere): its features and its
    mask come from that shard's member, not from the copy beside the latent."""
    lat = np.zeros((4, 1, 2, 2), np.float16)
    here = write_shard(tmp_path / "latents.tar", [one_sample("00000000000a", lat), one_sample("00000000000b", lat)])
    cap, mask = np.arange(12, dtype=np.float16).reshape(4, 3), np.array([True, True, True, False])
    there = write_shard(tmp_path / "text.tar", [{**one_sample("0000000000ff", lat), "cap": cap, "mask": mask}])
    index = index_of({here: ["00000000000a", "00000000000b"]}, {"00000000000a": (there, member("0000000000ff", CAP_FEATS))})
    s = ShardStream(index, BatchBudget(max_samples=4), tokens)
    refs = {r.key: r for r in s.shard_refs(here)}
    moved, beside = s.example(refs["00000000000a"], 0), s.example(refs["00000000000b"], 0)
    assert torch.equal(moved.cap_feats, torch.from_numpy(cap.astype(np.float32)))
    assert torch.equal(moved.cap_mask, torch.from_numpy(mask))
    b_cap = one_sample("00000000000b", lat)["cap"]
    assert torch.equal(beside.cap_feats, torch.from_numpy(b_cap.astype(np.float32)))


def test_tokens_of_gets_the_model_space_shape_in_whole_channels(tmp_path):
    plain = write_synthetic_shards(tmp_path / "plain", [(4, 1, 8, 8)], per_shard=4)
    moments = write_synthetic_shards(tmp_path / "moments", [(4, 1, 8, 8)], per_shard=4, moments=True)
    for m in (plain, moments):
        seen = []
        s = ShardStream(ManifestIndex(m), BatchBudget(max_samples=4), lambda shape: seen.append(shape) or 1)
        ref = next(s.shard_refs(s.index.shards[0]))
        assert seen == [ref.shape] == [(4, 1, 8, 8)] and all(type(d) is int for d in ref.shape)


# ---------------------------------------------------------------- VAE moments


def _moments_shard(tmp_path, keys, meta):
    mean = np.linspace(-1, 1, 16, dtype=np.float16).reshape(4, 1, 2, 2)
    logvar = np.full_like(mean, -30.0)  # std ~ 3e-7: the draw is the mean, scaled
    stored = npy(np.concatenate([mean, logvar]))
    shard = write_shard(tmp_path / "m.tar", [{**one_sample(k, mean), "latent": stored, "field": MOMENTS, "meta": meta}
                                             for k in keys])
    return shard, torch.from_numpy(mean.astype(np.float32))


def test_moments_without_a_recorded_scale_and_shift_are_drawn_unscaled(tmp_path):
    shard, mean = _moments_shard(tmp_path, ["00000000000a"], {"caption": "x"})
    s = ShardStream(index_of({shard: ["00000000000a"]}), BatchBudget(max_samples=4), tokens)
    torch.testing.assert_close(s.example(next(s.shard_refs(shard)), 0).latent, mean, atol=1e-4, rtol=0)


def test_moment_draws_follow_the_seed_and_differ_between_samples_and_epochs(tmp_path):
    """The noise is seeded by (seed, epoch, key): another run seed or another sample with the same
    moments gets other noise, and a rank batch at a position of another epoch a fresh draw."""
    keys = ["00000000000a", "00000000000b"]
    mean = np.zeros((4, 1, 2, 2), np.float16)
    stored = npy(np.concatenate([mean, mean]))  # logvar 0: unit noise
    shard = write_shard(tmp_path / "m.tar", [{**one_sample(k, mean), "latent": stored, "field": MOMENTS} for k in keys])

    def stream(seed):
        return ShardStream(index_of({shard: keys}), BatchBudget(max_samples=4), tokens, seed=seed)

    a, b = list(stream(3).shard_refs(shard))
    s3, s4 = stream(3), stream(4)
    assert not torch.equal(s3.example(a, 0).latent, s3.example(b, 0).latent)  # same moments, other sample
    assert not torch.equal(s3.example(a, 0).latent, s4.example(a, 0).latent)  # other run seed
    assert torch.equal(s3.example(a, 0).latent, stream(3).example(a, 0).latent)  # same seed: same draw
    e0 = s3.rank_batch(Position(0, 0), [a])["batch"]["x1"]
    e1 = s3.rank_batch(Position(1, 0), [a])["batch"]["x1"]
    assert torch.equal(e0[0], s3.example(a, 0).latent) and torch.equal(e1[0], s3.example(a, 1).latent)
    assert not torch.equal(e0, e1)


# ---------------------------------------------------------------- the catalog


def _catalog_with_two_versions(path):
    from catalog import Catalog
    from contracts.members import CAP_FEATS as CF
    from tests.catalog.helpers import make_batch

    batches = [make_batch(b, n=9) for b in range(3)]
    for enc in batches[0].encodings:  # v1's text lies beside its latents
        if enc.kind == "text":
            enc.member = member(enc.key, CF)
    with Catalog.open(path) as cat:
        run = cat.start_run("curate", {})
        cat.register_batches(batches[:1], run)
        cat.create_manifest("m", "split = 'train'")
        cat.register_batches(batches[1:], run)
        cat.create_manifest("m", "split = 'train'")
        cat.finish_run(run)


def test_the_index_is_read_from_the_manifest_version_asked_for(tmp_path):
    from catalog import load_manifest

    path = tmp_path / "catalog.duckdb"
    _catalog_with_two_versions(path)
    v1, v2 = (ManifestIndex.from_catalog(path, "m", v) for v in (1, 2))
    assert (v1.manifest_id, v2.manifest_id) == ("m@v1", "m@v2") and v1.num_samples < v2.num_samples
    whole = ManifestIndex(load_manifest(path, "m", 1))
    assert v1.num_samples == whole.num_samples and v1.shards == whole.shards
    assert all(np.array_equal(v1.keys[s], whole.keys[s]) for s in whole.shards)
    assert v1.text_elsewhere == whole.text_elsewhere == {} and len(v2.text_elsewhere) > 0


def test_reading_the_index_never_creates_a_catalog(tmp_path):
    from catalog.db import CatalogNotFoundError

    missing = tmp_path / "nowhere" / "catalog.duckdb"
    with pytest.raises(CatalogNotFoundError):
        ManifestIndex.from_catalog(missing, "m")
    assert not missing.parent.exists()


# ---------------------------------------------------------------- the read-ahead thread


def test_a_slow_consumer_still_gets_every_batch():
    """The reader waits for room in the queue as long as the consumer is there (a training step
    far longer than the reader's 0.1 s poll)."""
    it = prefetched(iter(range(4)), depth=1)
    got = []
    for x in it:
        got.append(x)
        time.sleep(0.3)
    assert got == [0, 1, 2, 3]


def test_every_item_comes_through_even_a_none():
    assert list(prefetched(iter([{"i": 0}, None, {"i": 2}]))) == [{"i": 0}, None, {"i": 2}]


def test_stopping_with_a_full_queue_returns_at_once():
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    it = prefetched(endless(), depth=1)
    assert next(it) == 0
    time.sleep(0.3)  # the reader has filled the queue and waits for room
    start = time.monotonic()
    it.close()
    assert time.monotonic() - start < 5


def test_a_reader_left_running_does_not_keep_the_process_from_exiting():
    """A consumer that neither finishes nor closes its batches (an error elsewhere, an exit) must
    not leave the interpreter waiting for the reader at exit."""
    before = {t.ident for t in threading.enumerate()}
    it = prefetched(iter(range(5)), depth=1)
    assert next(it) == 0
    (reader,) = [t for t in threading.enumerate() if t.name == "batch-prefetch" and t.ident not in before]
    assert reader.daemon  # what lets the interpreter exit without it, as in the process below
    it.close()
    script = ("import itertools, sys; from training.stream import prefetched\n"
              "it = prefetched(itertools.count(), depth=1); next(it); print('exiting', flush=True)\n")
    r = subprocess.run([sys.executable, "-c", script], cwd=Path.cwd(), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout == "exiting\n", r.stderr
