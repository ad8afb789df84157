"""A mistyped column inside an IN (SELECT ...) subquery was told to take single quotes, as a bare
string in an IN list of values is (ec3065c): 'key IN (SELECT kye FROM encodings)' answered
'... Referenced column "kye" not found ... (in SQL a string takes single quotes: 'kye')'."""

from __future__ import annotations

from catalog.cli import main


def _error(capsys, *argv) -> str:
    assert main(list(argv)) == 2
    return capsys.readouterr().err


def test_a_mistyped_column_in_an_in_subquery_gets_no_quote_hint(base_catalog, capsys):
    cat = ("--catalog", str(base_catalog))
    for typo in ("SELECT count(*) FROM samples WHERE key IN (SELECT kye FROM encodings)",
                 "SELECT count(*) FROM samples WHERE key IN ( select key FROM encodings WHERE kid = 'latent')"):
        assert "single quotes" not in _error(capsys, "sql", typo, *cat), typo
    err = _error(capsys, "sql", "SELECT count(*) FROM samples WHERE split IN (train, 'holdout')", *cat)
    assert "(in SQL a string takes single quotes: 'train')" in err
