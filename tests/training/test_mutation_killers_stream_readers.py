"""Tests written from the survivors of the 6 Dec 2026 mutation run of training/stream.py
(bench/mutation): the tar header reader, what a damaged member or shard is called, and the loader
workers. The mutation runner links a test to a function only where the test calls it in its own
process (not in a loader worker or the read-ahead thread), so what runs in workers is also
called here directly."""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import tarfile
import time
import traceback
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from contracts.members import CAP_FEATS, CAP_MASK, FRAME_COND, LATENT, META, MOMENTS, member
from tests.training.test_stream_recorded_shapes import registered
from tests.training.test_stream_recorded_sizes import rewritten_with_one_member_more
from training.buckets import BatchBudget
from training.stream import (WORKER_GRACE_S, DamagedShard, ManifestIndex, Position, ShardStream, StreamingDataset, TextElsewhere,
                             WorkerError, _scan_tar_headers, _tar_table, batch_loader, key_hash,
                             leave_stop_signals_to_the_trainer)
from training.synthetic import write_synthetic_shards


def tokens(shape):  # as in test_stream.py: patch 2, one [nextline] per row, one [nextframe] per frame when T > 1
    T, H, W = shape[-3:]
    return T * ((H // 2) * (W // 2 + 1) + (1 if T > 1 else 0))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """24 samples of one shape in 3 shards: 6 batches of 4 per epoch."""
    return write_synthetic_shards(tmp_path_factory.mktemp("small"), [(4, 1, 8, 8)] * 24, per_shard=8)


def stream_of(manifest, index=None):
    return ShardStream(index or ManifestIndex(manifest), BatchBudget(max_samples=4), tokens, seed=3, shuffle_buffer=8)


# ---------------------------------------------------------------- the tar header reader (pax)


def tarfile_table(path) -> dict[str, tuple[int, int]]:
    with tarfile.open(path) as tar:
        return {i.name: (i.offset_data, i.size) for i in tar if i.isfile()}


def pax_tar(path, members, **open_kw):
    """members: (name, pax records besides the ones tarfile adds, data)."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT, **open_kw) as tar:
        for name, records, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.pax_headers = len(data), dict(records)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def test_pax_headers_of_several_records_are_read_by_the_header_reader_as_tarfile_reads_them(tmp_path):
    """Planning reads each shard's headers with the stream's own reader (tarfile's parsing was most of
    a resume's re-planning): a pax header holding more than a path (a comment, a fractional mtime,
    a path with '=' and spaces, a name that is not UTF-8) is read there, giving tarfile's names,
    offsets and sizes, not handed to tarfile or read as another member."""
    path = pax_tar(tmp_path / "pax.tar", [
        ("a.latent.npy", {"comment": "two words", "path": "x=y z/" + "q" * 110 + ".latent.npy", "mtime": "1.5"}, b"a" * 700),
        ("plain.meta.json", {"comment": "only a comment, = and all"}, b"{}"),
        ("caf\udce9.cap_feats.npy", {}, b"c" * 20),  # hdrcharset=BINARY, then the path's raw bytes
    ], encoding="utf-8", errors="surrogateescape")
    raw = Path(path).read_bytes()
    assert b"21 comment=two words\n" in raw and b"hdrcharset=BINARY" in raw and b"path=caf\xe9" in raw
    expected = tarfile_table(path)
    assert _scan_tar_headers(path) == expected == _tar_table(path)
    assert sorted(expected) == sorted(["x=y z/" + "q" * 110 + ".latent.npy", "plain.meta.json", "caf\udce9.cap_feats.npy"])


def _unknown(path) -> bool:
    try:
        _scan_tar_headers(path)
    except Exception as e:  # noqa: BLE001 - the reader's private "ask tarfile" signal
        return type(e).__name__ == "_UnknownTar"
    return False


@pytest.mark.parametrize("record", ["GNU.sparse.size", "GNU.sparse.major"])
def test_a_pax_sparse_member_goes_to_tarfile_which_gives_its_real_size(tmp_path, record):
    """A sparse member stores fewer bytes than it holds: the header reader would give the stored
    size (the wrong bytes for the sample); tarfile knows the real one."""
    records = ({record: "700"} if record == "GNU.sparse.size"
               else {record: "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "a.npy", "GNU.sparse.realsize": "700"})
    path = pax_tar(tmp_path / "sparse.tar", [("a.npy", records, b"1\n0\n5\n".ljust(512, b"\0"))])
    assert _unknown(path)
    assert _tar_table(path) == tarfile_table(path) and tarfile_table(path)["a.npy"][1] == 700


def test_a_pax_record_longer_than_its_header_goes_to_tarfile(tmp_path):
    """The pax payload is not under the header's checksum: a record whose length runs past the
    header's data was read as a path holding the records after it."""
    path = pax_tar(tmp_path / "long.tar", [("a.npy", {"mtime": "1.5"}, b"y" * 10)])  # its one record
    raw = bytearray(Path(path).read_bytes())
    i = raw.index(b" mtime=")
    j = i
    while raw[j - 1:j].isdigit():
        j -= 1
    raw[j:i] = b"9" * (i - j)  # "13 mtime=1.5\n" -> "99 mtime=1.5\n": past the payload's end
    Path(path).write_bytes(bytes(raw))
    assert _unknown(path)


# ---------------------------------------------------------------- what a damaged member is called


def _damage(shard: str, name: str) -> None:
    """The member's first bytes overwritten: its .npy magic or its JSON no longer parse."""
    with tarfile.open(shard) as tar:
        at = tar.getmember(name).offset_data
    raw = bytearray(Path(shard).read_bytes())
    raw[at:at + 4] = b"}{!!"
    Path(shard).write_bytes(bytes(raw))


@pytest.mark.parametrize("moments", [False, True], ids=["latent", "moments"])
def test_each_damaged_member_of_a_sample_is_named_in_the_error(tmp_path, moments):
    """The one-line error says which member of which shard does not decode (what a user deletes and
    encodes again): the latent or the moments, the text features, the mask, the frame condition."""
    latent = MOMENTS if moments else LATENT
    for field in (latent, CAP_FEATS, CAP_MASK, FRAME_COND, META):
        m = write_synthetic_shards(tmp_path / field, [(4, 1, 8, 8)] * 4, per_shard=4, moments=moments, frame_cond_dim=3)
        key, shard = m.members[0].key, m.members[0].encodings["latent"][0]
        s = stream_of(m)
        (ref,) = [r for r in s.shard_refs(shard) if r.key == key]  # planned from the whole shard
        assert ref.stochastic is moments
        _damage(shard, member(key, field))  # then damaged in place, before its batch is read
        with pytest.raises(DamagedShard) as e:
            s.example(ref, 0)
        assert f"encoded shard {shard}: member {member(key, field)} does not decode" in str(e.value), field


# ---------------------------------------------------------------- the index and its checks


def test_one_shard_missing_before_training_is_named_alone(tmp_path):
    catalog, shards = registered(tmp_path, [(4, 1, 8, 8)] * 12)
    os.unlink(shards[1])
    with pytest.raises(DamagedShard) as e:
        ManifestIndex.from_catalog(catalog, "m").check_shards()
    assert str(e.value).startswith(f"encoded shard {shards[1]} is missing") and "more of manifest" not in str(e.value)
    assert str(e.value).endswith("the manifest needs all its shards")


def test_the_index_counts_the_text_stored_elsewhere_in_its_size(small):
    """nbytes is the index's memory (12 bytes a member whose text lies in another shard)."""
    plain = ManifestIndex(small)
    first = small.members[0]
    other = sorted({x.encodings["latent"][0] for x in small.members})[-1]
    moved = [replace(x, encodings={**x.encodings, "text": (other, member(x.key, CAP_FEATS))}) if i < 5 else x
             for i, x in enumerate(small.members) if x.encodings["latent"][0] == first.encodings["latent"][0]]
    rest = [x for x in small.members if x.encodings["latent"][0] != first.encodings["latent"][0]]
    index = ManifestIndex(replace(small, members=moved + rest))
    assert len(index.text_elsewhere) == 5 and index.text_elsewhere.nbytes() == 5 * 12
    assert index.text_elsewhere == {x.key: (other, member(x.key, CAP_FEATS)) for x in moved[:5]}  # as the catalog gives it
    assert index.nbytes() == plain.nbytes() + 5 * 12


def test_text_stored_elsewhere_compares_by_every_key_shard_and_member():
    """What lets a test hold the catalog's index to the manifest's: two tables are equal only when
    each key's text lies in the same shard under the same member name."""
    where = {"k1": ("s1.tar", "k1.cap_feats.npy"), "k2": ("s2.tar", "renamed.npy")}
    same = TextElsewhere.of(dict(reversed(list(where.items()))))
    assert TextElsewhere.of(where) == same and TextElsewhere.of(where) == where
    assert TextElsewhere.of(where) != TextElsewhere.of({**where, "k2": ("s2.tar", "k2.cap_feats.npy")})  # the member
    assert TextElsewhere.of(where) != TextElsewhere.of({**where, "k2": ("s1.tar", "renamed.npy")})  # the shard
    assert TextElsewhere.of(where) != TextElsewhere.of({"k1": where["k1"]})  # a key fewer
    assert TextElsewhere.of(where) != TextElsewhere.of({"k1": where["k1"], "k3": where["k2"]})  # another key
    assert TextElsewhere.of(where) != None and TextElsewhere.of(where) != [where]  # noqa: E711 - not a table
    # as the catalog gives it (ManifestIndex.from_catalog): rows, a member named <key>.cap_feats.npy as None
    rows = TextElsewhere([(["s1.tar", "s2.tar"], np.array([0, 1]), np.array([key_hash("k1"), key_hash("k2")], np.uint64),
                           [None, "renamed.npy"])])
    assert TextElsewhere.of(where) == rows and rows.get("k1") == where["k1"] and rows.get("k2") == where["k2"]


# ---------------------------------------------------------------- rank batches and loader workers


def test_a_rank_batch_is_its_epochs_last_only_when_told(small):
    s = stream_of(small)
    pos, refs = next(iter(s.plan()))
    assert s.rank_batch(pos, refs)["epoch_ends"] is False
    assert s.rank_batch(pos, refs, epoch_ends=True)["epoch_ends"] is True


def _as_worker(monkeypatch, wid: int, workers: int) -> None:
    """StreamingDataset.__iter__ run here as loader worker `wid` of `workers` would run it."""
    monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda: SimpleNamespace(id=wid, num_workers=workers))


@pytest.mark.parametrize("rank,wid,says", [(0, 0, True), (1, 0, False), (0, 1, False)],
                         ids=["rank-0-worker-0", "rank-1", "worker-1"])
def test_members_missing_from_their_shards_are_said_by_one_reader_of_the_run(small, monkeypatch, caplog, rank, wid,
                                                                              says):
    """Every rank and worker plans the same epochs: rank 0's first worker says so, the others (up to
    ranks x workers copies of the same warning) say nothing."""
    first = small.members[0]
    shard = first.encodings["latent"][0]
    ghost = replace(first, key="gone0000", encodings={"latent": (shard, "gone0000.latent.npy"),
                                                      "text": (shard, "gone0000.cap_feats.npy")})
    _as_worker(monkeypatch, wid, 2)
    ds = StreamingDataset(stream_of(replace(small, members=small.members + [ghost])), Position(), rank, world=2)
    with caplog.at_level("WARNING", logger="training.stream"):
        for _, _b in zip(range(3), iter(ds)):
            pass
    said = [r for r in caplog.records if "not in their shards" in r.getMessage()]
    assert len(said) == (1 if says else 0)


def test_a_loader_worker_holds_each_shard_to_the_size_checked_before_the_run(tmp_path, monkeypatch):
    """A worker opens its own shard files: one rewritten after the check (same samples at other
    offsets) is named where the worker meets it, not planned from as the worker first finds it."""
    catalog, shards = registered(tmp_path, [(4, 1, 8, 8)] * 12)
    index = ManifestIndex.from_catalog(catalog, "m")
    index.check_shards()
    rewritten_with_one_member_more(shards[1])
    _as_worker(monkeypatch, 0, 1)
    items = [b for _, b in zip(range(6), iter(StreamingDataset(stream_of(None, index), Position())))]
    errors = [b for b in items if isinstance(b, WorkerError)]
    assert errors and str(errors[0].error).startswith(f"encoded shard {shards[1]} changed while training read it")


def test_a_loader_worker_outlives_a_stop_signal_sent_to_the_whole_process_group(small):
    """torchrun, Slurm's scancel and a terminal's Ctrl-C signal the whole process group: the trainer
    stops at its step boundary with a checkpoint, so its loader workers must not die of the same
    SIGTERM or SIGINT (a dead worker took the trainer down with no checkpoint)."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        leave_stop_signals_to_the_trainer(0)  # what each worker runs first (here, to be seen in this process)
        assert {s: signal.getsignal(s) for s in saved} == {s: signal.SIG_IGN for s in saved}
    finally:
        for s, h in saved.items():
            signal.signal(s, h)
    straight = [b["keys"] for _, b in zip(range(5), batch_loader(stream_of(small), Position()))]
    loader = batch_loader(stream_of(small), Position(), workers=1)
    try:
        got = [next(loader)["keys"]]
        (worker,) = loader._batches._workers
        os.kill(worker.pid, signal.SIGTERM)
        os.kill(worker.pid, signal.SIGINT)
        time.sleep(0.3)
        assert worker.is_alive()
        got += [next(loader)["keys"] for _ in range(4)]
    finally:
        loader.close()
    assert got == straight


def test_a_worker_error_carries_the_workers_traceback_as_a_note(small, monkeypatch):
    """LUMINA_TRACEBACK=1 prints the note: where in the worker the error was raised, frame by frame
    as Python prints a traceback."""
    _as_worker(monkeypatch, 1, 2)
    s = stream_of(small)
    s.budget = BatchBudget(max_samples=4, min_samples=100)  # no batch of 100 in 24 samples
    (item,) = list(StreamingDataset(s, Position()))
    assert isinstance(item, WorkerError) and "gives no batch" in str(item.error)
    (note,) = item.error.__notes__
    frames = "".join(traceback.format_tb(item.error.__traceback__))
    assert note == "in loader worker 1:\n" + frames
    lines = note.splitlines()[1:]
    assert lines and all(l.startswith(('  File "', "    ")) for l in lines), note
    assert "plan_with_ends" in note and "gives no batch" in lines[-1]  # the frame that raised, its line last


def _slow_to_leave(s, seconds: float, busy_from: int | None = None):
    """s.rank_batch as a worker runs it: the worker takes `seconds` to exit once told to, and from
    batch `busy_from` on it is busy (30 s) with its batch."""
    real, parent = s.rank_batch, os.getpid()

    def rank_batch(position, *a, **k):
        if os.getpid() != parent and not getattr(rank_batch, "registered", False):
            rank_batch.registered = True  # in this worker: its exit handlers run this before it ends
            multiprocessing.util.Finalize(None, time.sleep, args=(seconds,), exitpriority=10)
        if busy_from is not None and position.index >= busy_from:
            time.sleep(30)
        return real(position, *a, **k)

    s.rank_batch = rank_batch
    return s


def test_closing_lets_an_idle_worker_that_takes_a_moment_to_leave_leave_on_its_own(small):
    """A worker told to stop gets up to the grace to exit by itself (it has nothing half-done): it
    is not killed the moment it is told."""
    assert 0.2 < WORKER_GRACE_S
    before = set(multiprocessing.active_children())
    loader = batch_loader(_slow_to_leave(stream_of(small), 0.2), Position(), workers=2)
    [next(loader) for _ in range(2)]
    torch_iter, deadline = loader._batches, time.monotonic() + 20
    while torch_iter._data_queue.qsize() < torch_iter._tasks_outstanding:  # both idle, as in test_stream
        assert time.monotonic() < deadline
        time.sleep(0.02)
    workers = set(multiprocessing.active_children()) - before
    loader.close()
    assert len(workers) == 2 and sorted(w.exitcode for w in workers) == [0, 0]


@pytest.mark.filterwarnings("ignore:This DataLoader will create 3 worker processes")  # 3 on 2 cores: sleeping
def test_closing_busy_workers_waits_one_grace_in_all_not_one_per_worker(small):
    before = set(multiprocessing.active_children())
    loader = batch_loader(_slow_to_leave(stream_of(small), 0.0, busy_from=1), Position(), workers=3)
    next(loader)
    time.sleep(0.5)  # every worker is inside a batch
    busy = set(multiprocessing.active_children()) - before
    t0 = time.monotonic()
    loader.close()
    took = time.monotonic() - t0
    assert len(busy) == 3 and not any(w.is_alive() for w in busy)
    assert took < WORKER_GRACE_S + 1.5, f"closing took {took:.1f} s"  # a second a worker would be 3 s


def test_a_copy_of_a_loader_closed_in_another_process_leaves_the_workers_alone(small, monkeypatch):
    """A process forked after the loader holds a copy of it: its close (or its copy dropped) must not
    tell the parent's workers to stop (they share the queues and the done event). The other process
    is played here by another pid during the close, so the workers can be looked at after it."""
    import training.stream as stream_module

    loader = batch_loader(stream_of(small), Position(), workers=1)
    torch_iter = loader._batches
    try:
        next(loader)
        with monkeypatch.context() as m:
            m.setattr(stream_module.os, "getpid", lambda: -1)  # the copy's process
            loader.close()
        (worker,) = torch_iter._workers
        assert worker.is_alive() and not torch_iter._workers_done_event.is_set()
    finally:
        stream_module.stop_workers(torch_iter)


def test_a_loader_with_workers_leaves_the_global_rng_as_it_found_it(small):
    """The trainer restores torch's global RNG from a checkpoint and then starts its loader: a loader
    that drew its workers' seed from it left a resumed run's saved RNG unlike a straight run's."""
    torch.manual_seed(5)
    before = torch.get_rng_state()
    loader = batch_loader(stream_of(small), Position(), workers=1)
    try:
        next(loader)
    finally:
        loader.close()
    assert torch.equal(torch.get_rng_state(), before)



def test_a_resume_with_a_smaller_batch_plans_the_rest_of_its_epoch_with_it(small):
    """After an out-of-memory stop a user resumes with a smaller batch: the rest of the epoch (over
    the samples not drawn yet) is planned with the new size, not with the old one until the epoch's
    end."""
    from training.stream import PlanSettings, replanned_head

    before = PlanSettings(seed=3, shuffle_buffer=8, budget=BatchBudget(max_samples=8))
    now = PlanSettings(seed=3, shuffle_buffer=8, budget=BatchBudget(max_samples=3))
    head = replanned_head(None, Position(0, 1), before, now)
    s = ShardStream(ManifestIndex(small), now.budget, tokens, now.seed, now.shuffle_buffer)
    s.head = head
    epoch = []
    for pos, refs in s.plan():
        if pos.epoch > 0:
            break
        epoch.append(refs)
    assert len(epoch[0]) == 8  # the batch trained on before the stop, as it was
    assert all(len(b) <= 3 for b in epoch[1:]) and sum(len(b) for b in epoch) == 24


def test_a_replanned_epoch_counts_the_samples_missing_from_their_shards(small, caplog):
    from training.stream import PlanSettings, replanned_head

    first = small.members[0]
    shard = first.encodings["latent"][0]
    ghosts = [replace(first, key=f"gone{i:04d}", encodings={"latent": (shard, f"gone{i:04d}.latent.npy"),
                                                           "text": (shard, f"gone{i:04d}.cap_feats.npy")}) for i in range(3)]
    before = PlanSettings(seed=3, shuffle_buffer=8, budget=BatchBudget(max_samples=8))
    now = PlanSettings(seed=3, shuffle_buffer=8, budget=BatchBudget(max_samples=4))
    s = ShardStream(ManifestIndex(replace(small, members=small.members + ghosts)), now.budget, tokens, now.seed,
                    now.shuffle_buffer)
    s.head = replanned_head(None, Position(0, 1), before, now)
    with caplog.at_level("WARNING", logger="training.stream"):
        for pos, _ in s.plan():
            if pos.epoch > 0:
                break
    (said,) = [r.getMessage() for r in caplog.records if "not in their shards" in r.getMessage()]
    assert ": 3 are in the catalog but not in their shards" in said


def test_every_header_number_is_read_as_tarfile_reads_it():
    """Sizes and checksums: octal padded with NUL or space (empty for 0, a first digit up to 7 for a
    member of 1 GiB and more), and GNU's base-256 for 8 GiB and more."""
    from training.stream import _tar_number

    fields = [tarfile.itn(n, 12, tarfile.GNU_FORMAT) for n in (0, 1, 511, 8 ** 10, 3 * 8 ** 10, 8 ** 11 - 1, 8 ** 11,
                                                               2 ** 33 + 5, 2 ** 62, 2 ** 85 + 3)]
    fields += [b"\0" * 12, b" " * 11 + b"\0", b"0000644\0", b"000000001750", b"17 \0"]
    assert any(f[0] & 0x80 for f in fields) and any(f[:1] == b"3" for f in fields)
    for f in fields:
        assert _tar_number(f) == tarfile.nti(f), f


class _CountingFile(io.FileIO):
    reads: list[int] = []

    def read(self, n=-1):
        data = super().read(n)
        _CountingFile.reads.append(len(data))
        return data


def _scan_counting(path, monkeypatch) -> tuple[dict, list[int]]:
    import training.stream as stream_module

    _CountingFile.reads = []
    monkeypatch.setattr(stream_module, "open", lambda p, mode="rb": _CountingFile(p), raising=False)
    return _scan_tar_headers(str(path)), list(_CountingFile.reads)


def test_the_header_reader_reads_small_members_headers_many_to_a_read_and_skips_large_members_data(tmp_path,
                                                                                                    monkeypatch):
    """Planning reads every shard's headers: a read per header was a syscall per member, and reading
    past a large member's data read the whole shard (gigabytes) to plan."""
    # names past 100 bytes: a pax header before each member, some of them across a read's end
    small = pax_tar(tmp_path / "small.tar", [(f"{i:06d}" + "n" * 100 + ".meta.json", {}, b"{}" * (100 + i * 97 % 900))
                                             for i in range(200)])  # of varied sizes: a payload lands past a window
    table, reads = _scan_counting(small, monkeypatch)
    size = os.path.getsize(small)
    assert table == tarfile_table(small) and size > 5 * 65536
    assert len(reads) <= 2 * (size // 65536) + 3, reads  # 64 KiB a read, not one a header
    large = pax_tar(tmp_path / "large.tar", [(f"{i:06d}.latent.npy", {}, b"x" * (1 << 20)) for i in range(8)])
    table, reads = _scan_counting(large, monkeypatch)
    assert table == tarfile_table(large) and sum(reads) < 200_000, sum(reads)  # of 8 MiB


def test_a_compressed_shard_is_named_not_read_at_offsets_into_its_compressed_bytes(tmp_path):
    path = tmp_path / "gz.tar"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("a.latent.npy")
        data = np.random.default_rng(0).bytes(4000)  # does not compress: the file is past one header
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert os.path.getsize(path) > 1024
    with pytest.raises(DamagedShard, match=f"encoded shard {path} cannot be read"):
        _tar_table(str(path))


def test_the_missing_samples_warning_names_the_shard_missing_most_and_counts_the_others(small, caplog):
    shards = sorted({m.encodings["latent"][0] for m in small.members})
    first = small.members[0]

    def ghost(i: int, shard: str):
        return replace(first, key=f"gone{i:04d}", encodings={"latent": (shard, f"gone{i:04d}.latent.npy"),
                                                           "text": (shard, f"gone{i:04d}.cap_feats.npy")})

    ghosts = [ghost(i, shards[0]) for i in range(3)] + [ghost(3, shards[1]), ghost(4, shards[2])]
    with caplog.at_level("WARNING", logger="training.stream"):
        list(stream_of(replace(small, members=small.members + ghosts)).epoch_plan(0))
    (said,) = [r.getMessage() for r in caplog.records if "not in their shards" in r.getMessage()]
    assert f": 5 are in the catalog but not in their shards" in said
    assert f"; 3 of them listed in {shards[0]} (and 2 more shards); training goes on" in said


def test_a_replanned_epoch_of_a_whole_manifest_warns_of_nothing(small, caplog):
    from training.stream import PlanSettings, replanned_head

    before = PlanSettings(seed=3, shuffle_buffer=8, budget=BatchBudget(max_samples=8))
    now = PlanSettings(seed=3, shuffle_buffer=8, budget=BatchBudget(max_samples=4))
    s = ShardStream(ManifestIndex(small), now.budget, tokens, now.seed, now.shuffle_buffer)
    s.head = replanned_head(None, Position(0, 1), before, now)
    with caplog.at_level("WARNING", logger="training.stream"):
        n = 0
        for pos, refs in s.plan():
            if pos.epoch > 0:
                break
            n += len(refs)
    assert n == 24 and not [r for r in caplog.records if "not in their shards" in r.getMessage()]


def _with_checksum(raw: bytearray, at: int = 0) -> bytearray:
    raw[at + 148:at + 156] = b"        "
    raw[at + 148:at + 156] = b"%06o\0 " % sum(raw[at:at + 512])
    return raw


def test_gnu_and_ustar_names_read_as_tarfile_reads_them(tmp_path):
    """Names a shard may hold in the older formats: a GNU long name (not UTF-8, ending in X), a name of
    exactly 100 bytes (no NUL after it), ustar's prefix of one byte, names not UTF-8 in the name and
    the prefix fields (their bytes push the header's checksum past five octal digits), and an old
    tar's directory (a regular type, a name ending in '/'), which holds no file."""
    gnu = tmp_path / "gnu.tar"
    with tarfile.open(gnu, "w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape") as tar:
        for name in ("caf\udce9" + "l" * 100 + "X", "short.npy"):
            info = tarfile.TarInfo(name)
            info.size = 7
            tar.addfile(info, io.BytesIO(b"g" * 7))
    assert _scan_tar_headers(str(gnu)) == tarfile_table(gnu) and len(tarfile_table(gnu)) == 2
    ustar = tmp_path / "ustar.tar"
    names = ["e" * 96 + ".npy", "a/" + "b" * 96 + ".npy", "caf\udce9.npy", "\udce9" * 150 + "/" + "\udce9" * 95 + ".npy"]
    with tarfile.open(ustar, "w", format=tarfile.USTAR_FORMAT, encoding="utf-8", errors="surrogateescape") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 5
            tar.addfile(info, io.BytesIO(b"u" * 5))
        old_dir = tarfile.TarInfo("olddir/")
        old_dir.type = tarfile.AREGTYPE
        tar.addfile(old_dir)
    raw = Path(ustar).read_bytes()
    assert max(int(raw[i + 148:i + 154], 8) for i in range(0, len(raw) - 512, 512) if raw[i + 257:i + 263] == b"ustar\0") >= 8 ** 5
    assert _scan_tar_headers(str(ustar)) == tarfile_table(ustar) and sorted(tarfile_table(ustar)) == sorted(names)


def test_a_header_sized_past_its_file_and_a_file_ending_at_a_members_last_byte(tmp_path):
    """A size of 1 GiB or more in a short file (a header from a larger archive) goes to tarfile; a tar
    that ends right after a member's data (no end-of-archive blocks) is cut short, said as such."""
    path = tmp_path / "a.tar"
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name in ("a.latent.npy", "a.meta.json"):
            info = tarfile.TarInfo(name)
            info.size = 1024
            tar.addfile(info, io.BytesIO(b"m" * 1024))
    whole = Path(path).read_bytes()
    raw = bytearray(whole)
    raw[124:136] = b"%011o\0" % (8 ** 10 + 1024)
    big = tmp_path / "big.tar"
    big.write_bytes(bytes(_with_checksum(raw)))
    assert _unknown(str(big))
    cut = tmp_path / "cut.tar"
    cut.write_bytes(whole[:2 * (512 + 1024)])  # both members whole, nothing after
    with pytest.raises(DamagedShard, match=f"encoded shard {cut} is cut short"):
        _tar_table(str(cut))


def test_a_shard_whose_members_shapes_the_catalog_records_only_in_part_is_not_checked(small):
    """Some of a shard's members re-encoded elsewhere since (their rows name another shard): the
    shapes recorded for the rest say nothing of the others, so the shard is not held to them."""
    shards = sorted({m.encodings["latent"][0] for m in small.members})
    rows = [(shards[0], (4, 1, 16, 16), 3)] + [(s, (4, 1, 8, 8), 8) for s in shards[1:]]  # 3 of shard 0's 8
    index = ManifestIndex(small, shapes=rows)
    assert index.records_shape(shards[0], (4, 1, 8, 8)) and not index.records_shape(shards[1], (4, 1, 16, 16))
    assert sum(len(b) for b in stream_of(None, index).epoch_plan(0)) == 24


def test_the_shape_counts_add_up_over_shards_and_an_index_in_memory_checks_nothing(small):
    """The trainer sizes its token budget advice from shape_counts (members at each stored shape,
    every shard together); an index of a manifest in memory has no recorded sizes to check."""
    shards = sorted({m.encodings["latent"][0] for m in small.members})
    index = ManifestIndex(small, shapes=[(shards[0], (4, 1, 8, 8), 8), (shards[1], (4, 1, 8, 8), 8),
                                         (shards[2], (4, 1, 8, 8), 5), (shards[2], (4, 1, 16, 8), 3)])
    assert index.shape_counts == {(4, 1, 8, 8): 21, (4, 1, 16, 8): 3}
    plain = ManifestIndex(small)
    plain.check_shards()  # a no-op: nothing recorded
    assert plain.recorded_bytes is None and not plain.checked and plain.checked_size(shards[0]) is None


def test_an_empty_chunk_from_the_catalog_shifts_no_text_location():
    """The catalog hands text-elsewhere rows in chunks; one without rows (a batch of nothing) before
    the others changes no key's shard, and the table still costs 12 bytes a member."""
    empty = ([], np.zeros(0, np.int64), np.zeros(0, np.uint64), [])
    rows = (["s1.tar", "s2.tar"], np.array([1, 0, 1]), np.array([key_hash(k) for k in ("a", "b", "c")], np.uint64),
            [None, None, "c.other.npy"])
    table = TextElsewhere([empty, rows])
    assert [table.get(k) for k in ("a", "b", "c")] == [("s2.tar", "a.cap_feats.npy"), ("s1.tar", "b.cap_feats.npy"),
                                                       ("s2.tar", "c.other.npy")]
    assert table.nbytes() == 3 * 12 and table == TextElsewhere([rows])
