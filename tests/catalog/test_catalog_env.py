"""$LUMINA_CATALOG is `lumina catalog`'s default only: the stage commands record into their workspace's
catalog.duckdb, and both sides say so when LUMINA_CATALOG names another file (they read and wrote
different catalogs without a word)."""

from __future__ import annotations

import shutil

import contracts.layout as layout
from catalog.cli import main
from contracts.layout import Workspace


def test_a_stage_that_ignores_lumina_catalog_says_so_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(layout, "_catalog_env_noted", False, raising=False)
    monkeypatch.setenv("LUMINA_CATALOG", str(tmp_path / "elsewhere" / "catalog.duckdb"))
    ws = Workspace.at(tmp_path / "home")
    assert ws.catalog == tmp_path / "home" / "catalog.duckdb" and ws.catalog == ws.home / "catalog.duckdb"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "LUMINA_CATALOG=" in err and "ignored" in err
    assert str(ws.catalog) in err
    monkeypatch.setenv("LUMINA_CATALOG", str(ws.home / "catalog.duckdb"))  # the same file: nothing to say
    monkeypatch.setattr(layout, "_catalog_env_noted", False, raising=False)
    assert ws.catalog and capsys.readouterr().err == ""


def test_lumina_catalog_says_it_reads_lumina_catalog_not_the_homes(base_catalog, tmp_path, monkeypatch, capsys):
    other = tmp_path / "other" / "catalog.duckdb"
    other.parent.mkdir()
    shutil.copy(base_catalog, other)
    monkeypatch.setenv("LUMINA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LUMINA_CATALOG", str(other))
    assert main(["sql", "SELECT 1 AS one", "--json"]) == 0
    out, err = capsys.readouterr()
    assert out.strip().startswith("[") and err.count("\n") == 1
    assert f"reading LUMINA_CATALOG={other}" in err and str(tmp_path / "home" / "catalog.duckdb") in err
    monkeypatch.setenv("LUMINA_HOME", str(other.parent))  # LUMINA_CATALOG is the home's catalog: no note
    assert main(["sql", "SELECT 1 AS one"]) == 0 and capsys.readouterr().err == ""
