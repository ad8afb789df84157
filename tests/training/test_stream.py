"""The streaming loader on synthetic encoded shards: splits, buckets, resume positions, VAE draws."""

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from training.buckets import BatchBudget, padding_fraction, token_budget_batches
from training.stream import WORKER_GRACE_S, ManifestIndex, Position, ShardStream, batch_loader
from training.synthetic import write_synthetic_shards


def tokens(shape):  # patch 2, one [nextline] per row, one [nextframe] per frame when T > 1
    T, H, W = shape[-3:]
    return T * ((H // 2) * (W // 2 + 1) + (1 if T > 1 else 0))


MIXED = [(4, 1, 8, 8), (4, 1, 16, 8), (4, 3, 8, 8), (4, 1, 16, 16), (4, 1, 2, 32)]  # images, a clip, a spectrogram row


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    shapes = [MIXED[i % len(MIXED)] for i in range(230)]
    return write_synthetic_shards(tmp_path_factory.mktemp("mixed"), shapes, per_shard=40, frame_cond_dim=3)


def stream_of(manifest, **budget):
    b = BatchBudget(**{"max_tokens": 600, "max_samples": 64, **budget})
    return ShardStream(ManifestIndex(manifest), b, tokens, seed=3, shuffle_buffer=50)


def keys_of(batch):
    return [r.key for r in batch]


def test_ranks_share_each_global_batch_without_overlap_and_one_process_sees_the_union(mixed):
    s = stream_of(mixed, min_samples=2)
    epoch = list(s.epoch_plan(0))
    seen = [k for b in epoch for k in keys_of(b)]
    assert len(seen) == len(set(seen)) and len(seen) >= 0.95 * len(mixed.members)  # each at most once; few leftovers dropped
    for pos, refs in [(Position(0, i), b) for i, b in enumerate(epoch[:6])]:
        r0, r1 = (s.rank_batch(pos, refs, rank, 2) for rank in (0, 1))
        assert not set(r0["keys"]) & set(r1["keys"])
        assert sorted(r0["keys"] + r1["keys"]) == sorted(keys_of(refs))
        assert sorted(r0["positions"] + r1["positions"]) == list(range(len(refs)))


def test_loader_workers_keep_the_plan_order(mixed):
    s = stream_of(mixed)
    one = [b["keys"] for _, b in zip(range(7), batch_loader(s, Position(), workers=0))]
    two = [b["keys"] for _, b in zip(range(7), batch_loader(stream_of(mixed), Position(), workers=2))]
    assert one == two


def test_only_manifest_members_are_read(mixed):
    half = replace(mixed, members=mixed.members[::2])
    s = stream_of(half)
    seen = {k for b in s.epoch_plan(0) for k in keys_of(b)}
    assert seen <= {m.key for m in half.members} and len(seen) > 0.9 * len(half.members)


def test_token_budget_batches_pad_little_with_buckets_and_much_without(mixed):
    def epoch_padding(**budget):
        s = stream_of(mixed, **budget)
        used = real = 0
        for b in s.epoch_plan(0):
            lengths = [r.tokens for r in b]
            assert len(b) * max(lengths) <= 600 or len(b) == 1  # the budget holds
            used += len(b) * max(lengths)
            real += sum(lengths)
        return 1 - real / used

    assert epoch_padding() < 0.03
    assert epoch_padding(bucket_ratio=None) > 0.15


def test_batcher_budget_and_flush():
    items = [5, 5, 5, 9, 9, 100, 5, 9]
    batches = list(token_budget_batches(items, BatchBudget(max_tokens=20, bucket_ratio=1.02), lambda x: x))
    assert sorted(x for b in batches for x in b) == sorted(items)
    assert all(len(b) * max(b) <= 20 or len(b) == 1 for b in batches)
    # the lone 9 (its neighbour [9, 9] is full at 20 tokens) is re-split with [5, 5, 5, 5] further out (plan 5):
    # no batch of one but the 100 that no budget holds; [5, 5, 5, 5] would have fitted 20 tokens exactly
    assert sorted(batches) == [[5, 5, 5], [5, 9], [9, 9], [100]]
    assert padding_fraction([5, 9]) == pytest.approx(1 - 14 / 18)


def test_resuming_at_a_position_continues_the_same_plan(mixed):
    s = stream_of(mixed)
    straight = [(p, keys_of(b)) for _, (p, b) in zip(range(40), s.plan())]  # crosses into epoch 1
    assert straight[-1][0].epoch >= 1
    start = straight[17][0]
    resumed = [(p, keys_of(b)) for _, (p, b) in zip(range(23), stream_of(mixed).plan(start))]
    assert resumed == straight[17:]
    assert [k for _, k in straight if _.epoch == 1][:3] != [k for _, k in straight if _.epoch == 0][:3]  # reshuffled


def test_frame_cond_and_mixed_shapes_reach_the_batch(mixed):
    s = stream_of(mixed, bucket_ratio=None, max_samples=8, max_tokens=None)
    item = s.rank_batch(Position(), next(s.epoch_plan(0)))
    b = item["batch"]
    assert isinstance(b["x1"], list) and len({tuple(x.shape) for x in b["x1"]}) > 1
    assert [c.shape[0] for c in b["frame_cond"]] == [x.shape[1] for x in b["x1"]]  # [T, K] per sample
    assert item["padding"] > 0


def test_vae_moments_give_a_fresh_scaled_draw_each_epoch(tmp_path):
    m = write_synthetic_shards(tmp_path, [(4, 1, 8, 8)] * 3, moments=True, scale=0.5, shift=0.1)
    s = stream_of(m, max_tokens=None, max_samples=3)
    ref = next(s.shard_refs(s.index.shards[0]))
    assert ref.shape == (4, 1, 8, 8)  # model space: half the stored channels
    draws = torch.stack([s.example(ref, epoch).latent for epoch in range(400)])
    assert torch.equal(s.example(ref, 5).latent, draws[5])  # same epoch, same draw (resume, ranks)
    from contracts.shards import npy_load

    stored = npy_load(s.reader.read(ref.latent)).astype(np.float32)
    mean = torch.from_numpy((stored[:4] - 0.1) * 0.5)
    torch.testing.assert_close(draws.mean(0), mean, atol=0.05, rtol=0)
    assert draws.std(0).mean().item() == pytest.approx(math.exp(-1.0) * 0.5, rel=0.05)  # std = exp(0.5 * logvar) * scale


def test_the_index_read_from_the_catalog_in_batches_equals_the_index_of_the_whole_manifest(tmp_path):
    """The trainer builds its index from the catalog a batch of rows at a time (never the whole
    manifest in memory); it must hold the same shards, keys and out-of-shard text locations."""
    from catalog import Catalog, load_manifest
    from contracts.members import CAP_FEATS, member
    from tests.catalog.helpers import make_batch

    batches = [make_batch(b, n=9) for b in range(4)]
    for enc in batches[1].encodings:  # batch 1 stores its text as the encode stage does, beside the latent
        if enc.kind == "text":
            enc.member = member(enc.key, CAP_FEATS)
    with Catalog.open(tmp_path / "catalog.duckdb") as cat:
        run = cat.start_run("curate", {})
        cat.register_batches(batches, run)
        cat.finish_run(run)
        cat.create_manifest("m", "split = 'train'")
    whole = ManifestIndex(load_manifest(tmp_path / "catalog.duckdb", "m"))
    streamed = ManifestIndex.from_catalog(tmp_path / "catalog.duckdb", "m", batch_rows=3)
    assert streamed.manifest_id == whole.manifest_id == "m@v1"
    assert streamed.num_samples == whole.num_samples == 20 and streamed.shards == whole.shards and len(whole.shards) == 4
    assert all(np.array_equal(streamed.keys[s], whole.keys[s]) for s in whole.shards)
    assert streamed.text_elsewhere == whole.text_elsewhere and len(whole.text_elsewhere) == 15  # not batch 1's
    for m in load_manifest(tmp_path / "catalog.duckdb", "m").members:
        assert streamed.wants(m.encodings["latent"][0], m.key)
        assert not streamed.wants(m.encodings["latent"][0], m.key + "0")


def test_an_epochs_leftovers_of_spread_lengths_fill_the_batch_size():
    """The speech smoke corpus: 14 lengths, no two within 2%, batch 8. Packed within the bucket
    ratio, its batches held 1.3 samples on average; packed up to the budget with a [PAD] cap, 7, 6,
    1; the lone 151 re-split with the 6 before it, 7, 3, 4 (fewer padded tokens: 919 for 997)."""
    from training.buckets import FLUSH_MAX_PADDING

    lengths = [40, 42, 46, 50, 51, 53, 54, 83, 101, 105, 127, 127, 141, 151]
    batches = list(token_budget_batches(lengths[::-1], BatchBudget(max_samples=8, bucket_ratio=1.02), lambda x: x))
    assert sorted(x for b in batches for x in b) == lengths
    assert [len(b) for b in batches] == [7, 3, 4]
    assert all(padding_fraction(b) <= FLUSH_MAX_PADDING for b in batches)
    assert sum(len(b) * max(b) for b in batches) == 54 * 7 + 105 * 3 + 151 * 4


def test_an_epochs_last_batches_are_not_in_length_order(mixed):
    """The leftovers' packs are made in length order; the plan shuffles them (seeded by epoch)."""
    s = stream_of(mixed, bucket_ratio=1.02, max_samples=64, max_tokens=None)
    tails = [[max(r.tokens for r in b) for b in s.epoch_plan(e)][-6:] for e in (0, 1)]
    assert any(t != sorted(t) for t in tails) and tails[0] != tails[1]


def test_an_epochs_leftovers_keep_the_bucket_ratio_when_no_bucket_ever_fills():
    """A small corpus of a few sizes under batch_size 64: every sample reaches the end-of-epoch
    flush, which packed them all into one batch padded to the longest (64% [PAD] for a user)."""
    lengths = [272] * 10 + [1568] * 10 + [500] * 9 + [505]
    batches = list(token_budget_batches(lengths, BatchBudget(max_samples=64, bucket_ratio=1.02), lambda x: x))
    assert sorted(sorted(b) for b in batches) == [[272] * 10, [500] * 9 + [505], [1568] * 10]
    assert max(padding_fraction(b) for b in batches) < 0.01
    one = list(token_budget_batches(lengths, BatchBudget(max_samples=64, bucket_ratio=None), lambda x: x))
    assert len(one) == 1 and len(one[0]) == 30  # no buckets asked: one batch, padded


def test_members_missing_from_their_shards_are_said_once_not_silently_never_drawn(mixed, caplog):
    """A manifest member whose latent is no longer in its shard was never drawn, every epoch, without a word;
    the warning names the shard that lacks them (it gave a count only)."""
    first = mixed.members[0]
    shard = first.encodings["latent"][0]
    ghosts = [replace(first, key=f"gone{i:04d}", encodings={"latent": (shard, f"gone{i:04d}.latent.npy"),
                                                           "text": (shard, f"gone{i:04d}.cap_feats.npy")}) for i in range(3)]
    s = stream_of(replace(mixed, members=mixed.members + ghosts))
    with caplog.at_level("WARNING", logger="training.stream"):
        drawn = [r.key for pos, batch in itertools.takewhile(lambda b: b[0].epoch < 2, s.plan()) for r in batch]
    said = [r.getMessage() for r in caplog.records if "not in their shards" in r.getMessage()]
    assert len(drawn) >= 2 * len(mixed.members) and not any(k.startswith("gone") for k in drawn)
    assert said == [f"epoch 0 drew {len(mixed.members)} of manifest {mixed.id}'s {len(mixed.members) + 3} samples: 3 "
                    f"are in the catalog but not in their shards (a shard rewritten or cut since it was encoded?); 3 of "
                    f"them listed in {shard}; training goes on without them (said once)"]


def test_a_complete_manifest_says_nothing(mixed, caplog):
    with caplog.at_level("WARNING", logger="training.stream"):
        list(stream_of(mixed).epoch_plan(0))
    assert not [r for r in caplog.records if "not in their shards" in r.getMessage()]


def test_text_re_encoded_elsewhere_costs_bytes_a_member_not_a_dict_entry():
    """A manifest whose text was all re-encoded with another encoder: every member's text lies in
    another shard. The index kept a dict entry per member (~350 bytes; 3.4 GB at 10M, per rank and
    loader worker)."""
    import tracemalloc

    from training.stream import TextElsewhere, key_hash

    n = 100_000
    keys = [f"{i:012x}" for i in range(n)]
    names = [f"/data/encoded/text-clip/shard-{j:06d}.tar" for j in range(n // 1000)]
    hashes = np.array([key_hash(k) for k in keys], np.uint64)
    members = [None] * n
    members[7] = "renamed.cap_feats.npy"  # one member under another name
    tracemalloc.start()
    table = TextElsewhere([(names, np.arange(n) // 1000, hashes, members)])
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert held / n < 20 and table.nbytes() == 12 * n
    assert table.get(keys[5]) == (names[0], f"{keys[5]}.cap_feats.npy")
    assert table.get(keys[7]) == (names[0], "renamed.cap_feats.npy")
    assert table.get(keys[54_321]) == (names[54], f"{keys[54_321]}.cap_feats.npy")
    assert table.get("not-a-member") is None and len(table) == n


@pytest.mark.parametrize("workers,started", [(2, True), (1, False)], ids=["two-busy", "closed-before-the-first-batch"])
def test_closing_a_loader_does_not_wait_for_a_busy_worker(mixed, monkeypatch, workers, started):
    """Workers ignore SIGTERM (a signal to the process group must not kill them), so the DataLoader's
    terminate no longer stopped one busy with a batch: closing waited 10 s per busy worker, one after
    the other (torch's 5 s join, terminate, 5 s join), and a loader closed before its first batch (a
    resume already at --steps) kept its worker, so the process waited at exit for its batch."""
    import gc
    import multiprocessing
    import time

    s = stream_of(mixed)
    real = s.rank_batch

    def slow(position, *a, **k):
        if position.index >= (1 if started else 0):
            time.sleep(30)  # a worker re-planning a long epoch
        return real(position, *a, **k)

    monkeypatch.setattr(s, "rank_batch", slow)
    before = set(multiprocessing.active_children())
    loader = batch_loader(s, Position(), workers=workers)
    if started:
        next(loader)
    time.sleep(0.3)  # every worker is inside its batch
    busy = set(multiprocessing.active_children()) - before
    t0 = time.monotonic()
    loader.close()  # what the trainer's finally does
    took = time.monotonic() - t0
    time.sleep(0.2)  # torch's SIGCHLD check would raise here for a killed worker it still watched
    del loader
    gc.collect()
    assert len(busy) == workers and not any(w.is_alive() for w in busy)
    assert took < 8, f"closing took {took:.1f} s"  # it waited 10 s per busy worker (8: a loaded host)


def test_closing_a_loader_lets_idle_workers_leave_on_their_own(mixed):
    """Nothing busy, closing waits for no grace (the workers take their None and leave at once) and
    kills nothing."""
    import multiprocessing
    import time

    before = set(multiprocessing.active_children())
    loader = batch_loader(stream_of(mixed), Position(), workers=2)
    first = [next(loader)["keys"] for _ in range(2)]
    # both have read ahead what torch asks of them and wait for more: every batch asked for is in its
    # queue (a fixed 0.5 s sleep was too short at load 4 under mutmut, and closing then waited its grace)
    torch_iter, deadline = loader._batches, time.monotonic() + 20
    while torch_iter._data_queue.qsize() < torch_iter._tasks_outstanding:
        assert time.monotonic() < deadline, "the workers never finished the batches asked of them"
        time.sleep(0.02)
    workers = set(multiprocessing.active_children()) - before
    t0 = time.monotonic()
    loader.close()
    # below the grace (0.5 s) a wait for it would take; 0.4 s left 0.1 s for two workers' exits under load
    assert time.monotonic() - t0 < WORKER_GRACE_S and first and len(workers) == 2
    assert sorted(w.exitcode for w in workers) == [0, 0]
    assert list(loader) == []  # closed: no more batches


@pytest.fixture(scope="module")
def one_odd(tmp_path_factory):
    """The walkthrough's odd-train: 20 samples of one size and one twice as long."""
    shapes = [(4, 1, 8, 8)] * 10 + [(4, 1, 16, 8)] + [(4, 1, 8, 8)] * 10
    return write_synthetic_shards(tmp_path_factory.mktemp("one_odd"), shapes, per_shard=7)


def test_a_lone_sample_size_is_never_a_batch_of_one_and_the_plan_resumes_the_same(one_odd):
    """Planned [16, 1, 4] every epoch before: the long sample alone, one step in three."""
    s = stream_of(one_odd, max_tokens=None, max_samples=16)
    straight = [(p, keys_of(b)) for _, (p, b) in zip(range(12), s.plan())]
    assert all(len(k) > 1 for _, k in straight)
    for e in range(4):
        assert sorted(k for p, ks in straight if p.epoch == e for k in ks) == sorted(m.key for m in one_odd.members)
    resumed = [(p, keys_of(b)) for _, (p, b) in zip(range(7), stream_of(one_odd, max_tokens=None, max_samples=16).plan(straight[5][0]))]
    assert resumed == straight[5:]


def test_each_epochs_last_batch_is_marked_and_a_batch_says_its_padded_tokens(one_odd):
    s = stream_of(one_odd, max_tokens=None, max_samples=16)
    marked = [(p, last) for _, (p, _, last) in zip(range(9), s.plan_with_ends())]
    assert [p for p, _ in marked] == [Position(e, i) for e in range(3) for i in range(3)]
    assert [last for _, last in marked] == [False, False, True] * 3
    assert [last for _, (_, _, last) in zip(range(2), s.plan_with_ends(Position(1, 2)))] == [True, False]
    items = [b for _, b in zip(range(3), batch_loader(stream_of(one_odd, max_tokens=None, max_samples=16), Position()))]
    assert [b["epoch_ends"] for b in items] == [False, False, True]
    for b in items:
        lengths = [tokens(tuple(x.shape)) for x in (b["batch"]["x1"] if isinstance(b["batch"]["x1"], list) else b["batch"]["x1"])]
        assert b["padded_tokens"] == len(lengths) * max(lengths) and b["tokens"] == sum(lengths)


def test_members_missing_from_several_shards_name_the_shard_missing_most(mixed, caplog):
    shards = sorted({m.encodings["latent"][0] for m in mixed.members})
    assert len(shards) >= 2, "the fixture spreads its members over several shards"
    first = mixed.members[0]

    def ghost(i: int, shard: str):
        return replace(first, key=f"gone{i:04d}", encodings={"latent": (shard, f"gone{i:04d}.latent.npy"),
                                                           "text": (shard, f"gone{i:04d}.cap_feats.npy")})

    ghosts = [ghost(0, shards[0])] + [ghost(i, shards[1]) for i in (1, 2)]  # 1 gone from one shard, 2 from another
    with caplog.at_level("WARNING", logger="training.stream"):
        list(stream_of(replace(mixed, members=mixed.members + ghosts)).epoch_plan(0))
    (said,) = [r.getMessage() for r in caplog.records if "not in their shards" in r.getMessage()]
    assert f"; 2 of them listed in {shards[1]} (and 1 more shard); training goes on" in said
