"""Hold points: named moments in the product where a fault test can stop a process and kill it.

For fault tests only (bench/faults.py), in the manner of etcd's gofail or TiKV's fail-rs. A stage
calls ``hold_point("encode.shard-written")`` at a moment where a kill hurts most (part of its work
written, the rest not). With the variable unset, and that is every ordinary run, nothing changes:
the call costs one environment lookup and returns.

    LUMINA_HOLD_AT=encode.shard-written            hold the first time this process reaches that point
    LUMINA_HOLD_AT=train.checkpoint-published:2    the second time (each process counts its own)
    LUMINA_HOLD_MARK=/tmp/x.mark                   the file written, atomically, when it holds

The points: curate.batches-written (preprocess/curate.py: every batch file written, none
registered), encode.shard-written (preprocess/encode.py: an encoded shard and its batch file
written), train.checkpoint-published (training/catalog_hook.py: a checkpoint folder published, its
catalog rows not yet written), train.checkpoint-registered (training/catalog_hook.py: its checkpoint
row written, its log windows' rows not yet), train.checkpoint-written (training/trainer.py: a
checkpoint whole under its temporary name, not yet published), curate.registered and
encode.registered (flows/steps.py: the stage's batches registered, its catalog run not yet
completed), manifest.members-written (catalog/db.py, freeze_manifest: a new version's rows and
members written, its transaction not yet committed), refresh.due-announced (flows/refresh.py: a
live manifest's due training announced, not yet consumed in the catalog), train.claimed
(flows/train.py: a triggered train flow has claimed its manifest version, the catalog not yet
looked up).

Holding: the mark file is written (JSON: the point, the pass, the pid), one line goes to stderr,
and the whole process stops itself (SIGSTOP: every thread, so a background thread cannot go on
working while the suite aims its kill) until it is killed. ``kill -CONT <pid>`` lets it go on.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

HOLD_AT_ENV = "LUMINA_HOLD_AT"  # "point" or "point:N" (the N-th time this process reaches it)
HOLD_MARK_ENV = "LUMINA_HOLD_MARK"  # the file written when it holds (optional)

_passes: dict[str, int] = {}
_lock = threading.Lock()


def hold_point(name: str) -> None:
    """Hold here, for a fault test's kill, when LUMINA_HOLD_AT names this point (see the module's
    docstring); otherwise return at once. An unset variable changes nothing."""
    wanted = os.environ.get(HOLD_AT_ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    with _lock:
        _passes[name] = n = _passes.get(name, 0) + 1
    if n != _nth(wanted, nth):
        return
    mark = os.environ.get(HOLD_MARK_ENV)
    if mark:
        tmp = f"{mark}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump({"point": name, "pass": n, "pid": os.getpid()}, f)
        os.replace(tmp, mark)
    print(f"lumina: holding at {name} (pass {n}, pid {os.getpid()}) for a kill, as {HOLD_AT_ENV} asks", file=sys.stderr, flush=True)
    hold_forever()


def _nth(wanted: str, nth: str) -> int:
    if not nth:
        return 1
    if not nth.isdigit() or int(nth) < 1:
        raise ValueError(f"{HOLD_AT_ENV}={wanted!r}: after the colon comes which pass holds (1, 2, ...)")
    return int(nth)


def hold_forever() -> None:
    """Stop the whole process (SIGSTOP) until it is killed; where there is no SIGSTOP, this thread sleeps."""
    stop = getattr(signal, "SIGSTOP", None)
    if stop is not None:
        os.kill(os.getpid(), stop)
        return  # continued (SIGCONT): it goes on
    while True:
        time.sleep(3600)


def read_mark(path: str | os.PathLike) -> dict | None:
    """A mark file's contents (point, pass, pid), or None while there is none."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
