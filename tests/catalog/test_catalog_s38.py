"""Session s38: a second catalog connection in one process (sandboxed_connect on a locked instance)."""

from __future__ import annotations

import threading

import pytest

from catalog import Catalog

SETTINGS = "SELECT current_setting('enable_progress_bar'), current_setting('lock_configuration')"


def test_second_open_while_a_catalog_is_held(catalog_copy):
    """DuckDB shares one instance per file in a process and lock_configuration is the instance's:
    the second Catalog.open failed its `SET enable_progress_bar` with a raw InvalidInputException."""
    a = Catalog.open(catalog_copy)
    with a.hold():
        b = Catalog.open(catalog_copy)
        c = Catalog.open(catalog_copy)
        assert b.sql("SELECT count(*) FROM runs")[1] == c.sql("SELECT count(*) FROM runs")[1]
        run = b.start_run("curate", {"source": "second"})
        b.finish_run(run)
        assert b.sql(SETTINGS)[1][0][1] is True  # still sandboxed: the configuration stays locked
        for stmt in ("SET enable_progress_bar = true", "SET enable_external_access = true"):
            with pytest.raises(Exception, match="locked"):
                b.sql(stmt)
        assert a.sql("SELECT count(*) FROM runs WHERE run_id = ?", [run])[1] == [(1,)]
    # once no connection is open, the next one gets the session settings again (progress bar off)
    assert Catalog.open(catalog_copy).sql(SETTINGS)[1] == [(False, True)]


def test_writer_thread_while_a_catalog_is_held(catalog_copy):
    a = Catalog.open(catalog_copy)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            cat = Catalog.open(catalog_copy)
            cat.finish_run(cat.start_run("curate", {"source": "thread"}))
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    with a.hold():
        t = threading.Thread(target=writer)
        t.start()
        t.join(60)
    assert not errors, errors
    assert a.sql("SELECT count(*) FROM runs WHERE parameters->>'source' = 'thread'")[1] == [(1,)]


def test_home_given_says_nothing_of_lumina_catalog(catalog_copy, tmp_path, monkeypatch, capsys):
    """`LUMINA_CATALOG=X lumina catalog stats --home D` printed the stage commands' warning ("set but
    ignored here") although --home was chosen on the command line."""
    import shutil

    import contracts.layout as layout
    from catalog.cli import main

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(catalog_copy, home / "catalog.duckdb")
    monkeypatch.setenv("LUMINA_CATALOG", str(tmp_path / "other.duckdb"))
    monkeypatch.setattr(layout, "_catalog_env_noted", False)
    capsys.readouterr()
    assert main(["stats", "--home", str(home)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "== Totals" in out, err
    assert main(["sql", "SELECT count(*) AS n FROM runs", "--home", str(home), "--csv"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "n" and err == ""
