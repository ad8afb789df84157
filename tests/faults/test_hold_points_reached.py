"""Each product hold point the fault suite kills at is reached, by a real run of its stage, and holds
there before the stage's next step: curate before registering its batch files, encode after its
first shard and before the others, train after publishing checkpoint 4 and before its catalog row;
curate and encode after registering and before completing their run, a manifest with its rows
written and not committed, train with checkpoint 4 whole and not published, and with its row
written and not its log windows' rows.
(The four kills themselves: test_fault_suite.py; the mechanism: tests/contracts/test_hold_points.py.)"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contracts.hold_points import HOLD_AT_ENV, HOLD_MARK_ENV, read_mark

REPO = Path(__file__).resolve().parents[2]


def _faults():
    if "bench_faults" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_faults", REPO / "bench" / "faults.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
    return sys.modules["bench_faults"]


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """The fault suite's small chain (8 digits and 4 shapes, phone captions), its workspace before
    curate, before encode and before train (curated, encoded and the manifest made)."""
    f = _faults()
    work = tmp_path_factory.mktemp("holds")
    c = f.Chain(work, work / "logs", num_digits=8, text="phone")
    from preprocess.image.demo_corpus import write_demo_corpus

    write_demo_corpus(c.corpus, num_digits=8, num_shapes=4)
    home = work / "chain" / "clean"
    home.mkdir()
    c.snapshots["curate"] = c._snapshot(home, "before-curate")
    for stage, nxt in (("curate", "encode"), ("encode", "manifest"), ("manifest", "train")):
        c._step(stage, home)
        if nxt:
            c.snapshots[nxt] = c._snapshot(home, f"before-{nxt}")
    c.clean = home
    return c


def _held(chain, stage: str, point: str, tmp_path: Path) -> Path:
    """Run the stage on a copy of its workspace with LUMINA_HOLD_AT=point; once it has stopped
    there, kill it. The workspace as the kill left it."""
    f = _faults()
    home, mark = tmp_path / stage, tmp_path / f"{stage}.mark"
    shutil.copytree(chain.snapshots[stage], home, symlinks=True)
    env = {**f.child_env(tmp_path), HOLD_AT_ENV: point, HOLD_MARK_ENV: str(mark)}
    log = open(tmp_path / f"{stage}.log", "wb")
    proc = subprocess.Popen(chain.command(stage, home), cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        until = time.monotonic() + 300
        while not f.has_held(mark):
            assert proc.poll() is None, f"{stage} ended (rc {proc.returncode}) without holding at {point}:\n" \
                                        + (tmp_path / f"{stage}.log").read_text()[-2000:]
            assert time.monotonic() < until, f"{stage} did not hold at {point} in 300 s"
            time.sleep(0.01)
        time.sleep(0.2)
        assert proc.poll() is None  # still there a moment later
        info = read_mark(mark)
        want = point if ":" in point else f"{point}:1"
        assert info["pid"] == proc.pid and f"{info['point']}:{info['pass']}" == want, info  # the stage's own process
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()
    return home


def _rows(home: Path, query: str) -> list[tuple]:
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        return cat.sql(query)[1]


def test_curate_holds_with_every_batch_file_written_and_none_registered(chain, tmp_path):
    home = _held(chain, "curate", "curate.batches-written", tmp_path)
    written = sorted(p.name for p in (home / "curated" / "image").glob("*.batch.json"))
    clean = sorted(p.name for p in (chain.snapshots["encode"] / "curated" / "image").glob("*.batch.json"))
    assert written == clean and any(n.startswith("rejections-") for n in written) and len(written) >= 3
    assert _rows(home, "SELECT count(*) FROM samples") == [(0,)]  # registration had not begun
    assert _rows(home, "SELECT flow_name, status FROM runs") == [("curate", "running")]


def test_encode_holds_after_its_first_shard_with_the_others_not_written(chain, tmp_path):
    home = _held(chain, "encode", "encode.shard-written", tmp_path)
    curated = list((home / "curated" / "image").glob("curated-*.tar"))
    encoded = list((home / "encoded" / "image").glob("*.batch.json"))
    assert len(curated) >= 2 and len(encoded) == 1, (curated, encoded)
    assert (home / "encoded" / "image" / encoded[0].name.removesuffix(".batch.json")).is_file()  # its shard beside it
    assert _rows(home, "SELECT count(*) FROM encodings") == [(0,)]
    assert _rows(home, "SELECT count(*) FROM shards WHERE stage = 'encoded'") == [(0,)]


def test_train_holds_with_checkpoint_4_published_and_not_in_the_catalog(chain, tmp_path):
    home = _held(chain, "train", "train.checkpoint-published:2", tmp_path)
    [run] = list((home / "runs").iterdir())
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-0000002", "checkpoint-0000004"]
    assert _rows(home, "SELECT step FROM checkpoints ORDER BY step") == [(2,)]  # step 4's row not written
    assert _rows(home, "SELECT DISTINCT step FROM metrics WHERE split = 'train' ORDER BY step") == [(2,)]


@pytest.mark.parametrize("stage,table", [("curate", "samples"), ("encode", "encodings")])
def test_curate_and_encode_hold_with_everything_registered_and_their_run_not_completed(chain, tmp_path, stage, table):
    home = _held(chain, stage, f"{stage}.registered", tmp_path)
    clean = chain.snapshots["encode" if stage == "curate" else "manifest"] / "catalog.duckdb"
    from catalog import Catalog

    with Catalog.open(clean, read_only=True) as cat:
        want = cat.sql(f"SELECT count(*) FROM {table}")[1]
    assert _rows(home, f"SELECT count(*) FROM {table}") == want and want[0][0] > 0
    assert _rows(home, f"SELECT status FROM runs WHERE flow_name = '{stage}'") == [("running",)]


def test_manifest_holds_with_its_rows_written_and_not_committed(chain, tmp_path):
    home = _held(chain, "manifest", "manifest.members-written", tmp_path)
    assert _rows(home, "SELECT count(*) FROM manifests") == [(0,)]  # the kill rolled the transaction back
    assert _rows(home, "SELECT count(*) FROM manifest_members") == [(0,)]


def test_train_holds_with_checkpoint_4_whole_and_not_published(chain, tmp_path):
    home = _held(chain, "train", "train.checkpoint-written:2", tmp_path)
    [run] = list((home / "runs").iterdir())
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-0000002"]
    [tmp] = list(run.glob(".checkpoint-0000004*"))
    assert (tmp / "model.safetensors").is_file() and (tmp / "train_state.json").is_file()  # written, only the rename left
    assert _rows(home, "SELECT step FROM checkpoints ORDER BY step") == [(2,)]


def test_train_holds_with_checkpoint_4_registered_and_not_its_rows(chain, tmp_path):
    home = _held(chain, "train", "train.checkpoint-registered:2", tmp_path)
    assert _rows(home, "SELECT step FROM checkpoints ORDER BY step") == [(2,), (4,)]
    assert _rows(home, "SELECT DISTINCT step FROM metrics WHERE split = 'train' ORDER BY step") == [(2,)]  # step 4's not yet
