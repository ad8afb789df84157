"""A refresh opens the catalog once per stretch of catalog calls, not once per call: each catalog
connection opened while no other is open in the process starts a DuckDB instance (~40 ms, half of
it CPU), and a no-op refresh with a live manifest started 8, one that curated a changed input 20.
It holds the catalog only between its hooks and its long work: at every progress line, at the
entry of the writer (hooks.writer: a flow run holding the writer may be waiting for the file), at
the end of the plan (the listing's Python work after its catalog queries: seconds at millions of
inputs), during the curation and at the announcement of a new version, no connection of the
refresh holds it (any other process could open it then)."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

import catalog.db as db
import preprocess.curate as pc
from catalog.source_index import LiveManifest
from flows.refresh import RefreshHooks, refresh_source
from preprocess.encode import EncodeConfig

ENCODE = EncodeConfig(text="phone")


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    from preprocess.image.demo_corpus import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("stage"), num_digits=4, num_shapes=0).root / "digits"


@pytest.fixture
def opened(monkeypatch):
    """Catalog connections opened, and DuckDB instances started (a connection while none other was open)."""
    counts = {"connections": 0, "instances": 0, "open": 0}
    real = db.sandboxed_connect

    class Counted:  # a connection whose close is seen
        def __init__(self, con):
            self._con = con

        def __getattr__(self, name):
            return getattr(self._con, name)

        def close(self):
            counts["open"] -= 1
            self._con.close()

    def counting(*a, **k):
        con = real(*a, **k)
        counts["connections"] += 1
        counts["instances"] += counts["open"] == 0
        counts["open"] += 1
        return Counted(con)

    monkeypatch.setattr(db, "sandboxed_connect", counting)

    def take() -> dict[str, int]:
        out = {k: counts[k] for k in ("connections", "instances")}
        counts.update(connections=0, instances=0)
        return out
    return take


def _free(catalog: Path) -> bool:
    """No connection of this process has the catalog open for writing: DuckDB then refuses a
    read-only one here (another configuration), as it refuses any other process's."""
    if not catalog.exists():
        return True
    try:
        duckdb.connect(str(catalog), read_only=True).close()
    except duckdb.Error:
        return False
    return True


def test_a_refresh_holds_the_catalog_once_per_stretch_and_never_at_a_hook(tmp_path, digits, opened, monkeypatch):
    src, home = tmp_path / "src", tmp_path / "home"
    shutil.copytree(digits, src)
    catalog = home / "catalog.duckdb"
    seen: list[tuple[str, bool]] = []

    @contextmanager
    def writer():
        seen.append(("writer", _free(catalog)))
        yield

    hooks = RefreshHooks(progress=lambda fraction, text: seen.append((text, _free(catalog))), writer=writer,
                         on_manifest=lambda update: seen.append((f"announce {update.id}", _free(catalog))))
    write = pc.WriteShardStage._write

    def curating(self, cands):
        seen.append(("curation", _free(catalog)))
        return write(self, cands)

    monkeypatch.setattr(pc.WriteShardStage, "_write", curating)
    import preprocess.refresh as planner

    identity = planner.source_identity  # the plan's last call: RefreshPlan(source_identity(spec), ...)

    def planned(spec):
        seen.append(("plan", _free(catalog)))
        return identity(spec)

    monkeypatch.setattr(planner, "source_identity", planned)
    live = [LiveManifest("live", "modality = 'image'", train_min_growth=1)]

    def refresh():
        return refresh_source(str(src), home, encode_cfg=ENCODE, live=live, backend="local", hooks=hooks)

    assert refresh().curated == {"accepted": 4}
    opened()
    assert refresh().noop
    assert opened() == {"connections": 4, "instances": 4}  # the declaration, the index's copy, the plan's query, the index (old: 8)
    (src / "digit_00001.txt").write_text("a digit whose caption was written again")
    changed = refresh()
    assert changed.superseded == 1 and changed.manifests[0]["train_due"], changed
    counts = opened()
    # the declaration, the index's copy, the plan's query, the run's start, the curation's two queries,
    # the registration (one instance: steps.register's connection shares the held one), the encoded
    # batches, the index and manifests, the run's end, the latent size check, the consumption of
    # the due training, the exact copies of the input curated again (88e0978: a copy of an edited
    # file keeps its old picture) (the old code: 20)
    assert counts == {"connections": 14, "instances": 13}, counts
    assert {"writer", "plan", "curation", "announce live@v2", "listing and hashing the source", "done"} <= {
        what for what, _ in seen}
    assert [what for what, free in seen if not free] == [], seen
