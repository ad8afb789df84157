"""An unknown `lumina` command says which one was meant: a catalog command named alone (`lumina
manifest list`, as a user read it in the catalog README) printed only the top-level usage."""

from __future__ import annotations

import argparse

import pytest

from flows.cli import CATALOG_COMMANDS, COMMANDS, main


@pytest.mark.parametrize("argv, hint", [
    (["manifest", "list"], ": did you mean lumina catalog manifest list?"),
    (["sql", "SELECT 1 AS 'a b'"], ": did you mean lumina catalog sql 'SELECT 1 AS '\"'\"'a b'\"'\"''?"),
    (["trian", "--steps", "3"], ": did you mean lumina train?"),
    (["stat"], ": did you mean lumina catalog stats?"),
    (["xyz"], ""),
])
def test_an_unknown_command_names_the_one_meant(argv, hint, capsys):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert "usage: lumina COMMAND" in out
    assert err == f"\nlumina: unknown command {argv[0]!r}{hint}\n"


def test_the_catalog_commands_are_catalog_clis_own():
    from catalog.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert tuple(sub.choices) == CATALOG_COMMANDS
    assert not set(CATALOG_COMMANDS) & set(COMMANDS)
