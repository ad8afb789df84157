"""One writer, many readers, real processes: DuckDB locks the file per process.

While one process has the catalog open for writing, any other open (read-only too) waits up to
busy_timeout_s and then fails with CatalogBusyError("catalog is busy: ..."); read-only opens
share the file with each other.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from .helpers import REPO, cli, dump, subprocess_env

HOLDER = """
import sys
from catalog import Catalog
cat = Catalog.open(sys.argv[1], read_only=sys.argv[2] == "ro")
with cat.hold():
    print("HELD", flush=True)
    sys.stdin.readline()
"""

WRITER = """
import sys, time
from catalog import Catalog, CatalogBusyError
start = time.monotonic()  # before TRYING: the parent's 1 s from reading it are all counted, however late this runs
print("TRYING", flush=True)
try:
    cat = Catalog.open(sys.argv[1], busy_timeout_s=float(sys.argv[2]))
    cat.start_run("second", {}, run_id="second-writer")
    print(json.dumps({"ok": True, "waited": time.monotonic() - start}))
except CatalogBusyError as e:
    print(json.dumps({"ok": False, "waited": time.monotonic() - start, "error": str(e)}))
""".replace("import sys, time", "import sys, time, json")


def popen(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, env=subprocess_env(), text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture
def holder(catalog_copy):
    """Start a process that holds the catalog open (mode "rw" or "ro") until released."""
    procs = []

    def start(mode: str) -> subprocess.Popen:
        p = popen(HOLDER, str(catalog_copy), mode)
        procs.append(p)
        assert p.stdout.readline().strip() == "HELD", p.stderr.read()
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.communicate("\n", timeout=30)


def release(p: subprocess.Popen) -> None:
    p.communicate("\n", timeout=30)
    assert p.returncode == 0


def test_second_writer_gets_a_clear_busy_error_after_a_bounded_wait(catalog_copy, holder):
    h = holder("rw")
    proc = subprocess.run([sys.executable, "-c", WRITER, str(catalog_copy), "1.0"], cwd=REPO, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60)
    result = json.loads(proc.stdout.splitlines()[-1])
    assert not result["ok"] and 1.0 <= result["waited"] < 5.0
    assert result["error"].startswith("catalog is busy: ") and f"PID {h.pid}" in result["error"]
    # the CLI says the same in one line, no stack trace
    proc = cli("sql", "SELECT 1", "--catalog", str(catalog_copy), "--timeout", "0.5")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("lumina catalog: error: catalog is busy: ") and proc.stderr.count("\n") == 1
    assert "within 0.5 s (wait longer with --timeout S)" in proc.stderr  # it named busy_timeout_s, no CLI flag
    assert "(wait longer with busy_timeout_s)" in result["error"]  # the Python API's own argument
    release(h)


def test_a_waiting_writer_gets_in_once_the_first_one_is_done(catalog_copy, holder):
    h = holder("rw")
    waiting = popen(WRITER, str(catalog_copy), "30")
    assert waiting.stdout.readline().strip() == "TRYING"
    time.sleep(1.0)
    release(h)
    out, err = waiting.communicate(timeout=60)
    result = json.loads(out)
    assert result["ok"] and result["waited"] >= 1.0, err
    assert ("second-writer",) in [r[:1] for r in dump(catalog_copy)["runs"]]


def test_reader_waits_for_the_writer_then_reads(catalog_copy, holder):
    h = holder("rw")
    reader = subprocess.Popen([sys.executable, "-m", "catalog.cli", "sql", "SELECT count(*) AS n FROM samples",
                               "--json", "--catalog", str(catalog_copy), "--timeout", "30"],
                              cwd=REPO, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    assert reader.poll() is None  # started, and still waiting on the lock
    release(h)
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    assert json.loads(out) == [{"n": 18}]


def test_readers_share_the_file_but_keep_writers_out(catalog_copy, holder):
    holder("ro")
    proc = cli("sql", "SELECT count(*) AS n FROM samples", "--json", "--catalog", str(catalog_copy), "--timeout", "1")
    assert proc.returncode == 0 and json.loads(proc.stdout) == [{"n": 18}], proc.stderr
    proc = subprocess.run([sys.executable, "-c", WRITER, str(catalog_copy), "0.5"], cwd=REPO, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60)
    assert json.loads(proc.stdout.splitlines()[-1])["error"].startswith("catalog is busy")


def test_a_reader_during_registration_sees_whole_batches_only(catalog_copy):
    """The writer sleeps inside each batch's transaction; a reader started meanwhile never sees half a batch."""
    writer_code = (
        "import sys, time\n"
        "from catalog import Catalog\n"
        "from tests.catalog.helpers import make_batch\n"
        "cat = Catalog.open(sys.argv[1])\n"
        "cat._fault_hook = lambda at: at == 'samples' and (print('IN_BATCH', flush=True) or time.sleep(0.7))\n"
        "cat.register_batches([make_batch(10), make_batch(11)], 'run-base')\n"
        "print('DONE', flush=True)\n"
    )
    query = ("SELECT (SELECT count(*) FROM samples) AS samples, (SELECT count(*) FROM verdicts) AS verdicts, "
             "(SELECT count(*) FROM encodings) AS encodings")
    writer = popen(writer_code, str(catalog_copy))
    assert writer.stdout.readline().strip() == "IN_BATCH"
    proc = cli("sql", query, "--json", "--catalog", str(catalog_copy), "--timeout", "30")
    assert proc.returncode == 0, proc.stderr
    out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0 and "DONE" in out, err
    seen = json.loads(proc.stdout)[0]
    consistent = [{"samples": 18 + 6 * n, "verdicts": 30 + 10 * n, "encodings": 24 + 8 * n} for n in (0, 1, 2)]
    assert seen in consistent
    assert seen == consistent[2]  # with the file held for the whole call, the reader waits for the end


def test_a_stage_that_cannot_register_says_it_waits_and_that_its_work_is_kept(catalog_copy, holder, tmp_path, monkeypatch,
                                                                             caplog):
    """lumina curate waited half a minute without a word, then failed with a message that did not
    say its finished shards were kept; LUMINA_CATALOG_TIMEOUT_S sets the wait for stage commands."""
    from catalog import CatalogBusyError
    from contracts.layout import Workspace
    from flows.steps import register

    h = holder("rw")
    monkeypatch.setenv("LUMINA_CATALOG_TIMEOUT_S", "3")
    ws = Workspace(catalog_copy.parent)
    assert ws.catalog == catalog_copy
    with caplog.at_level("WARNING", logger="catalog.db"), pytest.raises(CatalogBusyError) as err:
        register(ws, ["/x/a.batch.json", "/x/b.batch.json"], "run-base")
    assert "within 3 s" in str(err.value) and "The 2 finished batch(es) stay on disk" in str(err.value)
    assert "waiting for the catalog" in caplog.text and f"PID {h.pid}" in caplog.text
    release(h)
