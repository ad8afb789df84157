"""The catalog: one DuckDB file, one writer at a time, any number of readers between writes.

Connections are short: each public call opens the file, does its work (a write is one
transaction per batch), and closes it, so a flow that keeps a ``Catalog`` for hours blocks
readers only while it is actually writing. ``with cat.hold():`` keeps one connection open across
several calls when speed matters more than sharing (the benchmark, a burst of queries, each stretch
of a refresh's catalog calls: every connection opened while none other to the file is open in the
process starts a DuckDB instance, ~40 ms).

DuckDB locks the file per process: while one process has it open for writing, every other
open fails, read-only included; several read-only opens may share it. An open that meets a lock
is retried with backoff for up to ``busy_timeout_s`` seconds, then raises ``CatalogBusyError``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import posixpath
import random
import re
import shlex
import subprocess
import threading
import time
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from contracts.hold_points import hold_point
from contracts.layout import catalog_not_found_message, printable_path

from .columnar import ColumnarBatch
from .errors import CatalogBusyError, CatalogError, CatalogNotFoundError, SchemaVersionError
from .manifest import Manifest, ManifestHeader, ManifestMember, ManifestOverview
from .owner import Owner, current_owner, heartbeat_timeout_s, is_abandoned
from .paths import default_catalog_path
from .records import Batch
from .sandbox import (RefusedSQLError, canonical_predicate, sandboxed_connect, schema_change, schema_fingerprint,
                      user_statements)
from .sqlfiles import migrations, q, schema_version

RUN_STATUSES = ("running", "completed", "failed", "cancelled", "abandoned")
FINISHED_STATUSES = ("completed", "failed", "cancelled")
LINEAGE_KINDS = ("run", "shard", "manifest", "checkpoint")
_MANIFEST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_LOCK_MESSAGES = ("Could not set lock", "Conflicting lock")
_PID = re.compile(r"\(PID (\d+)\)")
_EXPORT_BATCH_ROWS = 65_536
_USER_SQL_CHUNK_ROWS = 8_192  # rows per fetch of `lumina catalog sql`'s streamed result
_log = logging.getLogger(__name__)

# In one process, DuckDB shares one database instance among connections to the same file;
# writes from several threads are serialised here so their transactions never conflict.
_PATH_LOCKS: dict[str, threading.RLock] = {}
_PATH_LOCKS_GUARD = threading.Lock()


def _path_lock(path: Path) -> threading.RLock:
    with _PATH_LOCKS_GUARD:
        return _PATH_LOCKS.setdefault(str(path), threading.RLock())


# Catalog files this process found (or migrated) at this code's schema version, with what the file
# and its WAL looked like when this process's last connection to it closed. Catalog.open checks
# the version on a connection of its own: each one starts a DuckDB database instance (about 40 ms,
# 20 ms CPU, however small the file), and a refresh opened a Catalog 6 times. A file that has not
# changed since (same inode, size, mtime and ctime, same WAL) has the version it had, so the open
# skips that connection; any write, a replaced file or a new WAL makes it check again. A lock held
# by another process then meets the first call instead of the open (the same wait and error).
_SCHEMA_SEEN: dict[str, tuple] = {}


def _file_state(path: Path) -> tuple | None:
    """What a write, a replacement or a WAL would change: the catalog file's and its WAL's stat."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    try:
        w = os.stat(f"{path}.wal")
        wal: tuple | None = (w.st_ino, w.st_size, w.st_mtime_ns, w.st_ctime_ns)
    except OSError:
        wal = None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, wal, schema_version())


def utcnow() -> datetime:
    """Naive UTC: every TIMESTAMP column in the catalog is UTC."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def one_line(err: BaseException | str) -> str:
    """DuckDB messages span lines (hints, a caret under the query); keep the message and the hint."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    if not lines:
        return type(err).__name__ if isinstance(err, BaseException) else ""
    hints = [ln for ln in lines[1:] if ln.startswith(("Did you mean", "Candidate", "HINT"))]
    return "; ".join([lines[0], *hints[:1]])


PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the checkout (or install) this code runs from


def code_version(cwd: str | os.PathLike | None = None) -> str | None:
    """The git commit of the pipeline's own checkout (``+dirty`` if tracked files changed), not of
    the folder a command runs in; ``lumina-pipeline==<version>`` where the code is no git checkout
    (an install, a copied tree). ``cwd`` names another working tree to ask.

    LUMINA_CODE_VERSION overrides it (a container built without .git can pass its image tag).
    """
    if os.environ.get("LUMINA_CODE_VERSION"):
        return os.environ["LUMINA_CODE_VERSION"]
    # resolved before it keys the cache: "." (or a relative path) names another tree after an os.chdir
    return _checkout_version(str(Path(cwd).resolve() if cwd is not None else PACKAGE_ROOT))


@functools.lru_cache(maxsize=8)
def _checkout_version(folder: str) -> str | None:
    """code_version's answer for a folder, asked of git once per process: the code a process runs is
    what it imported at its start, and three git processes per run registered (2,582 in one test run,
    ~10 ms each) bought nothing."""
    where = Path(folder)
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=where, capture_output=True, text=True, timeout=5)
        # a tree without .git inside another repository (a copy under someone's project) is not that repository's commit
        if top.returncode == 0 and Path(top.stdout.strip()).resolve() == where.resolve():
            sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5)
            if sha.returncode == 0:
                dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                                       capture_output=True, text=True, timeout=10)
                return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        from importlib.metadata import version

        return f"lumina-pipeline=={version('lumina-pipeline')}"
    except Exception:  # noqa: BLE001 - not installed as a distribution either
        return None


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.begin()
    try:
        yield
    except BaseException:
        con.rollback()
        raise
    con.commit()


def _first(cur: duckdb.DuckDBPyConnection) -> tuple | None:
    """The first row or None. Always fetch everything: DuckDB 2 refuses new work on a
    connection whose previous result was left unfinished."""
    rows = cur.fetchall()
    return rows[0] if rows else None


def _rows(cur: duckdb.DuckDBPyConnection) -> tuple[list[str], list[tuple]]:
    if cur.description is None:
        return [], []
    return [d[0] for d in cur.description], cur.fetchall()


def _typed_rows(cur: duckdb.DuckDBPyConnection) -> tuple[list[str], list[duckdb.DuckDBPyType], list[tuple]]:
    if cur.description is None:
        return [], [], []
    return [d[0] for d in cur.description], [d[1] for d in cur.description], cur.fetchall()


def _interruptible(con: duckdb.DuckDBPyConnection, work: Callable[[], Any]) -> Any:
    """``work()`` (statements on ``con``) in a helper thread, so that Ctrl-C reaches this one: DuckDB
    runs a query without looking at Python's signals, and `lumina catalog sql` went on to the end of
    a long query. On KeyboardInterrupt the query is interrupted (con.interrupt) and, once it has
    stopped, KeyboardInterrupt is raised here (a writing caller's transaction then rolls back)."""
    out: dict[str, Any] = {}
    done = threading.Event()  # not Thread.join: one that Ctrl-C interrupts can leave is_alive() False too early

    def run() -> None:
        try:
            out["value"] = work()
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            out["error"] = e
        finally:
            done.set()

    threading.Thread(target=run, name="catalog-user-sql", daemon=True).start()
    try:
        while not done.wait(0.1):
            pass
    except KeyboardInterrupt:
        con.interrupt()
        done.wait()  # until DuckDB has stopped: the connection is then free to roll back and close
        raise
    if "error" in out:
        raise out["error"]
    return out["value"]


def _db_version(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    if con.execute(q("schema_version_exists")).fetchall()[0][0] == 0:
        (n_tables,) = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main'").fetchall()[0]
        if n_tables:
            raise CatalogError(f"{path} is a DuckDB file but not a Lumina catalog (no schema_version table)")
        return 0
    return con.execute(q("current_schema_version")).fetchall()[0][0]


def migrate(con: duckdb.DuckDBPyConnection, path: Path, target: int | None = None) -> tuple[int, int]:
    """Apply migrations up to ``target`` (default: the latest), each in its own transaction.

    Returns (version before, version after). A file newer than this code raises SchemaVersionError.
    """
    latest = schema_version()
    target = latest if target is None else target
    current = _db_version(con, path)
    if current > latest:
        raise SchemaVersionError(
            f"catalog {path} has schema v{current}, newer than this code's v{latest}: "
            "upgrade lumina-pipeline to open it (it was written by a newer version)"
        )
    for mig in migrations()[current:target]:
        with _transaction(con):
            con.execute(mig.sql)
            con.execute(q("record_migration"), [mig.version, mig.name, utcnow()])
    return current, max(current, target)


def _timeout_from_environment() -> float:
    """LUMINA_CATALOG_TIMEOUT_S (default 30 s): a word ended in "could not convert string to float"
    naming no variable, and nan waited for a busy catalog forever."""
    raw = os.environ.get("LUMINA_CATALOG_TIMEOUT_S") or "30"
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise CatalogError(f"LUMINA_CATALOG_TIMEOUT_S={raw!r}: must be a finite number of seconds, 0 or more")
    return seconds


class Catalog:
    """The DuckDB catalog. Make one with ``Catalog.open``; see the module docstring for locking."""

    def __init__(self, path: Path, read_only: bool, busy_timeout_s: float,
                 heartbeat_timeout_s: float | None = None) -> None:
        self.path = path
        self.read_only = read_only
        self.busy_timeout_s = busy_timeout_s
        self.heartbeat_timeout_s = heartbeat_timeout_s  # None: $LUMINA_RUN_HEARTBEAT_TIMEOUT_S or 30 min
        self.busy_setting = "busy_timeout_s"  # named by the busy error (Catalog.open sets what the caller has)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._hold_depth = 0
        self._checked = False  # Catalog.open found the file at this code's schema version
        # Tests set this to a callable(step_name) to inject faults between the statements of a batch.
        self._fault_hook: Callable[[str], None] | None = None

    # ---------------------------------------------------------------- opening and connections

    @classmethod
    def open(cls, path: str | os.PathLike | None = None, read_only: bool = False,
             busy_timeout_s: float | None = None, heartbeat_timeout_s: float | None = None,
             busy_setting: str | None = None, defer_check: bool = False) -> "Catalog":
        """Open (and in write mode create or migrate) the catalog at ``path`` (default: default_catalog_path()).

        ``heartbeat_timeout_s``: how old a running run's heartbeat may get before start_run calls it
        abandoned when its owner is not a process on this host (default $LUMINA_RUN_HEARTBEAT_TIMEOUT_S
        or 1800 s). ``busy_setting``: what the busy error names as the way to wait longer (a CLI's
        ``--timeout``; default: LUMINA_CATALOG_TIMEOUT_S, or busy_timeout_s when that was given).
        ``defer_check``: the schema version is checked (in write mode: the file created or migrated)
        by the first connection, not by one of the open's own; the same errors then come from the
        first call (a caller that calls at once saves a DuckDB instance: ~40 ms)."""
        if busy_setting is None:
            busy_setting = "busy_timeout_s" if busy_timeout_s is not None else "LUMINA_CATALOG_TIMEOUT_S"
        if busy_timeout_s is None:  # how long to wait for another writer; LUMINA_CATALOG_TIMEOUT_S for stage commands
            busy_timeout_s = _timeout_from_environment()
        path = Path(path).expanduser().resolve() if path else default_catalog_path()
        if read_only and not path.exists():
            raise CatalogNotFoundError(catalog_not_found_message(path))
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        cat = cls(path, read_only, busy_timeout_s, heartbeat_timeout_s)
        cat.busy_setting = busy_setting
        state = _file_state(path)
        if state is not None and _SCHEMA_SEEN.get(str(path)) == state:
            cat._checked = True  # unchanged since this process last had it open at this schema version
            return cat
        if not defer_check:
            with cat._connection():  # its opening checks the version (_open_checked)
                pass
        return cat

    def _check(self, con: duckdb.DuckDBPyConnection) -> None:
        """The schema version on a new connection: refused if newer than this code's (or, read-only,
        older); in write mode the file is created or migrated. Once per Catalog."""
        path = self.path
        if self.read_only:
            current, latest = _db_version(con, path), schema_version()
            if current == 0:
                raise CatalogError(f"{path} is an empty DuckDB file, not a Lumina catalog")
            if current > latest:
                raise SchemaVersionError(
                    f"catalog {path} has schema v{current}, newer than this code's v{latest}: "
                    "upgrade lumina-pipeline to open it")
            if current < latest:
                raise SchemaVersionError(
                    f"catalog {path} has schema v{current}, older than this code's v{latest}: "
                    "open it once for writing to migrate (`lumina catalog migrate`)")
        else:
            with _path_lock(path):  # one migrating thread
                migrate(con, path)
        self._checked = True  # the file's state is recorded once this connection is closed (_closed_one)

    def _open_checked(self) -> duckdb.DuckDBPyConnection:
        """_connect, and the version check on the first connection of a Catalog opened without it."""
        con = self._connect()
        if not self._checked:
            try:
                self._check(con)
            except BaseException:
                con.close()
                raise
        return con

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
            self._hold_depth = 0
            self._closed_one()

    def _closed_one(self) -> None:
        """After a connection of a checked catalog closed: the file's state is one at this schema."""
        if self._checked:
            state = _file_state(self.path)
            if state is not None:
                _SCHEMA_SEEN[str(self.path)] = state

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """duckdb.connect with a bounded wait on the file lock."""
        start = time.monotonic()
        delay = 0.02
        said = False
        while True:
            try:
                # Sandboxed: this file only, no extensions, configuration locked (see sandbox.py).
                return sandboxed_connect(str(self.path), read_only=self.read_only)
            except (duckdb.IOException, duckdb.ConnectionException) as e:
                msg = str(e)
                if "database does not exist" in msg:
                    raise CatalogNotFoundError(f"no catalog at {self.path}") from None
                if any(m in msg for m in _LOCK_MESSAGES):
                    pid = _PID.search(msg)
                    holder = f"another process (PID {pid.group(1)})" if pid else "another process"
                elif "different configuration" in msg:
                    holder = "this process (opened in the other read/write mode)"
                else:
                    raise CatalogError(f"cannot open catalog {self.path}: {one_line(e)}") from None
            waited = time.monotonic() - start
            if waited >= self.busy_timeout_s:
                mode = "read-only" if self.read_only else "for writing"
                raise CatalogBusyError(
                    f"catalog is busy: {self.path} is held by {holder}; could not open it {mode} "
                    f"within {self.busy_timeout_s:g} s (wait longer with {self.busy_setting})")
            if waited >= 2.0 and not said:  # a silent wait of half a minute looks like a hang
                _log.warning("waiting for the catalog %s, held by %s (up to %g s)", self.path, holder, self.busy_timeout_s)
                said = True
            time.sleep(min(delay * (0.5 + random.random()), self.busy_timeout_s - waited))
            delay = min(delay * 2, 0.5)

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        lock = None if self.read_only else _path_lock(self.path)
        if lock is not None and not lock.acquire(timeout=self.busy_timeout_s):
            raise CatalogBusyError(f"catalog is busy: another thread of this process is writing {self.path}")
        try:
            if self._con is not None:
                yield self._con
                return
            con = self._open_checked()
            try:
                yield con
            finally:
                con.close()
                self._closed_one()
        finally:
            if lock is not None:
                lock.release()

    @contextmanager
    def hold(self) -> Iterator["Catalog"]:
        """Keep one connection open across calls (faster; other processes wait meanwhile). While it
        is open, another Catalog of the same file in this process connects to the same DuckDB
        instance (~1 ms instead of ~40 ms), but only in the same mode: a read-only open of a file
        held for writing here waits as for another process."""
        if self._con is None:
            self._con = self._open_checked()
        self._hold_depth += 1
        try:
            yield self
        finally:
            self._hold_depth -= 1
            if self._hold_depth == 0 and self._con is not None:
                self._con.close()
                self._con = None
                self._closed_one()

    def _writable(self) -> None:
        if self.read_only:
            raise CatalogError(f"catalog {self.path} is open read-only; this call writes")

    def _step(self, name: str) -> None:
        if self._fault_hook is not None:
            self._fault_hook(name)

    @staticmethod
    def _require_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
        if con.execute(q("run_exists"), [run_id]).fetchall()[0][0] == 0:
            raise ValueError(f"unknown run {run_id!r}: call start_run first")

    # ---------------------------------------------------------------- runs

    def start_run(self, flow_name: str, parameters: dict[str, Any] | None = None, run_id: str | None = None) -> str:
        """Record a run as running, owned by this process; an existing run_id is resumed (status
        running, end time cleared, this process its owner). Runs left running by dead processes
        are marked abandoned first (mark_abandoned_runs)."""
        self._writable()
        now = utcnow()
        run_id = run_id or f"{flow_name}-{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}"
        params = json.dumps(parameters or {}, sort_keys=True, default=str)
        owner = current_owner()
        version = code_version()
        with self._connection() as con, _transaction(con):
            self._abandon_dead_runs(con, now, keep=run_id)
            con.execute(q("start_run"), [run_id, flow_name, params, version, now, owner.pid, owner.started, owner.host])
        return run_id

    def mark_abandoned_runs(self) -> list[str]:
        """Mark every run that claims to be running but is dead as 'abandoned'; returns their ids.

        Dead: its owner PID is gone on this host (or reused by another process), or, when the owner
        is on another host or unknown (runs from before schema v4), its heartbeat is older than
        ``heartbeat_timeout_s``. start_run calls this, so the next run cleans up after a kill -9.
        """
        self._writable()
        with self._connection() as con, _transaction(con):
            return self._abandon_dead_runs(con, utcnow(), keep="")

    def _abandon_dead_runs(self, con: duckdb.DuckDBPyConnection, now: datetime, keep: str) -> list[str]:
        timeout = heartbeat_timeout_s(self.heartbeat_timeout_s)
        dead = [run_id for run_id, pid, started, host, beat in con.execute(q("running_runs"), [keep]).fetchall()
                if is_abandoned(Owner(pid, started, host), beat, now, timeout)]
        if not dead:
            return []
        return [r[0] for r in con.execute(q("abandon_runs"), [dead, now]).fetchall()]

    def heartbeat(self, run_id: str) -> None:
        """A sign of life from a long stage: without one for ``heartbeat_timeout_s``, a run whose
        owner is not on this host is marked abandoned by the next start_run. A beat revives a run
        that was marked abandoned meanwhile."""
        self._writable()
        with self._connection() as con:
            if not con.execute(q("heartbeat"), [utcnow(), run_id]).fetchall():
                raise ValueError(f"unknown run {run_id!r}")

    @contextmanager
    def keep_alive(self, run_id: str, every_s: float = 60.0) -> Iterator[None]:
        """Beat every ``every_s`` seconds from a background thread while the block runs.

        A beat that meets a busy catalog is skipped (the next one retries); it never fails the block.
        """
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(every_s):
                try:
                    self.heartbeat(run_id)
                except (CatalogError, duckdb.Error, ValueError) as e:  # busy, or the run was deleted
                    _log.warning("heartbeat of run %s skipped: %s", run_id, one_line(e))

        thread = threading.Thread(target=beat, name=f"heartbeat-{run_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def finish_run(self, run_id: str, status: str = "completed") -> None:
        self._writable()
        if status not in FINISHED_STATUSES:
            raise ValueError(f"a finished run's status is completed, failed or cancelled, not {status!r}")
        now = utcnow()
        with self._connection() as con:
            if not con.execute(q("finish_run"), [status, now, now, run_id]).fetchall():
                raise ValueError(f"unknown run {run_id!r}")

    # ---------------------------------------------------------------- registration

    def register_batches(self, batches: Iterable[Batch | ColumnarBatch | str | os.PathLike], run_id: str) -> dict[str, int]:
        """Register batches (objects, columnar batches or .batch.json paths), one transaction each.

        A batch whose content digest was registered before is skipped, so registering the same
        batches twice changes nothing; unless another run has given its samples or encodings other
        rows since (a curation with other options, then the first ones again, reusing the shards):
        then it is registered again, as the latest (_still_current). Returns counts: batches, skipped, samples, verdicts,
        encodings, shards (rows written by the batches that were not skipped).
        """
        self._writable()
        totals: Counter[str] = Counter(batches=0, skipped=0, samples=0, verdicts=0, encodings=0, shards=0)
        with self._connection() as con:
            self._require_run(con, run_id)
            for item in batches:
                cb = None  # the last batch's tables go before the next is read: one batch in memory at a time
                cb = self._columnar(item)
                cb.validate()
                digest = cb.digest()
                totals["batches"] += 1
                with _transaction(con):
                    if con.execute(q("batch_seen"), [digest]).fetchall()[0][0]:
                        if self._still_current(con, cb, digest):
                            totals["skipped"] += 1
                            continue
                        con.execute(q("forget_batch"), [digest])  # registered again below, as the latest
                    self._register_one(con, cb, run_id, digest)
                totals["samples"] += cb.samples.num_rows
                totals["verdicts"] += cb.verdicts.num_rows
                totals["encodings"] += cb.encodings.num_rows
                totals["shards"] += cb.shard is not None
        return dict(totals)

    @staticmethod
    def _columnar(item: Batch | ColumnarBatch | str | os.PathLike) -> ColumnarBatch:
        if isinstance(item, ColumnarBatch):
            return item
        if isinstance(item, Batch):
            return ColumnarBatch.from_batch(item)
        if isinstance(item, (str, os.PathLike)):
            try:
                batch = Batch.read(item)
            except (ValueError, TypeError, KeyError, AttributeError) as e:  # bad JSON, fields or record contract
                raise ValueError(f"{item}: not a valid batch file: {e}") from None
            return ColumnarBatch.from_batch(batch, label=str(item))
        raise TypeError(f"cannot register a {type(item).__name__}: pass a Batch, ColumnarBatch or .batch.json path")

    @staticmethod
    def _still_current(con: duckdb.DuckDBPyConnection, cb: ColumnarBatch, digest: str) -> bool:
        """Whether a batch registered before still gives the catalog its rows (register.sql, batch_current).
        Before, a curation with options A, then B, then A again (its shard reused) kept B's rows, while
        lumina encode encoded A's shard, the latest curated: the catalog's meta and the latents disagreed."""
        if not con.execute(q("batch_maybe_stale"), [digest]).fetchall()[0][0]:
            return True
        names = ("batch_samples", cb.samples), ("batch_encodings", cb.encodings)
        for name, t in names:
            con.register(name, t)
        try:
            return bool(con.execute(q("batch_current"), [digest]).fetchall()[0][0])
        finally:
            for name, _ in names:
                con.unregister(name)

    def _register_one(self, con: duckdb.DuckDBPyConnection, cb: ColumnarBatch, run_id: str, digest: str) -> None:
        """All statements of one batch (register.sql explains the rules); the caller holds the transaction."""
        now = utcnow()
        views = {}
        for name, t in (("batch_samples", cb.samples), ("batch_verdicts", cb.verdicts), ("batch_encodings", cb.encodings)):
            views[name] = t.append_column("_ord", pa.array(range(t.num_rows), type=pa.int64()))
            con.register(name, views[name])
        try:
            con.execute(q("reg_known_keys"))
            known = con.execute(q("reg_count_known")).fetchall()[0][0]
            if cb.refers_outside():
                orphans = [r[0] for r in con.execute(q("reg_orphans")).fetchall()]
                if orphans:
                    raise ValueError(
                        f"{cb.label}: verdicts or encodings for samples that are neither in the batch nor "
                        f"registered (e.g. {', '.join(orphans)}): register the batch with their SampleRecords first")
            if cb.shard is not None:
                s = cb.shard
                if con.execute(q("shard_exists"), [s.uri]).fetchall()[0][0]:
                    con.execute(q("clear_shard_samples"), [s.uri])
                    con.execute(q("update_shard"), [s.stage, s.num_samples, s.bytes, s.sha256, run_id, s.uri])
                else:
                    con.execute(q("insert_shard"), [s.uri, s.stage, s.num_samples, s.bytes, s.sha256, run_id])
                con.execute(q("insert_lineage"), ["run", run_id, "shard", s.uri, now])
                if s.source_shard:  # an encoded shard: the curated shard it was made from
                    con.execute(q("insert_lineage"), ["shard", s.source_shard, "shard", s.uri, now])
            self._step("shard")
            if cb.samples.num_rows:
                con.execute(q("insert_new_samples"), [run_id])
                if known:
                    con.execute(q("update_known_samples"), [run_id])
                if cb.shard is not None:
                    con.execute(q("insert_shard_samples"), [cb.shard.uri])
            self._step("samples")
            if cb.verdicts.num_rows:
                if known:
                    con.execute(q("delete_known_verdicts"))
                con.execute(q("insert_verdicts"), [run_id])
            self._step("verdicts")
            if cb.encodings.num_rows:
                if known:
                    con.execute(q("delete_known_encodings"))
                con.execute(q("insert_encodings"), [run_id])
            self._step("encodings")
            con.execute(q("record_batch"), [digest, run_id, cb.shard.uri if cb.shard else None, cb.samples.num_rows,
                                            cb.verdicts.num_rows, cb.encodings.num_rows, now])
            con.execute(q("reg_drop_known"))
            self._step("batch")
        finally:
            for name in views:
                try:
                    con.unregister(name)
                except duckdb.Error:  # after a failed statement the transaction is aborted: let its error through
                    pass

    # ---------------------------------------------------------------- manifests

    def count_matching(self, where: str) -> int:
        """How many accepted samples the predicate selects (validates it; read-only)."""
        expr = canonical_predicate(where)
        with self._connection() as con:
            try:
                return con.execute(q("manifest_predicate_count_template").replace("{where}", expr)).fetchall()[0][0]
            except duckdb.Error as e:
                raise ValueError(f"invalid predicate {where!r}: {one_line(e)}") from None

    def create_manifest(self, name: str, where: str, encoders: Sequence[str] | None = None,
                        description: str = "") -> Manifest:
        """Freeze the accepted samples matching ``where`` (SQL over ``samples``) with their encodings.

        Same name again: a new version only if the frozen content differs, else the latest one.
        Each kind of encoding must come from one encoder fingerprint; if the selection mixes
        several and ``encoders`` does not pick, ValueError. Samples lacking an encoding of a kind
        the manifest carries are left out and counted in ``num_excluded``. Returns the manifest
        with its members: `freeze_manifest` does the same without loading them.
        """
        head = self.freeze_manifest(name, where, encoders, description)
        with self._connection() as con:
            return self._read_manifest(con, head.name, head.version)

    def freeze_manifest(self, name: str, where: str, encoders: Sequence[str] | None = None,
                        description: str = "") -> ManifestHeader:
        """`create_manifest` returning only the header: the members stay in the catalog, so
        memory does not grow with the selection."""
        self._writable()
        if not _MANIFEST_NAME.match(name or ""):
            raise ValueError(f"manifest name {name!r}: use letters, digits, '_', '.', '-' (no '@')")
        expr = canonical_predicate(where)  # one expression, as DuckDB parsed it (sandbox.py)
        encoders = list(encoders or [])
        with self._connection() as con:
            encoders = self._live_selection_encoders(con, name, expr, encoders)
            con.execute(q("manifest_drop_temps"))
            try:
                with _transaction(con):
                    try:
                        con.execute(q("manifest_candidates_template").replace("{where}", expr))
                    except duckdb.Error as e:
                        raise ValueError(f"invalid predicate {where!r}: {one_line(e)}") from None
                    con.execute(q("manifest_candidates"))
                    con.execute(q("manifest_candidate_encodings"), [encoders])
                    encoder_map = self._pick_encoders(con, name, encoders)
                    con.execute(q("manifest_select"), [len(encoder_map)])
                    con.execute(q("manifest_select_encodings"))
                    n_cand, n_sel = con.execute(q("manifest_counts")).fetchall()[0]
                    if n_sel == 0:
                        extra = f" that have encodings of every kind {sorted(encoder_map)}" if n_cand else ""
                        raise ValueError(f"manifest {name!r}: no accepted samples match {where!r}{extra}")
                    latest = con.execute(q("manifest_latest_version"), [name]).fetchall()[0][0]
                    if latest is not None and con.execute(q("manifest_same"), [name, latest]).fetchall()[0][0]:
                        version = latest
                    else:
                        version = (latest or 0) + 1
                        now = utcnow()
                        con.execute(q("insert_manifest"), [name, version, where, description,
                                                           json.dumps(encoder_map, sort_keys=True), n_sel,
                                                           n_cand - n_sel, now])
                        con.execute(q("insert_manifest_members"), [name, version])
                        con.execute(q("insert_manifest_encodings"), [name, version])
                        con.execute(q("manifest_lineage"), [f"{name}@v{version}", now, name, version])
                        hold_point("manifest.members-written")  # every row written, none committed (a fault test's kill)
            finally:
                con.execute(q("manifest_drop_temps"))
            return self._read_manifest_header(con, name, version)

    @staticmethod
    def _live_selection_encoders(con: duckdb.DuckDBPyConnection, name: str, expr: str, encoders: list[str]) -> list[str]:
        """The encoders to freeze ``name`` with, refusing a selection that is not its live one.

        Every refresh re-freezes a live manifest with its stored selection, so a version of another
        selection under its name would alternate with the refresh's (and training would take
        whichever came last). The same selection is fine: it gets the live manifest's encoder pin
        unless ``encoders`` names the same."""
        live = _first(con.execute(q("live_manifest_selection"), [name]))
        if live is None:
            return encoders
        live_where, live_pin = live[0], json.loads(live[1]) if live[1] else None
        if canonical_predicate(live_where) != expr:
            raise LiveManifestError(
                f"manifest {name!r} is live with the selection {live_where!r} (every refresh re-freezes it), so a "
                f"version of another selection would alternate with the refresh's: choose another name, or change the "
                f"live selection with `lumina refresh SOURCE --live {name}=WHERE` (live_manifests.{name}.where in the "
                f"deployment)")
        if live_pin is not None and encoders and sorted(encoders) != sorted(live_pin):
            raise LiveManifestError(
                f"manifest {name!r} is live with its encoders pinned to {sorted(live_pin)}, so a version with "
                f"{sorted(encoders)} would alternate with the refresh's: choose another name, or change the pin with "
                f"`lumina refresh SOURCE --live {name}=WHERE --live-encoder FINGERPRINT`")
        return list(live_pin) if live_pin is not None and not encoders else encoders

    @staticmethod
    def _pick_encoders(con: duckdb.DuckDBPyConnection, name: str, encoders: list[str]) -> dict[str, str]:
        by_kind: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for kind, fp, n in con.execute(q("manifest_fingerprints")).fetchall():
            by_kind[kind].append((fp, n))
        found = {fp for fps in by_kind.values() for fp, _ in fps}
        missing = [fp for fp in encoders if fp not in found]
        if missing:
            raise ValueError(f"manifest {name!r}: no selected sample has encodings from {missing}")
        mixed = {k: v for k, v in by_kind.items() if len(v) > 1}
        if mixed:
            detail = "; ".join(f"{k}: " + ", ".join(f"{fp} ({n} samples)" for fp, n in v) for k, v in sorted(mixed.items()))
            raise MixedEncodersError(
                f"manifest {name!r}: the selected samples mix encoders of the same kind ({detail}); "
                "latents from different encoders never share a manifest: pick one per kind with "
                "encoders=[...] (CLI: --encoder FINGERPRINT)")
        return {k: v[0][0] for k, v in sorted(by_kind.items())}

    def manifest(self, name: str, version: int | None = None) -> Manifest:
        """A stored manifest (the latest version by default); ``name@vN`` also selects a version."""
        name, version = _split_manifest_id(name, version)
        with self._connection() as con:
            return self._read_manifest(con, name, version)

    def manifest_header(self, name: str, version: int | None = None) -> ManifestHeader:
        """A stored manifest's header (the latest version by default) without its members."""
        name, version = _split_manifest_id(name, version)
        with self._connection() as con:
            return self._read_manifest_header(con, name, version)

    def manifest_overview(self, name: str, version: int | None = None, first: int = 0) -> ManifestOverview:
        """A manifest's counts and its first `first` members by key, without loading the rest."""
        name, version = _split_manifest_id(name, version)
        with self._connection() as con:
            head = self._read_manifest_header(con, name, version)
            at = [head.name, head.version]
            splits = dict(con.execute(q("manifest_split_counts"), at).fetchall())
            shards = dict(con.execute(q("manifest_shard_counts"), at).fetchall())
            members: list[ManifestMember] = []
            if first > 0:
                con.execute(q("manifest_first_keys"), [*at, first])
                try:
                    members = self._read_manifest(con, head.name, head.version, first_only=True).members
                finally:
                    con.execute("DROP TABLE IF EXISTS manifest_first")
        return ManifestOverview(head, splits, shards, members)

    def manifest_latent_hashes(self, name: str, version: int | None = None, batch_rows: int = 65_536
                               ) -> Iterator[tuple[list[str], Any, Any]]:
        """A manifest's members in batches of (shard names, each row's index into them, each row's
        key hash: 64 bits of MD5, DuckDB's md5_number_lower) for the latent encoding, in no
        particular order. What a streaming loader needs; no per-member Python object is made."""
        name, version = _split_manifest_id(name, version)
        with self._connection() as con:
            head = self._read_manifest_header(con, name, version)
            reader = con.sql(q("manifest_latent_hashes"), params=[head.name, head.version]).to_arrow_reader(batch_rows)
            for batch in reader:
                shards = batch.column(0).dictionary_encode()
                yield (shards.dictionary.to_pylist(), shards.indices.to_numpy(zero_copy_only=False),
                       batch.column(1).to_numpy(zero_copy_only=False))

    def manifest_text_elsewhere_hashes(self, name: str, version: int | None, beside_suffix: str,
                                       batch_rows: int = 65_536) -> Iterator[tuple[list[str], Any, Any, list]]:
        """The members whose text encoding is not in their latent's shard as ``<key><beside_suffix>``
        (text re-encoded with another encoder, for one), for a streaming loader: in batches of
        (shard names, each row's index into them, each row's key hash, each row's member or None
        where it is ``<key><beside_suffix>``), so that a manifest whose text was all re-encoded
        elsewhere makes no per-member Python object."""
        name, version = _split_manifest_id(name, version)
        with self._connection() as con:
            head = self._read_manifest_header(con, name, version)
            reader = con.sql(q("manifest_text_elsewhere_hashes"),
                             params=[head.name, head.version, beside_suffix]).to_arrow_reader(batch_rows)
            for batch in reader:
                shards = batch.column(1).dictionary_encode()
                yield (shards.dictionary.to_pylist(), shards.indices.to_numpy(zero_copy_only=False),
                       batch.column(0).to_numpy(zero_copy_only=False), batch.column(2).to_pylist())

    def _read_manifest_header(self, con: duckdb.DuckDBPyConnection, name: str, version: int | None) -> ManifestHeader:
        if version is None:
            version = con.execute(q("manifest_latest_version"), [name]).fetchall()[0][0]
            if version is None:
                import difflib

                names = [r[0] for r in con.execute("SELECT DISTINCT name FROM manifests ORDER BY name").fetchall()]
                near = difflib.get_close_matches(name, names, n=3)
                hint = (f": did you mean {' or '.join(map(repr, near))}?" if near
                        else f" (it has {', '.join(names[:10])}{', ...' if len(names) > 10 else ''})" if names
                        else " (it has none: lumina catalog manifest create)")
                raise ManifestNotFoundError(f"no manifest named {name!r} in {self.path}{hint}")
        head = _first(con.execute(q("manifest_header"), [name, version]))
        if head is None:
            raise ManifestNotFoundError(f"manifest {name!r} has no version {version} in {self.path}")
        _, _, predicate, description, encoders, num_members, num_excluded, created_at = head
        return ManifestHeader(name=name, version=version, where=predicate, created_at=created_at,
                              encoders=json.loads(encoders), num_members=num_members, description=description,
                              num_excluded=num_excluded)

    def _read_manifest(self, con: duckdb.DuckDBPyConnection, name: str, version: int | None,
                       first_only: bool = False) -> Manifest:
        """The manifest with its members; `first_only`: only those in the temp table manifest_first."""
        head = self._read_manifest_header(con, name, version)
        version, predicate, description, encoders, num_excluded, created_at = (
            head.version, head.where, head.description, head.encoders, head.num_excluded, head.created_at)
        which = "manifest_first_" if first_only else "manifest_"
        mt = con.sql(q(which + "member_rows"), params=[name, version]).to_arrow_table()
        keys, captions, splits, metas = (c.to_pylist() for c in mt.columns)
        et = con.sql(q(which + "encoding_rows"), params=[name, version]).to_arrow_table()
        ekeys, ekinds, euris, emembers = (c.to_pylist() for c in et.columns)
        kinds = sorted(encoders)
        k = len(kinds)
        # Every member has exactly one encoding per manifest kind, and both lists are sorted by
        # (key, kind): row i*k + j is member i's kind j. Checked, with a general fallback.
        if k and len(ekeys) == k * len(keys) and all(ekeys[j::k] == keys and ekinds[j::k] == [kinds[j]] * len(keys)
                                                     for j in range(k)):
            per_kind = [list(zip(euris[j::k], emembers[j::k])) for j in range(k)]
            encs = [dict(zip(kinds, pairs)) for pairs in zip(*per_kind)]
        else:
            by_key: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
            for key, kind, uri, member in zip(ekeys, ekinds, euris, emembers):
                by_key[key][kind] = (uri, member)
            encs = [by_key.get(key, {}) for key in keys]
        metas = json.loads("[" + ",".join(metas) + "]")  # one parse, not one per member
        members = [ManifestMember(key=key, caption=caption, split=split, meta=meta, encodings=enc)
                   for key, caption, split, meta, enc in zip(keys, captions, splits, metas, encs)]
        return Manifest(name=name, version=version, where=predicate, created_at=created_at, encoders=encoders,
                        members=members, description=description, num_excluded=num_excluded)

    def list_manifests(self) -> tuple[list[str], list[tuple]]:
        with self._connection() as con:
            return _rows(con.execute(q("manifest_list")))

    # ---------------------------------------------------------------- checkpoints, metrics, lineage

    def register_checkpoint(self, run_id: str, uri: str, config: dict[str, Any] | None = None,
                            manifest: str | None = None, manifest_version: int | None = None, step: int = 0) -> str:
        """Record a checkpoint (idempotent by uri: a known uri returns its id unchanged).

        When ``config["content_sha256"]`` differs from the known row's, the folder now holds other
        weights (a run wrote a new checkpoint where a deleted one was): the row takes the new run,
        manifest, step and config under the same id, and the metrics measured on the old weights
        are detached from it (kept, with their run, but no longer credited to this checkpoint)."""
        self._writable()
        with self._connection() as con, _transaction(con):
            row = _first(con.execute(q("checkpoint_by_uri"), [uri]))
            replaced = False
            if row:
                old = json.loads(row[1] or "{}").get("content_sha256")
                new = (config or {}).get("content_sha256")
                if old is None or new is None or old == new:
                    return row[0]
                replaced = True
            self._require_run(con, run_id)
            if manifest is not None:
                manifest, manifest_version = _split_manifest_id(manifest, manifest_version)
                latest = con.execute(q("manifest_latest_version"), [manifest]).fetchall()[0][0]
                if latest is None:
                    raise ManifestNotFoundError(f"no manifest named {manifest!r}")
                manifest_version = latest if manifest_version is None else manifest_version
                if _first(con.execute(q("manifest_header"), [manifest, manifest_version])) is None:
                    raise ManifestNotFoundError(f"manifest {manifest!r} has no version {manifest_version}")
            ckpt_id = "ckpt-" + hashlib.sha256(uri.encode()).hexdigest()[:16]
            now = utcnow()
            config_json = json.dumps(config or {}, sort_keys=True, default=str)
            if replaced:
                _log.warning("%s was rewritten with other weights (run %s): its catalog row %s now describes them, "
                            "and the metrics of the earlier weights are no longer credited to it", uri, run_id, ckpt_id)
                con.execute(q("detach_checkpoint_metrics"), [ckpt_id])
                con.execute(q("delete_lineage_into"), ["checkpoint", ckpt_id])
                con.execute(q("update_checkpoint"), [run_id, manifest, manifest_version, int(step), config_json, now, ckpt_id])
            else:
                con.execute(q("insert_checkpoint"), [ckpt_id, uri, run_id, manifest, manifest_version, int(step),
                                                     config_json, now])
            con.execute(q("insert_lineage"), ["run", run_id, "checkpoint", ckpt_id, now])
            if manifest is not None:
                con.execute(q("insert_lineage"), ["manifest", f"{manifest}@v{manifest_version}", "checkpoint", ckpt_id, now])
            return ckpt_id

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int | None = None,
                    split: str | None = None, checkpoint_id: str | None = None, window_start: int | None = None,
                    window_names: Sequence[str] = ()) -> None:
        """Append metric rows. With ``window_start`` (a training log window's first step; split
        'train'), the rows a stopped run logged for this window while it was still open are
        replaced: those of ``window_names`` (default: the metrics' names) logged at the step of a
        checkpoint of the same run folder as ``checkpoint_id``, from window_start to before ``step``.
        So a stopped run has its last partial window in the catalog, and a resumed one a straight run's."""
        self._writable()
        now = utcnow()
        rows = [[run_id, checkpoint_id, name, None if v is None else float(v), step, split, now]
                for name, v in metrics.items()]
        with self._connection() as con, _transaction(con):
            self._require_run(con, run_id)
            if checkpoint_id is not None and con.execute(q("checkpoint_exists"), [checkpoint_id]).fetchall()[0][0] == 0:
                raise ValueError(f"unknown checkpoint {checkpoint_id!r}")
            if window_start is not None and checkpoint_id is not None and step is not None:
                con.execute(q("delete_open_window_metrics"),
                            [split, list(window_names or metrics), window_start, step, checkpoint_id])
            if rows:
                con.executemany(q("insert_metric"), rows)

    def add_lineage(self, src_kind: str, src_id: str, dst_kind: str, dst_id: str) -> None:
        self._writable()
        for kind in (src_kind, dst_kind):
            if kind not in LINEAGE_KINDS:
                raise ValueError(f"lineage kind must be one of {LINEAGE_KINDS}, got {kind!r}")
        with self._connection() as con:
            con.execute(q("insert_lineage"), [src_kind, src_id, dst_kind, dst_id, utcnow()])

    # ---------------------------------------------------------------- queries

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
        """Run any SQL; returns (column names, rows). Read-only catalogs reject writes."""
        with self._connection() as con:
            cur = con.execute(query, params) if params is not None else con.execute(query)
            return _rows(cur)

    def user_sql(self, query: str) -> tuple[list[str], list[tuple]]:
        """Run a person's SQL (`lumina catalog sql`); returns the last statement's (columns, rows).

        Read-only catalogs run SELECT and EXPLAIN only. Writable ones run any other statement but
        those sandbox.REFUSED_WHEN_WRITING names, all in one transaction that is rolled back if it
        changed schema_version. Either way the connection is sandboxed (no files, no extensions).
        """
        cols, _, rows = self.user_sql_typed(query)
        return cols, rows

    def user_sql_typed(self, query: str) -> tuple[list[str], list[duckdb.DuckDBPyType], list[tuple]]:
        """`user_sql` with the columns' DuckDB types too: (columns, types, rows); ``str(type)``
        is its SQL name ("JSON", "INTEGER[]", ...)."""
        with self.user_sql_chunks(query) as (cols, types, chunks):
            return cols, types, [row for chunk in chunks for row in chunk]

    @contextmanager
    def user_sql_chunks(self, query: str, chunk_rows: int = _USER_SQL_CHUNK_ROWS
                        ) -> Iterator[tuple[list[str], list[duckdb.DuckDBPyType], Iterator[list[tuple]]]]:
        """`user_sql_typed` whose rows come as an iterator of lists of up to ``chunk_rows`` rows, fetched
        as the caller takes them (on a read-only catalog: the result streams, so a caller that keeps
        200 rows of a million holds 200). The iterator is only good inside the ``with``. Ctrl-C stops
        the query (KeyboardInterrupt once DuckDB has stopped)."""
        statements = user_statements(query, write=not self.read_only)

        def run_all(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
            for text in statements[:-1]:
                con.execute(text).fetchall()
            return con.execute(statements[-1])

        with self._connection() as con:
            if self.read_only:
                cur = _interruptible(con, lambda: run_all(con))
                if cur.description is None:
                    yield [], [], iter(())
                    return

                def chunks() -> Iterator[list[tuple]]:
                    while rows := _interruptible(con, lambda: cur.fetchmany(chunk_rows)):
                        yield rows

                yield [d[0] for d in cur.description], [d[1] for d in cur.description], chunks()
                return
            with _transaction(con):  # a write's result is fetched whole, inside its transaction
                before = schema_fingerprint(con)
                cols, types, rows = _interruptible(con, lambda: _typed_rows(run_all(con)))
                if changed := schema_change(before, schema_fingerprint(con)):
                    listed = ", ".join(changed[:4]) + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")
                    raise RefusedSQLError(f"refused: the statement changes the catalog's own schema ({listed}), "
                                          "which only migrations change; nothing was changed")
            yield cols, types, iter([rows] if rows else [])

    def sql_arrow(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pa.Table:
        with self._connection() as con:
            return con.sql(query, params=params).to_arrow_table()

    def stats(self) -> dict[str, tuple[list[str], list[tuple]]]:
        """The sections of `lumina catalog stats`: totals, status, drop reasons, filters, storage."""
        with self._connection() as con:
            out = {name: _rows(con.execute(q(f"stats_{name}")))
                   for name in ("totals", "status", "drop_reasons", "filters", "storage")}
        out["file"] = (["path", "bytes"], [(str(self.path), self.path.stat().st_size if self.path.exists() else 0)])
        return out

    def why(self, key: str, modality: str | None = None, others_shown: int = 20) -> dict[str, Any]:
        """Everything the catalog knows about one sample (a unique key prefix is enough), or about the
        sample a file gave (its path, or its path within the source: its most telling row, see
        why.sql). ``modality`` keeps to that modality's samples. ``other_samples`` lists (up to
        ``others_shown`` of) the other samples from the same file, with their ``total``."""
        key = printable_path(key)  # a file name that is not UTF-8: as the catalog holds it
        with self._connection() as con:
            found = [r[0] for r in con.execute(q("why_resolve_key"), [key]).fetchall()]
            if not found:
                found = self._sample_of_file(con, key, modality)
            if found[0] != key and len(found) > 1:
                raise SampleNotFoundError(f"key prefix {key!r} is ambiguous ({found[0]}, {found[1]}, ...)")
            key = found[0]
            cols, rows = _rows(con.execute(q("why_sample"), [key]))
            sample = dict(zip(cols, rows[0]))
            if modality is not None and sample["modality"] != modality:
                raise SampleNotFoundError(f"sample {key} is {sample['modality']}, not {modality}")
            story: dict[str, Any] = {"sample": sample}
            cols, rows = _rows(con.execute(q("why_same_file"), [key, others_shown]))
            story["other_samples"] = (cols[:-1], [r[:-1] for r in rows])
            story["other_samples_total"] = rows[0][-1] if rows else 0
            for section in ("verdicts", "status_changes", "shards", "encodings", "manifests", "checkpoints"):
                story[section] = _rows(con.execute(q(f"why_{section}"), [key]))
            story["runs"] = _rows(con.execute(q("why_runs"), [key, sample["first_run"], sample["last_run"]]))
            return story

    @staticmethod
    def _sample_of_file(con, path: str, modality: str | None = None) -> list[str]:
        relative = posixpath.normpath(path.replace(os.sep, "/"))  # ./photos/a.png -> photos/a.png
        # a name that is not UTF-8 is in the catalog as the source named it (\xNN escapes); as
        # given it cannot even be passed to DuckDB
        absolute = printable_path(os.path.abspath(os.path.expanduser(path)))
        rows = con.execute(q("why_resolve_file"), [absolute, printable_path(relative), modality]).fetchall()
        if not rows and posixpath.dirname(relative) not in ("", ".", ".."):
            # a file of a sample that is a folder (a multi-view object's view or camera file, which its
            # reason names): the folder's sample
            rows = con.execute(q("why_resolve_file"), [posixpath.dirname(absolute), printable_path(posixpath.dirname(relative)),
                                                       modality]).fetchall()
        if not rows:
            of = f" of modality {modality}" if modality else ""
            raise SampleNotFoundError(f"no sample with key {path!r}, and none{of} came from a file of that name"
                                      + Catalog._listing_lines_hint(con, absolute, printable_path(relative), modality))
        files = sorted({uri for _, uri, _ in rows})
        if len(files) > 1:
            raise SampleNotFoundError(f"{path!r} names {len(files)} files in the catalog ({files[0]}, {files[1]}, ...): "
                                      f"give more of the path")
        current = [(key, status) for key, _, status in rows if status == "accepted"]
        if len(current) > 1:  # a video's scenes: one sample each
            listed = ", ".join(f"{key[:12]} {status}" for key, status in current[:4]) + (", ..." if len(current) > 4 else "")
            raise SampleNotFoundError(f"{files[0]} gave {len(current)} accepted samples ({listed}): give one's key")
        return [rows[0][0]]

    @staticmethod
    def _listing_lines_hint(con, absolute: str, relative: str, modality: str | None) -> str:
        """`why metadata.csv`: a transcript listing is no sample, its lines are (source_uri
        <listing>#<row>); say how many and which to ask about, not only that nothing matched. Lines
        whose sample is named by their media file (a picture listing's accepted rows) are not among
        them: 'why listing.csv' said '2 of its lines are samples (2 rejected)' of a 22-row listing that
        gave 17 accepted samples, as if 20 rows had vanished (helper H's walkthrough)."""
        rows = con.execute(q("why_listing_lines"), [absolute, relative, modality]).fetchall()
        listings = sorted({listing for listing, *_ in rows})
        if not rows:
            return ""
        if len(listings) > 1:
            return f"; {len(listings)} listings of that name have lines that are samples ({listings[0]}, {listings[1]}, ...): give more of the path"
        literal = listings[0].replace("'", "''")  # as an SQL string
        total = sum(n for _, _, n, _ in rows)
        counts = ", ".join(f"{n} {status}" for _, status, n, _ in rows)
        query = f"SELECT key, status, reason, source_uri FROM samples WHERE starts_with(source_uri, '{literal}#')"
        # shell words: a path with a quote, $ or ` broke the pasted commands
        return (f"; {listings[0]} is a listing: {total} of its lines {'is a sample' if total == 1 else 'are samples'} ({counts}), "
                f"not counting lines whose sample is named by their media file (why that file); "
                f"e.g. lumina catalog why {shlex.quote(rows[0][3])}; all of them: lumina catalog sql {shlex.quote(query)}")

    def check(self) -> dict[str, int]:
        """Data tests (checks.sql): violations per check; all zero on a healthy catalog."""
        from .sqlfiles import _all_queries

        with self._connection() as con:
            return {name[len("check_"):]: con.execute(sql).fetchall()[0][0]
                    for name, sql in _all_queries().items() if name.startswith("check_")}

    def export(self, name: str, out: str | os.PathLike, version: int | None = None, kind: str = "auto") -> int:
        """Write a table, view or manifest (``name``, ``name@vN``) to Parquet; returns the row count.

        A table or view of that name wins over a manifest unless kind="manifest".
        """
        out = Path(out)
        if out.suffix.lower() not in (".parquet", ".pq"):
            raise CatalogError(f"--out {out}: export writes Parquet (.parquet)")
        with self._connection() as con:
            is_relation = _first(con.execute(q("relation_type"), [name])) is not None
            if kind == "table" or (kind == "auto" and is_relation and version is None):
                if not is_relation:
                    raise CatalogError(f"no table or view named {name!r}")
                rel = con.table(name)
            else:
                mname, mversion = _split_manifest_id(name, version)
                latest = con.execute(q("manifest_latest_version"), [mname]).fetchall()[0][0]
                if latest is None:
                    if is_relation:
                        raise CatalogError(f"{name!r} is a table or view: it has no versions (leave out --version)")
                    tables = ", ".join(r[0] for r in con.execute(q("list_relations")).fetchall())
                    raise CatalogError(f"{name!r} is neither a table/view ({tables}) nor a manifest")
                mversion = latest if mversion is None else mversion
                if _first(con.execute(q("manifest_header"), [mname, mversion])) is None:
                    raise CatalogError(f"manifest {mname!r} has no version {mversion} (versions 1 to {latest})")
                rel = con.sql(q("manifest_export"), params=[mname, mversion])
            out.parent.mkdir(parents=True, exist_ok=True)  # only once there is something to write
            # Python writes the file: the sandboxed connection may not. Streams batch by batch.
            reader = rel.to_arrow_reader(batch_size=_EXPORT_BATCH_ROWS)
            tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
            try:
                with pq.ParquetWriter(tmp, reader.schema) as writer:
                    for batch in reader:
                        writer.write_batch(batch)
                os.replace(tmp, out)
            finally:
                tmp.unlink(missing_ok=True)
        return pq.read_metadata(out).num_rows


class MixedEncodersError(ValueError):
    """A manifest's selection holds encodings of one kind from several encoders (a VAE, a phone encoder version)."""


class LiveManifestError(ValueError):
    """A frozen selection asked for under a live manifest's name, unlike the one every refresh re-freezes."""


class ManifestNotFoundError(CatalogError, LookupError):
    pass


class SampleNotFoundError(CatalogError, LookupError):
    pass


def _split_manifest_id(name: str, version: int | None) -> tuple[str, int | None]:
    """``"images@v3"`` -> ("images", 3); a plain name keeps the given version."""
    m = re.fullmatch(r"(.+)@v(\d+)", name)
    if m:
        if version is not None and version != int(m.group(2)):
            raise ValueError(f"{name!r} names version {m.group(2)} but version={version} was given")
        return m.group(1), int(m.group(2))
    return name, version
