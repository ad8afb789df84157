"""A Prefect database already migrated, for a test that starts a Prefect server of its own: the
server's first start on an empty SQLite file spends most of its CPU migrating it (measured on a
loaded 2-core host: 13.5 s of CPU until healthy on a new file, 5.3 s on a migrated copy). The
template is migrated once per test session by `prefect server database upgrade` (~10 s of CPU,
under a lock the xdist workers share) and copied where the server will look for its database.

    seed_prefect_db(tmp_path / "prefect_home" / "prefect.db", tmp_path_factory)  # before the server starts
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

PREFECT = str(Path(sys.executable).parent / "prefect")


def _copy(src: Path, dst: Path) -> None:
    """A self-contained copy (SQLite's backup: no write-ahead log left beside it)."""
    a, b = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()


def _migrate(db: Path, home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{db}"}
    r = subprocess.run([PREFECT, "server", "database", "upgrade", "-y"], env=env, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"prefect server database upgrade failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")


def template(shared: Path) -> Path:
    """The session's migrated database in ``shared`` (a folder every xdist worker sees), made once."""
    tpl = shared / f"prefect-{version('prefect')}-migrated.db"
    if tpl.exists():
        return tpl
    shared.mkdir(parents=True, exist_ok=True)
    with open(shared / "prefect-migrated.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one worker migrates; the others wait and copy
        if not tpl.exists():
            work = shared / f"prefect-migrating-{os.getpid()}"
            work.mkdir(exist_ok=True)
            _migrate(work / "prefect.db", work / "home")
            _copy(work / "prefect.db", work / "copy.db")
            os.replace(work / "copy.db", tpl)  # whole or absent, for a reader without the lock
            shutil.rmtree(work, ignore_errors=True)
    return tpl


def seed_prefect_db(db: Path, tmp_path_factory) -> Path:
    """``db`` (where the server will open its database), a copy of the migrated template."""
    db.parent.mkdir(parents=True, exist_ok=True)
    _copy(template(tmp_path_factory.getbasetemp().parent), db)
    return db
