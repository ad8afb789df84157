"""A folder of the source that cannot be read (no permission: chmod 000, or r without x; an
unmounted share's mode) was skipped by os.walk without a word: its files were no rows, and a
refresh marked every sample under it `removed` (a live manifest re-frozen smaller). Now it is one
`unreadable_folder` row, a warning, and a refresh keeps what it knew under it.

This machine's tests may run as root, whom file modes do not stop: there the kernel's refusal is
played by `Locks` (os.scandir and os.lstat refuse as they would for a user); as any other user the
chmod alone does it."""

from __future__ import annotations

import errno
import logging
import os
import shutil
from pathlib import Path

import pytest

from catalog import Catalog
from catalog.source_index import LiveManifest
from flows.refresh import refresh_source
from flows.steps import curate_step
from preprocess.curate import CurateConfig, curate
from preprocess.encode import EncodeConfig
from preprocess.sources import SourceError, SourceSpec, list_entries
from contracts.records import Batch

ENCODE = EncodeConfig(text="phone")  # no model to load


class Locks:
    """chmod a folder; as root, also refuse what the kernel would refuse a user: listing a folder
    without r, and any path through a folder without x."""

    def __init__(self, monkeypatch) -> None:
        self.modes: dict[Path, int] = {}
        if os.geteuid() != 0:
            return
        scandir, lstat = os.scandir, os.lstat

        def checked_scandir(path=".", *args):
            self._check(path, listing=True)
            return scandir(path, *args)

        def checked_lstat(path, *args, **kwargs):
            self._check(path, listing=False)
            return lstat(path, *args, **kwargs)

        monkeypatch.setattr(os, "scandir", checked_scandir)
        monkeypatch.setattr(os, "lstat", checked_lstat)

    def _check(self, path, listing: bool) -> None:
        if isinstance(path, int):
            return
        p = Path(os.fsdecode(path)).absolute()
        for folder, mode in self.modes.items():
            if (folder in p.parents and not mode & 0o100) or (listing and p == folder and not mode & 0o400):
                raise PermissionError(errno.EACCES, "Permission denied", str(p))

    def set(self, folder: Path, mode: int) -> None:
        folder.chmod(mode)
        self.modes[folder.absolute()] = mode

    def open(self, folder: Path) -> None:
        folder.chmod(0o755)
        self.modes.pop(folder.absolute(), None)


@pytest.fixture()
def locks(monkeypatch):
    locks = Locks(monkeypatch)
    yield locks
    for folder in list(locks.modes):
        locks.open(folder)  # so the temporary folder can be removed


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    from preprocess.image.demo_corpus import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("stage"), num_digits=6, num_shapes=0).root / "digits"


def _source(root: Path, digits: Path) -> Path:
    """part1/ and part2/, three captioned digits each."""
    for part, numbers in (("part1", range(3)), ("part2", range(3, 6))):
        (root / part).mkdir(parents=True)
        for i in numbers:
            for suffix in (".png", ".txt"):
                shutil.copy(digits / f"digit_{i:05d}{suffix}", root / part / f"digit_{i:05d}{suffix}")
    return root


@pytest.mark.parametrize("mode", [0o000, 0o644])  # nothing; names listed but no file reachable (r without x)
def test_an_unreadable_folder_is_one_rejected_row_and_a_warning(tmp_path, digits, locks, caplog, mode):
    src = _source(tmp_path / "src", digits)
    locks.set(src / "part2", mode)
    with caplog.at_level(logging.WARNING, logger="preprocess.sources"):
        entries = list_entries(SourceSpec(str(src)))
    assert [(e.name, e.kind, e.detail) for e in entries if not e.name.startswith("part1/")] == [
        ("part2", "unreadable_folder", "PermissionError: Permission denied; its files are not listed")]
    warnings = [r.getMessage() for r in caplog.records if r.name == "preprocess.sources"]
    assert len(warnings) == 1 and "\n" not in warnings[0], warnings
    assert warnings[0].startswith(f"cannot read 1 folder of {src} (part2: PermissionError: Permission denied)")

    result = curate(str(src), tmp_path / "home", CurateConfig(), backend="local")
    rows = {Path(s.source_uri).name: (s.status, s.reason) for p in result.batch_paths for s in Batch.read(p).samples}
    assert rows.pop("part2") == ("rejected", "unreadable_folder: part2 (PermissionError: Permission denied; its files are "
                                             "not listed)")
    assert sorted(rows) == [f"digit_{i:05d}.png" for i in range(3)]


def test_an_unreadable_source_folder_is_one_clear_error(tmp_path, digits, locks):
    src = _source(tmp_path / "src", digits)
    locks.set(src, 0o000)
    with pytest.raises(SourceError, match=rf"^cannot read the folder {src} \(PermissionError: Permission denied\): "
                                          "check its permissions$"):
        list_entries(SourceSpec(str(src)))


def _statuses(home: Path) -> dict[str, int]:
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        return dict(cat.sql("SELECT status, count(*) FROM samples GROUP BY ALL")[1])


@pytest.mark.parametrize("first", ["refresh", "curate"])  # indexed by a refresh, or only in the catalog (lumina curate)
def test_a_refresh_keeps_the_samples_of_a_folder_it_cannot_read(tmp_path, digits, locks, first):
    src, home = _source(tmp_path / "src", digits), tmp_path / "home"
    live = [LiveManifest("mine", "modality = 'image'")]
    if first == "curate":  # the catalog has the samples, the source index nothing
        curate_step(str(src), str(home), CurateConfig(), backend="local")
    else:
        start = refresh_source(str(src), home, encode_cfg=ENCODE, live=live, backend="local")
        assert start.manifests[0]["manifest"] == "mine@v1" and start.manifests[0]["members"] == 6
    assert _statuses(home) == {"accepted": 6}

    locks.set(src / "part2", 0o000)
    locked = refresh_source(str(src), home, encode_cfg=ENCODE, live=live, backend="local")
    assert locked.removed == 0 and locked.plan["removed_inputs"] == 0 and locked.plan["removed_entries"] == 0, locked
    if first == "refresh":
        assert locked.manifests == []  # mine stays at v1, 6 members
    assert _statuses(home) == {"accepted": 6, "rejected": 1}  # the folder's own row
    kept = 6 if first == "refresh" else 0  # the index's entries under part2 (none when lumina curate took them in)
    assert [n for n in locked.notes if n.startswith("cannot read")] == [
        f"cannot read 1 folder of {src} (part2: PermissionError: Permission denied): the {kept} entries the index has "
        "under it and their samples are kept as they were, not marked removed; make it readable and refresh again"]

    again = refresh_source(str(src), home, encode_cfg=ENCODE, live=live, backend="local")
    assert again.noop and again.removed == 0 and again.manifests == [], again
    assert [n for n in again.notes if n.startswith("cannot read")] == [n for n in locked.notes if n.startswith("cannot read")]

    locks.open(src / "part2")
    back = refresh_source(str(src), home, encode_cfg=ENCODE, live=live, backend="local")
    assert back.removed == 1 and back.revived == 0, back  # only the folder's row leaves
    if first == "refresh":
        assert back.manifests == []  # (after lumina curate, part2's samples are encoded now: mine@v2)
    assert not [n for n in back.notes if n.startswith("cannot read")]
    assert _statuses(home) == {"accepted": 6, "removed": 1}
