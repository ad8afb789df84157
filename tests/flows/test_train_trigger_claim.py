"""Two `lumina.manifest.updated` events for the same manifest version at the same moment (the refresh
announces at least once, so repeats happen): the catalog look-up alone let both triggered runs find
no run and both train the version. With once_per_version the flow claims the version first (an
exclusive flock, flows/train_claim.py) and holds the claim until training ends: exactly one trains,
the other trains nothing and ends Completed saying another run is training the version now. The
kernel drops the claim of a killed flow process (no stale claim after a crash), and a failed or
stopped run releases it, so the next event trains."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from contracts.hold_points import HOLD_AT_ENV, HOLD_MARK_ENV, read_mark
from tests.flows.test_train_trigger_repeats import _options, _train_runs, logged  # noqa: F401 (a fixture)
from tests.training.test_distributed import ENV, own_home

HOLD_S = 30  # the longest a test waits for a thread or a process to get where it is going


class FakeTraining:
    """flows.steps.train_step's stand-in: records each training it is asked for, and (``hold``) waits
    in it until ``go`` is set, as a long training holds the flow; ``fail`` raises instead."""

    def __init__(self, hold: bool = False, fail: BaseException | None = None):
        self.calls: list[tuple[str, int | None]] = []
        self.entered = threading.Event()
        self.go = threading.Event()
        self.hold, self.fail = hold, fail
        self._lock = threading.Lock()

    def __call__(self, home, cfg):
        with self._lock:
            self.calls.append((cfg.manifest, cfg.manifest_version))
            n = len(self.calls)
        self.entered.set()
        if self.fail is not None:
            raise self.fail
        if self.hold:
            self.go.wait(HOLD_S)
        return {"run_id": f"fake-{n}"}


def _held_by(out, manifest_id: str, pid: int, logged) -> None:
    """``out`` is the flow's answer when another process or thread holds the version's claim."""
    from prefect.states import State

    assert isinstance(out, State) and out.is_completed(), out
    said = out.message
    assert said.startswith(f"{manifest_id} is being trained now by another train run (pid {pid} on "), said
    assert said.endswith("): a repeated lumina.manifest.updated event; nothing to train (once_per_version)"), said
    assert [r.getMessage() for r in logged if "being trained now" in r.getMessage()] == [said]
    logged.clear()


def test_two_events_at_the_same_moment_train_the_version_once(tiny_home, tmp_path, monkeypatch, logged):
    from flows.train import train_flow

    home = own_home(tiny_home, tmp_path)
    m = tiny_home.train_manifest
    fake = FakeTraining(hold=True)
    monkeypatch.setattr("flows.steps.train_step", fake)
    start = threading.Barrier(2)
    answers: list = []

    def event():
        start.wait(HOLD_S)
        answers.append(train_flow.fn(manifest=f"{m}@v1", home=str(home), options=_options(tiny_home), once_per_version=True))

    threads = [threading.Thread(target=event) for _ in range(2)]
    for t in threads:
        t.start()
    until = time.monotonic() + HOLD_S
    while not answers and len(fake.calls) < 2 and time.monotonic() < until:  # one answered, or both training
        time.sleep(0.01)
    fake.go.set()
    for t in threads:
        t.join(HOLD_S)
    assert fake.calls == [(f"{m}@v1", None)], fake.calls  # exactly one trained
    assert len(answers) == 2 and {"run_id": "fake-1"} in answers, answers
    _held_by(next(a for a in answers if not isinstance(a, dict)), f"{m}@v1", os.getpid(), logged)
    assert _train_runs(home) == []  # the one held off recorded no run


def test_the_claim_is_per_version_and_every_form_of_the_version_meets_it(tiny_home, tmp_path, monkeypatch, logged):
    from flows.train import train_flow

    home = own_home(tiny_home, tmp_path)
    m, other = tiny_home.train_manifest, tiny_home.holdout_manifest
    fake = FakeTraining(hold=True)
    monkeypatch.setattr("flows.steps.train_step", fake)
    holder = threading.Thread(target=train_flow.fn, kwargs=dict(manifest=m, home=str(home), options=_options(tiny_home),
                                                                once_per_version=True))
    holder.start()
    try:
        assert fake.entered.wait(HOLD_S)
        for manifest, extra in ((f"{m}@v1", {}), (m, {}), (m, {"manifest_version": 1})):
            out = train_flow.fn(manifest=manifest, home=str(home), options={**_options(tiny_home), **extra}, once_per_version=True)
            _held_by(out, f"{m}@v1", os.getpid(), logged)
        fake.hold = False
        assert train_flow.fn(manifest=f"{other}@v1", home=str(home), options=_options(tiny_home), once_per_version=True) \
            == {"run_id": "fake-2"}  # another manifest trains meanwhile
        assert train_flow.fn(manifest=f"{m}@v1", home=str(home), options=_options(tiny_home)) == {"run_id": "fake-3"}  # by hand: no claim
    finally:
        fake.go.set()
        holder.join(HOLD_S)
    assert fake.calls == [(m, 1), (f"{other}@v1", None), (f"{m}@v1", None)], fake.calls  # the bare name pinned to its claim
    claims = sorted(p.relative_to(home).as_posix() for p in (home / "claims").rglob("*") if p.is_file())
    assert claims == sorted([f"claims/train/{m}-v1.lock", f"claims/train/{other}-v1.lock"])  # beside the catalog, no run folder
    assert not (home / "runs").exists()


def _holding_flow(home: Path, tiny_home, mark: Path, tmp_path: Path) -> subprocess.Popen:
    """A flow process that has claimed the version and holds (SIGSTOP) before its catalog look-up."""
    code = ("from flows.train import train_flow; "
            f"train_flow.fn(manifest={tiny_home.train_manifest + '@v1'!r}, home={str(home)!r}, "
            f"options={_options(tiny_home)!r}, once_per_version=True)")
    log = open(tmp_path / "holder.log", "wb")
    proc = subprocess.Popen([sys.executable, "-c", code], env={**ENV, HOLD_AT_ENV: "train.claimed", HOLD_MARK_ENV: str(mark)},
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True)
    until = time.monotonic() + HOLD_S
    while read_mark(mark) is None:
        assert proc.poll() is None, (tmp_path / "holder.log").read_text()[-3000:]
        assert time.monotonic() < until, "the flow did not hold at train.claimed"
        time.sleep(0.02)
    assert read_mark(mark)["pid"] == proc.pid
    return proc


def test_a_killed_flow_process_leaves_no_claim(tiny_home, tmp_path, monkeypatch, logged):
    from flows.train import train_flow

    home = own_home(tiny_home, tmp_path)
    m = tiny_home.train_manifest
    fake = FakeTraining()
    monkeypatch.setattr("flows.steps.train_step", fake)
    proc = _holding_flow(home, tiny_home, tmp_path / "holder.mark", tmp_path)
    try:
        out = train_flow.fn(manifest=m, home=str(home), options=_options(tiny_home), once_per_version=True)
        _held_by(out, f"{m}@v1", proc.pid, logged)
        assert fake.calls == []
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(HOLD_S)
    assert proc.returncode == -signal.SIGKILL
    out = train_flow.fn(manifest=m, home=str(home), options=_options(tiny_home), once_per_version=True)
    assert out == {"run_id": "fake-1"} and fake.calls == [(m, 1)], (out, fake.calls)  # the claim is free again
    assert _train_runs(home) == []  # the killed one held before its look-up: no run


@pytest.mark.parametrize("stop", ["failed", "stopped"])
def test_a_failed_or_stopped_run_releases_the_claim(tiny_home, tmp_path, monkeypatch, stop):
    from prefect.states import State

    from flows.train import train_flow
    from training.stopping import TrainingStopped

    home = own_home(tiny_home, tmp_path)
    m = tiny_home.train_manifest
    error = RuntimeError("out of memory") if stop == "failed" else TrainingStopped(signal.SIGTERM, 3, str(tmp_path / "ckpt"))
    fake = FakeTraining(fail=error)
    monkeypatch.setattr("flows.steps.train_step", fake)
    if stop == "failed":
        with pytest.raises(RuntimeError, match="out of memory"):
            train_flow.fn(manifest=f"{m}@v1", home=str(home), options=_options(tiny_home), once_per_version=True)
    else:
        out = train_flow.fn(manifest=f"{m}@v1", home=str(home), options=_options(tiny_home), once_per_version=True)
        assert isinstance(out, State) and out.is_cancelled(), out
    fake.fail = None
    out = train_flow.fn(manifest=f"{m}@v1", home=str(home), options=_options(tiny_home), once_per_version=True)
    assert out == {"run_id": "fake-2"} and len(fake.calls) == 2, (out, fake.calls)  # the next event trains


def test_the_claim_file_lives_beside_the_catalog_it_guards(tmp_path):
    from flows.train_claim import claim_path

    assert claim_path(tmp_path / "catalog.duckdb", "cats/dogs", 3) == tmp_path / "claims" / "train" / "cats_dogs-v3.lock"
    assert claim_path(tmp_path / "team.duckdb", "m", 1) == tmp_path / "claims" / "team.duckdb" / "train" / "m-v1.lock"


def test_a_forked_child_does_not_keep_its_parents_claim(tmp_path):
    """A child forked while the flow holds the claim (a DataLoader worker) closes its copy of the
    descriptor: the parent killed, the claim is free at once, though the child lives on."""
    from flows.train_claim import VersionClaim, claim_path

    path = claim_path(tmp_path / "catalog.duckdb", "m", 1)
    mark = tmp_path / "child.pid"
    # the child's fork hook closes its copy when the child first runs: on a loaded host that came after
    # the parent's kill (the test failed, the claim still held by a child that had not run yet), so the
    # child says it runs
    running = tmp_path / "child.running"
    code = ("import os, time\n"
            "from flows.train_claim import VersionClaim\n"
            f"assert VersionClaim({str(path)!r}).take()\n"
            "child = os.fork()\n"
            "if child == 0:\n"
            f"    open({str(running)!r}, 'w').close(); time.sleep(60); os._exit(0)\n"
            f"open({str(mark) + '.tmp'!r}, 'w').write(str(child)); os.replace({str(mark) + '.tmp'!r}, {str(mark)!r})\n"
            "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], env=ENV, cwd=tmp_path, start_new_session=True)
    child = None
    try:
        until = time.monotonic() + HOLD_S
        while not (mark.exists() and running.exists()):
            assert proc.poll() is None and time.monotonic() < until, proc.returncode
            time.sleep(0.01)
        child = int(mark.read_text())
        assert not VersionClaim(path).take()  # the parent holds it
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(HOLD_S)
        os.kill(child, 0)  # the child is still there
        claim = VersionClaim(path)
        assert claim.take()
        claim.release()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(HOLD_S)
        if child is not None:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_where_no_claim_can_be_taken_the_look_up_alone_guards_with_a_warning(tmp_path, monkeypatch, caplog):
    """A file system without locks (ENOLCK: some network or FUSE ones): the flow trains, as before
    the claim, and says once that nothing stops a second run."""
    import errno
    import fcntl

    from flows.train_claim import VersionClaim, claim_path

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    claim = VersionClaim(claim_path(tmp_path / "catalog.duckdb", "m", 1))
    with caplog.at_level("WARNING", logger="flows.train_claim"):
        assert claim.take()
    claim.release()
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [f"cannot lock {claim.path}"]
    assert "nothing stops a second triggered run from training this manifest version" in caplog.records[0].getMessage()


def test_a_manifest_that_does_not_resolve_is_refused_by_training_and_a_busy_catalog_trains_nothing(
        tiny_home, tmp_path, monkeypatch):
    """No version to claim: a missing manifest goes on to train_step's own refusal, as before; a
    catalog that cannot be read now (busy past its timeout) fails the flow rather than training unclaimed."""
    import catalog
    from flows.train import train_flow

    home = own_home(tiny_home, tmp_path)
    fake = FakeTraining()
    monkeypatch.setattr("flows.steps.train_step", fake)
    assert train_flow.fn(manifest="no-such-manifest", home=str(home), options=_options(tiny_home), once_per_version=True) \
        == {"run_id": "fake-1"}
    assert fake.calls == [("no-such-manifest", None)] and not (home / "claims").exists()

    def busy(*args, **kwargs):
        raise catalog.CatalogBusyError("catalog busy: another process has held it for 30 s")

    monkeypatch.setattr(catalog, "load_manifest_header", busy)
    with pytest.raises(catalog.CatalogBusyError, match="catalog busy"):
        train_flow.fn(manifest=f"{tiny_home.train_manifest}@v1", home=str(home), options=_options(tiny_home), once_per_version=True)
    assert len(fake.calls) == 1


def test_a_bare_name_trains_the_version_it_claimed_not_one_frozen_since(tiny_home, tmp_path, monkeypatch):
    """A bare name claims its latest version when the flow starts; training resolved "latest" again,
    so a version frozen in between was trained under the older version's claim."""
    from flows.train import train_flow

    home = own_home(tiny_home, tmp_path)
    m = tiny_home.train_manifest
    fake = FakeTraining()
    monkeypatch.setattr("flows.steps.train_step", fake)
    assert train_flow.fn(manifest=m, home=str(home), options=_options(tiny_home), once_per_version=True) == {"run_id": "fake-1"}
    assert fake.calls == [(m, 1)]
    assert train_flow.fn(manifest=m, home=str(home), options=_options(tiny_home)) == {"run_id": "fake-2"}
    assert fake.calls[1] == (m, None)  # by hand: nothing claimed, nothing pinned
