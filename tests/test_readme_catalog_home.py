"""README "Asking the catalog": `lumina catalog` finds the catalog of --home, $LUMINA_HOME or
./lumina_home (or --catalog FILE). When it is not there, the one line says which of those it came
from and what to give instead. It said "(set --catalog or LUMINA_CATALOG, or run a flow first)" to
everyone: to a --home or --catalog that was given, and without naming --home at all to a user in
the wrong folder, though --home is how the README and every other command choose a workspace."""

from __future__ import annotations

import pytest

from catalog.cli import main


@pytest.mark.parametrize("argv, env, hint", [
    (["--home", "{tmp}/typo"], {}, "(--home {tmp}/typo holds no catalog: check the folder, or run a stage "
                                   "(lumina curate, lumina demo) into it first)"),
    (["--catalog", "{tmp}/typo.duckdb"], {}, "(check --catalog FILE, or give --home DIR)"),
    ([], {"LUMINA_HOME": "{tmp}/typo"}, "(the workspace LUMINA_HOME={tmp}/typo names: give --home DIR or "
                                         "--catalog FILE, or run a stage there first)"),
    ([], {}, "(./lumina_home in the current folder, the workspace without --home or LUMINA_HOME: give "
             "--home DIR, or run lumina demo here first)"),
])
@pytest.mark.parametrize("command", [["stats"], ["sql", "SELECT 1", "--write"]])
def test_a_missing_catalog_says_where_its_path_came_from(tmp_path, monkeypatch, capsys, command, argv, env, hint):
    monkeypatch.chdir(tmp_path)
    for name in ("LUMINA_HOME", "LUMINA_CATALOG", "LUMINA_TRACEBACK"):
        monkeypatch.setenv(name, "")  # set, so that monkeypatch restores what was there
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    where = {"--home": tmp_path / "typo" / "catalog.duckdb", "--catalog": tmp_path / "typo.duckdb"}.get(
        argv[0] if argv else "", tmp_path / ("typo" if env else "lumina_home") / "catalog.duckdb")

    assert main([*command, *(a.format(tmp=tmp_path) for a in argv)]) == 2
    err = capsys.readouterr().err
    assert err == f"lumina catalog: error: no catalog at {where} {hint.format(tmp=tmp_path)}\n"
    assert not where.exists()  # nothing created, --write included
    assert not (tmp_path / "typo").exists() and not (tmp_path / "lumina_home").exists()


def test_the_lumina_catalog_variable_is_named_when_its_file_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LUMINA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LUMINA_CATALOG", str(tmp_path / "gone.duckdb"))
    monkeypatch.setenv("LUMINA_TRACEBACK", "0")

    assert main(["stats"]) == 2
    last = capsys.readouterr().err.splitlines()[-1]  # below the note that LUMINA_CATALOG is read
    assert last == (f"lumina catalog: error: no catalog at {tmp_path / 'gone.duckdb'} (the file LUMINA_CATALOG "
                    f"names: check it, or give --home DIR or --catalog FILE)")
