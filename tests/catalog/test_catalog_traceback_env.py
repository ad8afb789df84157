"""LUMINA_TRACEBACK=1 shows the traceback before a `lumina catalog` error line, as README says of
every lumina command; `lumina catalog` printed the one line only."""

from __future__ import annotations

from catalog.cli import main


def test_lumina_traceback_shows_a_catalog_errors_traceback(tmp_path, monkeypatch, capsys):
    missing = str(tmp_path / "nowhere" / "catalog.duckdb")
    monkeypatch.setenv("LUMINA_TRACEBACK", "1")
    assert main(["sql", "SELECT 1", "--catalog", missing]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):"), err
    assert err.splitlines()[-1].startswith(f"lumina catalog: error: no catalog at {missing}"), err

    monkeypatch.setenv("LUMINA_TRACEBACK", "0")
    assert main(["sql", "SELECT 1", "--catalog", missing]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"lumina catalog: error: no catalog at {missing} (check --catalog FILE, or give --home DIR)"]
