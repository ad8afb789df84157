"""Threads of one process opening the same catalog at the same moment (a flow's threads, a writer
thread beside a reader): the second one's session SET met the first one's configuration lock
("Cannot change configuration option ... the configuration has been locked") in about a third of
such races."""

import threading

import duckdb

from catalog.sandbox import sandboxed_connect


def test_two_threads_opening_one_catalog_at_once_both_connect_sandboxed(tmp_path):
    path = str(tmp_path / "catalog.duckdb")
    duckdb.connect(path).close()
    failures = []
    for _ in range(40):  # one race lost about 1 in 3 before: 40 rounds all passing by luck is ~1e-8
        barrier, connections, errors = threading.Barrier(2), [], []

        def connect():
            barrier.wait()
            try:
                connections.append(sandboxed_connect(path, read_only=True))
            except Exception as e:  # noqa: BLE001 - the failure this test counts
                errors.append(f"{type(e).__name__}: {e}")

        threads = [threading.Thread(target=connect) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for con in connections:  # each sandboxed: the configuration locked, no external access
            assert con.execute("SELECT current_setting('lock_configuration'), "
                               "current_setting('enable_external_access')").fetchall() == [(True, False)]
            con.close()
        failures += errors
    assert failures == [], failures[:3]
