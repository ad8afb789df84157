"""A due training is consumed only after its announcement (the transactional-outbox rule).

update_live_manifests consumed a due training (set trained_version) in the catalog before the
Prefect refresh flow announced it (on_manifest: the lumina.manifest.updated event that starts
`train`): a refresh killed between the two lost the trigger for good, as its rerun made no new
version and announced nothing, and the next due needed train_min_growth members beyond the
consumed version. A kill is stood for by an exception (BaseException, as SIGKILL runs no handler)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from catalog.source_index import LiveManifest
from flows.refresh import RefreshHooks, refresh_source
from preprocess.encode import EncodeConfig
from tests.flows.test_refresh import _copy

ENCODE = EncodeConfig(text="phone")


class Killed(BaseException):
    pass


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    from preprocess.image.demo_corpus import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("stage"), num_digits=6, num_shapes=0).root / "digits"


def _refresh(src, home, on_manifest=lambda u: None, consume_due=True):
    live = [LiveManifest("live", "modality = 'image'", train_min_growth=2, train_options={"steps": 3})]
    return refresh_source(str(src), home, encode_cfg=ENCODE, live=live, backend="local",
                          hooks=RefreshHooks(on_manifest=on_manifest), consume_due=consume_due)


def _trained_version(home: Path):
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        return con.execute("SELECT trained_version FROM live_manifests").fetchall()
    finally:
        con.close()


def _due(tmp_path, digits):
    """live@v1 of 4 digits, then 2 more in the source: the next refresh makes live@v2, due."""
    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    _copy(digits, src, range(4))
    _refresh(src, home)
    _copy(digits, src, range(4, 6))
    return src, home


def _announced(src, home, **kw):
    seen = []
    result = _refresh(src, home, seen.append, **kw)
    return result, [(u.id, u.train_due, u.added_since_training, u.previous_version, u.previous_members, u.num_members)
                    for u in seen]


def test_a_refresh_killed_before_it_announced_a_due_training_announces_it_on_its_rerun(tmp_path, digits):
    src, home = _due(tmp_path, digits)

    def killed(update):
        assert (update.id, update.train_due) == ("live@v2", True)
        raise Killed

    with pytest.raises(Killed):
        _refresh(src, home, killed)
    assert _trained_version(home) == [(1,)]  # not consumed: nothing announced it
    again, announced = _announced(src, home)
    assert again.noop  # no new version: the same event as the lost one, once
    assert announced == [("live@v2", True, 2, 1, 4, 6)]
    assert again.manifests == [{"manifest": "live@v2", "members": 6, "previous_members": 4, "added_since_training": 2,
                                "train_due": True}]
    assert any(n.startswith("training on live is due at live@v2 since an earlier refresh") and n.endswith("announced now")
               for n in again.notes), again.notes
    assert _trained_version(home) == [(2,)]  # consumed once announced
    assert _announced(src, home)[1] == []  # and never again


def test_a_refresh_killed_after_it_announced_a_due_training_announces_it_again(tmp_path, digits, monkeypatch):
    """At least once: killed after the event and before the consume, the rerun announces it a second time."""
    import catalog.source_index

    src, home = _due(tmp_path, digits)
    consume = catalog.source_index.consume_due_training

    def killed(cat, update):
        raise Killed

    monkeypatch.setattr(catalog.source_index, "consume_due_training", killed)
    with pytest.raises(Killed):
        _announced(src, home)
    assert _trained_version(home) == [(1,)]
    monkeypatch.setattr(catalog.source_index, "consume_due_training", consume)
    assert _announced(src, home)[1] == [("live@v2", True, 2, 1, 4, 6)]
    assert _trained_version(home) == [(2,)]
    assert _announced(src, home)[1] == []


def test_a_due_training_that_lumina_refresh_left_due_is_said_again_then_announced_unless_trained(tmp_path, digits):
    """`lumina refresh` (consume_due=False) announces nothing and keeps a due training due, and says
    so on every refresh, even one with no new version; the flow's next refresh announces it. A
    version a training run took (`lumina train --manifest live@v2` by hand) is consumed unannounced."""
    src, home = _due(tmp_path, digits)
    _refresh(src, home, consume_due=False)  # live@v2, due, stays due
    said = _refresh(src, home, consume_due=False)
    assert said.noop and [m["manifest"] for m in said.manifests] == ["live@v2"] and said.manifests[0]["train_due"]
    assert any(n.startswith("training on live is due (2 new members) and stays due: lumina train --manifest live@v2")
               for n in said.notes), said.notes
    assert _trained_version(home) == [(1,)]
    con = duckdb.connect(str(home / "catalog.duckdb"))
    try:  # a training run of live@v2, as `lumina train` records it
        con.execute("INSERT INTO runs (run_id, flow_name, parameters, started_at, status) VALUES "
                    "('train-by-hand', 'train', '{\"manifest\": \"live\", \"manifest_version\": 2}', now(), 'completed')")
    finally:
        con.close()
    taken, announced = _announced(src, home)
    assert announced == [] and taken.manifests == [] and _trained_version(home) == [(2,)]


CHILD = """
import sys
from pathlib import Path
from catalog.source_index import LiveManifest
from flows.refresh import RefreshHooks, refresh_source
from preprocess.encode import EncodeConfig
live = [LiveManifest("live", "modality = 'image'", train_min_growth=2, train_options={"steps": 3})]
refresh_source(sys.argv[1], sys.argv[2], encode_cfg=EncodeConfig(text="phone"), live=live, backend="local",
               hooks=RefreshHooks(on_manifest=lambda u: print("announced", u.id, flush=True)))
"""


def test_a_refresh_sigkilled_at_its_hold_point_between_announcing_and_consuming_announces_again(tmp_path, digits):
    """The hold point refresh.due-announced (a fault test's kill) is where it says: the event out, the
    due training not consumed; a real SIGKILL there, and the rerun announces live@v2 again, then consumes it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from contracts.hold_points import HOLD_AT_ENV, HOLD_MARK_ENV, read_mark

    src, home = _due(tmp_path, digits)
    mark = tmp_path / "held.mark"
    env = {**os.environ, HOLD_AT_ENV: "refresh.due-announced", HOLD_MARK_ENV: str(mark),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(src), str(home)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not mark.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert mark.exists(), f"never held (exit {proc.poll()})"
        assert read_mark(mark)["point"] == "refresh.due-announced"
        assert _trained_version(home) == [(1,)]  # announced, not consumed
    finally:
        proc.send_signal(signal.SIGKILL)
        out = proc.communicate()[0]
    assert out.split("\n")[0] == "announced live@v2"
    again, announced = _announced(src, home)
    assert again.noop and announced == [("live@v2", True, 2, 1, 4, 6)] and _trained_version(home) == [(2,)]
