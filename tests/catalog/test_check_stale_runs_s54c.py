"""`lumina catalog check` names the runs recorded as running whose process is gone. A run killed
with its process (kill -9 of a `lumina train`, a Prefect worker stopped with its flow runs) read
`running` until the next run started on the catalog; where none started, for good, and check said
nothing. Now a row `runs_running_owner_gone` counts them (exit 1), by the rule the next start_run
marks them abandoned by, and each is named with what to do; nothing is written."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta

from catalog import Catalog
from catalog.cli import main
from catalog.db import utcnow


def _gone_pid() -> int:
    """The PID of a process that has ended (reused by another before the check: not likely)."""
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)


def _catalog(tmp_path) -> tuple[str, int]:
    """Four runs recorded as running: this process's (alive), one whose process here is gone, one on
    another host that beat an hour ago, one there that beat just now."""
    path, gone = str(tmp_path / "catalog.duckdb"), _gone_pid()
    with Catalog.open(path) as cat:
        for run_id in ("alive", "killed", "far-silent", "far-beating"):
            cat.start_run("train", run_id=run_id)
        cat.sql("UPDATE runs SET owner_pid = ?, owner_started = NULL WHERE run_id = 'killed'", [gone])
        cat.sql("UPDATE runs SET owner_host = 'elsewhere', heartbeat_at = ? WHERE run_id = 'far-silent'",
                [utcnow() - timedelta(hours=1)])
        cat.sql("UPDATE runs SET owner_host = 'elsewhere' WHERE run_id = 'far-beating'")
    return path, gone


def test_check_names_the_running_runs_whose_process_is_gone(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LUMINA_RUN_HEARTBEAT_TIMEOUT_S", raising=False)
    assert socket.gethostname() != "elsewhere"
    path, gone = _catalog(tmp_path)
    assert main(["check", "--catalog", path]) == 1
    out = capsys.readouterr().out
    assert "runs_running_owner_gone                       2" in out
    found = [line for line in out.splitlines() if line.startswith("runs_running_owner_gone: ")]
    assert len(found) == 2 and "run killed (train, started " in found[0] and "far-silent" in found[1], found
    assert found[0].endswith(f"is recorded as running, but its process (PID {gone} on this host) is gone")
    assert "its last heartbeat is 60 min old (PID " in found[1] and " on host elsewhere; " in found[1]
    assert "alive" not in out and "far-beating" not in out
    with Catalog.open(path, read_only=True) as cat:  # read-only: nothing marked
        assert cat.sql("SELECT count(*) FROM runs WHERE status = 'running'")[1] == [(4,)]


def test_the_command_it_gives_marks_the_run_and_check_passes(tmp_path, capsys):
    path, _ = _catalog(tmp_path)
    with Catalog.open(path) as cat:
        cat.sql("DELETE FROM runs WHERE run_id = 'far-silent'")
    main(["check", "--catalog", path])
    [do] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  do: nothing: the next run")]
    sql = do.split(f"--catalog {path} ", 1)[1].strip('"')
    assert main(["sql", "--write", "--catalog", path, sql]) == 0
    assert main(["check", "--catalog", path]) == 0


def test_the_command_it_gives_works_pasted_into_a_shell_for_a_catalog_path_with_a_space(tmp_path, capsys):
    """The catalog path was printed bare: pasted, `--catalog /x/my home/catalog.duckdb "UPDATE ..."`
    ended in 'unrecognized arguments' (the shell split the path at its space)."""
    import shlex

    (tmp_path / "my home").mkdir()
    path, _ = _catalog(tmp_path / "my home")
    with Catalog.open(path) as cat:
        cat.sql("DELETE FROM runs WHERE run_id = 'far-silent'")
    main(["check", "--catalog", path])
    [do] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  do: nothing: the next run")]
    words = shlex.split(do.split("or now: ", 1)[1])
    assert words[:5] == ["lumina", "catalog", "sql", "--write", "--catalog"] and words[5] == path, words
    assert main(words[2:]) == 0  # as the shell passes it to `lumina catalog`
    assert main(["check", "--catalog", path]) == 0
