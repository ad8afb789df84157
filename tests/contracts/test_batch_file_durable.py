"""A batch file (a shard's records, read by catalog registration and by encode) is synced before its
rename and its folder after, as the shard it describes: a power loss leaves the old name or the
whole file, not an empty one that encode then failed to parse."""

from __future__ import annotations

import os
from pathlib import Path

from contracts import records
from contracts.records import Batch


def test_batch_write_syncs_the_file_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", "dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "file"))
        return real_fsync(fd)

    def replace(a, b):
        events.append(("replace", Path(b).name))
        return real_replace(a, b)

    monkeypatch.setattr(records.os, "fsync", fsync)
    monkeypatch.setattr(records.os, "replace", replace)
    path = Batch().write(tmp_path / "s.tar.batch.json")
    assert events == [("fsync", "file"), ("replace", "s.tar.batch.json"), ("fsync", "dir")]
    assert Batch.read(path) == Batch()
