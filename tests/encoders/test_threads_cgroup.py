"""How many encoder batches run at once is capped by the memory available (encoders.threads.affordable_workers);
inside a container psutil reports the host's memory, so the cgroup's limit counts too (v2: memory.max -
memory.current, v1: memory.limit_in_bytes - memory.usage_in_bytes, less the inactive page cache, the
least over the cgroup and those above it). A fake cgroup folder stands in for /sys/fs/cgroup."""

from __future__ import annotations

from collections import namedtuple

import pytest

from encoders import threads

GB = 1 << 30


@pytest.fixture
def host(monkeypatch, tmp_path):
    """A host with 100 GB available and a fake /proc/self/cgroup and /sys/fs/cgroup under tmp_path."""
    import psutil

    monkeypatch.setattr(psutil, "virtual_memory", lambda: namedtuple("vm", "available")(100 * GB))
    monkeypatch.setattr(threads, "PROC_SELF_CGROUP", tmp_path / "proc_self_cgroup")
    monkeypatch.setattr(threads, "CGROUP_ROOT", tmp_path / "cgroup")
    return tmp_path


def _write(folder, **files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("__", ".")).write_text(text)


def test_a_cgroup_v2_limit_caps_the_batches_run_at_once(host):
    (host / "proc_self_cgroup").write_text("0::/user.slice/job\n")
    _write(host / "cgroup/user.slice/job", memory__max=str(4 * GB), memory__current=str(GB),
           memory__stat=f"anon {GB // 2}\ninactive_file {GB // 2}\n")
    assert threads.cgroup_available() == 4 * GB - GB // 2  # the inactive page cache counts free, as psutil's does
    assert threads.available_memory() == 4 * GB - GB // 2
    assert threads.affordable_workers(64, GB) == 1  # half of 3.5 GB holds one batch of 1 GB; the host's 100 GB held 50
    _write(host / "cgroup/user.slice", memory__max=str(2 * GB), memory__current=str(GB))  # a tighter parent
    assert threads.available_memory() == GB


def test_max_in_cgroup_v2_is_no_limit(host):
    (host / "proc_self_cgroup").write_text("0::/\n")
    _write(host / "cgroup", memory__max="max", memory__current=str(GB))
    assert threads.cgroup_available() is None
    assert threads.available_memory() == 100 * GB
    assert threads.affordable_workers(64, GB) == 50


def test_a_cgroup_v1_limit_caps_the_batches_run_at_once(host):
    (host / "proc_self_cgroup").write_text("9:name=systemd:/\n4:memory:/process_api/0f83\n3:cpuset:/\n0::/\n")
    _write(host / "cgroup/memory", memory__limit_in_bytes="9223372036854771712", memory__usage_in_bytes=str(13 * GB))
    _write(host / "cgroup/memory/process_api/0f83", memory__limit_in_bytes=str(8 * GB), memory__usage_in_bytes=str(3 * GB),
           memory__stat=f"inactive_file 1\ntotal_inactive_file {GB}\n")
    assert threads.cgroup_available() == 6 * GB
    assert threads.affordable_workers(64, GB) == 3


def test_a_container_whose_cgroup_path_is_not_under_its_mount_reads_the_mounts_root(host):
    # cgroup v1 in a container: /proc/self/cgroup names the host's path, the mount's root is the container's cgroup
    (host / "proc_self_cgroup").write_text("4:memory:/docker/abc123\n")
    _write(host / "cgroup/memory", memory__limit_in_bytes=str(2 * GB), memory__usage_in_bytes=str(GB))
    assert threads.available_memory() == GB


def test_no_cgroup_files_leave_the_hosts_memory(host):
    assert threads.cgroup_available() is None  # no /proc/self/cgroup
    (host / "proc_self_cgroup").write_text("0::/a\n")
    assert threads.available_memory() == 100 * GB  # named but no folder
