"""`why FOLDER`'s query and `why CAPTION_FILE`'s command (0474ffe) were pasted into a shell as printed:
the query in double quotes, the file bare. A folder named `it's "q" $HOME` gave a query whose `"q"`
ended the shell word and whose $HOME the shell expanded ('(0 rows)', exit 0, of its 6 samples), and
the file's command split at its spaces. Each is now one shell word that reads back as printed."""

from __future__ import annotations

import json
import shlex

from catalog import Catalog
from catalog.cli import main

from .helpers import key


def _words_after(err: str, command: str) -> list[str]:
    return shlex.split(err.split(command, 1)[1].split(" (or why FILE")[0].strip())


def test_the_commands_why_prints_for_a_folder_are_one_shell_word(catalog_copy, tmp_path, monkeypatch, capsys):
    pics = tmp_path / """it's "q" $HOME"""
    pics.mkdir()
    with Catalog.open(catalog_copy) as cat:  # batch 0's 6 samples came from files in it
        cat.sql("UPDATE samples SET source_uri = ? || '/' || key || '.png' WHERE key LIKE '00000000%'", [str(pics)])
    monkeypatch.chdir(tmp_path)
    assert main(["why", str(pics), "--catalog", str(catalog_copy)]) == 2
    words = _words_after(capsys.readouterr().err, "lumina catalog sql ")
    assert len(words) == 1, words
    assert main(["sql", words[0], "--catalog", str(catalog_copy), "--json"]) == 0
    assert sum(row["n"] for row in json.loads(capsys.readouterr().out)) == 6
    assert main(["why", str(pics / f"{key(0, 1)}.txt"), "--catalog", str(catalog_copy)]) == 2
    assert _words_after(capsys.readouterr().err, "lumina catalog why ") == [str(pics / f"{key(0, 1)}.png")]
