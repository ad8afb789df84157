"""A triggered training's claim on a manifest version: one train flow at a time per version.

The `train` deployment's trigger starts train_flow with once_per_version, and the refresh flow
announces a due training at least once, so the same lumina.manifest.updated event can come twice,
and two runs can start at the same moment. Looking the catalog up for a run of that version is not
enough there: both can find none before either records its run. The flow process therefore takes
an exclusive, non-blocking ``flock`` on the version's claim file first, looks the catalog up
while holding it, and holds it until training ends (a trainer in subprocesses, torchrun or Ray's
workers, trains under the flow process's claim). A second flow that finds the claim held trains
nothing.

    <home>/claims/train/<manifest>-v<N>.lock                       the workspace's catalog
    <folder>/claims/<catalog file>/train/<manifest>-v<N>.lock      another catalog (--catalog)

The claim lives beside the catalog the look-up reads (<home> for the workspace's catalog), outside
the run folders (``runs/``), so neither `lumina catalog check` nor a run folder's own lock
(``.lumina-train.lock``, training/state.py) meets it. The kernel drops a flock when its process
dies, even by SIGKILL, so a crash leaves no stale claim; a failed run releases it and the next
event trains. The file stays (an unlinked lock file could be locked twice); its text names the
holder (pid, host, since when, the Prefect flow run) for the second flow's message.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path

from contracts import parent_only_fds
from contracts.layout import Workspace, safe_name

CLAIMS = "claims"
WORKSPACE_CATALOG = "catalog.duckdb"  # contracts.layout Workspace.catalog's file name


def claim_path(catalog: str | os.PathLike, manifest: str, version: int) -> Path:
    """The claim file of train runs of manifest ``manifest`` (its plain name) version ``version``
    recorded in ``catalog``: in the workspace the catalog is in (the folder holding it)."""
    path = Path(catalog).expanduser().resolve()
    folder = Workspace(path.parent).home / CLAIMS
    if path.name != WORKSPACE_CATALOG:  # two catalogs in one folder: two sets of versions
        folder /= safe_name(path.name)
    return folder / "train" / f"{safe_name(manifest)}-v{version}.lock"


class VersionClaim:
    """The exclusive claim on a manifest version's training, for one flow's life. ``take()`` says
    whether this process has it; ``holder()`` who has it otherwise."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._fd: int | None = None
        self._pid: int | None = None

    def take(self) -> bool:
        """True when this process now holds the claim, False when another holds it. Where the claim
        cannot be taken at all (a file system without locks, some network or FUSE ones; a workspace
        this user cannot write in): True, with a warning (the catalog look-up alone guards then, as
        before the claim)."""
        import fcntl

        writable = True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:  # the umask decides who else may claim here (a team's workspace on shared storage)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except PermissionError:  # another user's claim file: a lock needs no write access, the holder's text does
                fd, writable = os.open(self.path, os.O_RDONLY), False
        except OSError as e:
            return self._unguarded(e)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError as e:
            os.close(fd)
            return self._unguarded(e)
        if writable:
            holder = {"pid": os.getpid(), "host": socket.gethostname(),
                      "since": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "flow_run": _flow_run_name()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        self._fd, self._pid = fd, os.getpid()
        parent_only_fds.hold(fd)
        return True

    def _unguarded(self, error: OSError) -> bool:
        logging.getLogger(__name__).warning("cannot lock %s (%s): nothing stops a second triggered run from training "
                                            "this manifest version at the same time", self.path, error)
        return True

    def holder(self) -> dict | None:
        """What the claim file says of its holder (None when it cannot be read: the holder may be writing it,
        or when it names a process of this host that is gone: a holder that could not write the file, another
        user's, left an earlier holder's text there)."""
        try:
            found = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(found, dict):
            return None
        return None if _gone_here(found) else found

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        parent_only_fds.unlock_and_close(fd, self._pid)  # nothing in a forked child: the fork closed its copy

    def __enter__(self) -> "VersionClaim":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def held_elsewhere_message(manifest_id: str, holder: dict | None) -> str:
    """The second flow's message: the version, and that another run is training it now."""
    who = "another train run"
    if holder:
        run = f"flow run {holder['flow_run']}, " if holder.get("flow_run") else ""
        who += f" ({run}pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('since')})"
    return (f"{manifest_id} is being trained now by {who}: a repeated lumina.manifest.updated event; "
            "nothing to train (once_per_version)")


def _flow_run_name() -> str | None:
    """The Prefect flow run this process runs ("name (id)"), or None outside one."""
    import sys

    if "prefect.context" not in sys.modules:
        return None
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    run = getattr(context, "flow_run", None)
    return f"{run.name} ({run.id})" if run is not None else None


def _gone_here(holder: dict) -> bool:
    """Whether ``holder`` names a process of this host that no longer runs (another host's cannot be told)."""
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # another user's live process (EPERM)
        return False
    return False
