"""Run folders on disk against the catalog, for `lumina catalog check`: what a killed training run
left there that nothing cleans or reports unless that same folder is resumed.

    run_folder_temporary_checkpoints    ``<run>/.checkpoint-NNNNNNN-*``: a checkpoint being written
                                        when the run was killed (never published: nothing resumes
                                        from it; a whole training state in size)
    run_folder_unregistered_checkpoints ``<run>/checkpoint-NNNNNNN`` the catalog has no row for: a
                                        kill between publishing a checkpoint and registering it,
                                        then a plain rerun (not --resume) into another folder

The run folders looked at are the ones the catalog records: the parents of the checkpoints' uris,
and each train (or data_to_model) run's folder (``parameters.out_dir``, else
``<home>/runs/<run_id>``). A recorded folder under a ``runs`` folder is looked for first in the
catalog's own workspace (the workspace moved or copied since), as flows/steps.py maps checkpoints.
A folder on disk no more is not a finding; one a live training process holds (its run-folder lock)
is skipped, since a live run writes its temporary folder legitimately.

Read-only and stat-only (nothing is hashed), and nothing is deleted unless asked: ``remove_temporary``
(`lumina catalog check --remove-temporary`) deletes the temporary folders found, never a published
checkpoint, each after probing its run folder's lock again. catalog/ does not import training/, so the
lock file's name and the probe (a shared flock for an instant, as training/state.py
refuse_if_in_use takes it) are repeated here; tests/catalog/test_check_orphans.py pins the name.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from contracts.layout import from_last_runs

TEMPORARY = "run_folder_temporary_checkpoints"
UNREGISTERED = "run_folder_unregistered_checkpoints"
CHECKS = (TEMPORARY, UNREGISTERED)

LOCK_FILE = ".lumina-train.lock"  # training/state.py LOCK_FILE
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")  # training/state.py checkpoints()
_TEMPORARY_PREFIX = ".checkpoint-"  # training/trainer.py: mkdtemp(prefix=".checkpoint-NNNNNNN-"); state.clear_unfinished


@dataclass(frozen=True)
class Finding:
    check: str
    path: Path
    size: int  # bytes, the sum of its files' sizes (lstat)
    run_folder: Path
    action: str


@dataclass
class DiskReport:
    findings: list[Finding] = field(default_factory=list)
    in_use: list[Path] = field(default_factory=list)  # run folders skipped: a live training process holds them
    folders: int = 0  # run folders looked at (on disk, not in use)

    def counts(self) -> dict[str, int]:
        return {name: sum(f.check == name for f in self.findings) for name in CHECKS}


def in_workspace(recorded: str | os.PathLike, home: Path) -> Path | None:
    """Where a recorded run folder (or checkpoint folder) is now: the same ``runs/<run>...`` under
    ``home`` where that is a folder (a moved or copied workspace: its own copy first), else the
    recorded path where that is a folder, else None (gone). contracts.layout.from_last_runs's rule."""
    path = Path(recorded)
    if (tail := from_last_runs(path)) is not None and (own := home.joinpath(*tail)).is_dir():
        return own
    return path if path.is_absolute() and path.is_dir() else None


def lock_held(folder: Path) -> bool | None:
    """Whether a process holds ``folder``'s run-folder lock: True, False, or None where this file
    system has no locks (cannot tell). A shared lock for an instant, never an exclusive one: two
    probes never block each other, and a trainer starting meanwhile retries for 2 s."""
    import fcntl

    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDONLY)
    except OSError:  # no lock file: no trainer has locked it
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)


def tree_size(path: Path) -> int:
    """Bytes in the files under ``path`` (lstat; links not followed; what vanishes meanwhile counts 0)."""
    total = 0
    stack = [path]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        else:
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        pass
        except OSError:
            pass
    return total


def human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # not reached


def remove_temporary(report: DiskReport) -> tuple[list[Finding], list[tuple[Finding, str]]]:
    """Delete the temporary checkpoint folders ``report`` found (TEMPORARY findings only: nothing
    resumes from them): (the removed ones, the ones left with why). The lock is probed again just
    before each: a trainer that took its run folder since the check may be writing there (its own
    temporary folder has another name, but a resume clears this one itself). What vanishes meanwhile
    (that resume's own clean-up) counts as removed."""
    removed: list[Finding] = []
    left: list[tuple[Finding, str]] = []
    for f in report.findings:
        if f.check != TEMPORARY:
            continue
        if lock_held(f.run_folder) is not False:
            left.append((f, "a training process holds its run folder now (or its lock cannot be probed here)"))
            continue
        try:
            shutil.rmtree(f.path, onerror=_gone_is_fine)
        except OSError as e:
            left.append((f, e.strerror or str(e)))
            continue
        removed.append(f)
    return removed, left


def _gone_is_fine(func, path, exc_info) -> None:
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]


def _manifest_ref(name: str, version: int | None) -> str:
    return name if "@" in name or version is None else f"{name}@v{version}"


def check_run_folders(cat, home: str | os.PathLike | None = None) -> DiskReport:
    """The run folders ``cat`` records, against what is on disk (see the module's doc). ``home``:
    the workspace; default the catalog's folder."""
    home = Path(home).resolve() if home is not None else Path(cat.path).resolve().parent
    _, rows = cat.sql(  # one query: each opens a connection (tens of ms)
        "SELECT * FROM (SELECT 0 AS k, uri, NULL AS out_dir, NULL AS status, manifest, manifest_version, created_at AS t "
        "FROM checkpoints UNION ALL "
        "SELECT 1, run_id, json_extract_string(parameters, '$.out_dir'), status, json_extract_string(parameters, '$.manifest'), "
        "TRY_CAST(json_extract_string(parameters, '$.manifest_version') AS BIGINT), started_at FROM runs "
        "WHERE flow_name IN ('train', 'data_to_model')) ORDER BY k, t")
    checkpoint_rows = [(uri, name, version) for k, uri, _, _, name, version, _ in rows if k == 0]
    run_rows = [(run_id, out_dir, status, name, version) for k, run_id, out_dir, status, name, version, _ in rows if k == 1]

    registered: dict[Path, set[str]] = {}  # run folder now -> names of its checkpoints the catalog holds
    manifest: dict[Path, str] = {}  # run folder now -> the manifest it trained on (NAME@vN), for --resume
    running: set[Path] = set()
    for uri, name, version in checkpoint_rows:
        folder = in_workspace(Path(uri).parent, home)
        if folder is not None:
            registered.setdefault(folder.resolve(), set()).add(Path(uri).name)
            if name:
                manifest[folder.resolve()] = _manifest_ref(name, version)
    for run_id, out_dir, status, name, version in run_rows:
        folder = in_workspace(out_dir or home / "runs" / run_id, home)
        if folder is not None:
            registered.setdefault(folder.resolve(), set())
            if name and folder.resolve() not in manifest:
                manifest[folder.resolve()] = _manifest_ref(name, version)
            if status == "running":
                running.add(folder.resolve())

    report = DiskReport()
    for folder in sorted(registered):
        held = lock_held(folder)
        if held or (held is None and folder in running):  # a live run writes its temporary folder legitimately
            report.in_use.append(folder)
            continue
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:  # gone since
            continue
        report.folders += 1
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False):
                    continue
            except OSError:
                continue
            path = Path(entry.path)
            if entry.name.startswith(_TEMPORARY_PREFIX):
                report.findings.append(Finding(
                    TEMPORARY, path, tree_size(path), folder,
                    f"rm -r {shlex.quote(str(path))}  (the unpublished checkpoint a killed run was writing, or an older one a killed "
                    f"run was pruning; nothing resumes from it; "
                    f"lumina catalog check --remove-temporary deletes every such folder)"))
            elif _CHECKPOINT.match(entry.name) and entry.name not in registered[folder]:
                report.findings.append(Finding(
                    UNREGISTERED, path, tree_size(path), folder,
                    f"lumina train --home {shlex.quote(str(home))} --manifest {manifest.get(folder, 'NAME@vN')} --resume --out-dir "
                    f"{shlex.quote(str(folder))}  (registers it, then trains the run on to its --steps; or rm -r {shlex.quote(str(path))} "
                    f"if the run is not wanted)"))
    return report
