"""A string left without quotes (`WHERE status = accepted`, `split IN (train, holdout)`) is read by
DuckDB as a column: 'Referenced column "accepted" not found ...; Candidate bindings: ...', and only a
string in double quotes was told to take single quotes. Now both are; a mistyped column is not."""

from __future__ import annotations

from catalog.cli import main


def _error(capsys, *argv) -> str:
    assert main(list(argv)) == 2
    return capsys.readouterr().err


def test_a_bare_string_is_told_to_take_single_quotes(base_catalog, capsys):
    cat = ("--catalog", str(base_catalog))
    err = _error(capsys, "sql", "SELECT count(*) FROM samples WHERE status = accepted", *cat)
    assert err.rstrip().endswith("(in SQL a string takes single quotes: 'accepted')")
    err = _error(capsys, "sql", "SELECT count(*) FROM samples WHERE split IN ('train', holdout)", *cat)
    assert "(in SQL a string takes single quotes: 'holdout')" in err
    err = _error(capsys, "manifest", "create", "x", "--where", "modality<>image", *cat)
    assert "(in SQL a string takes single quotes: 'image')" in err
    for typo in ("SELECT staus FROM samples", "SELECT count(*) FROM samples WHERE staus = 'accepted'"):
        assert "single quotes" not in _error(capsys, "sql", typo, *cat), typo
