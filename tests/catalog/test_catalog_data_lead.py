"""What a data lead new to the catalog tripped over (session 51 walkthrough on a workspace of all
four modalities):

- `lumina catalog sql "SELECT ...; SELECT ..."` (or a pasted block of the README's examples)
  printed the last query's rows only and said nothing of the others;
"""

from __future__ import annotations

import shutil

from catalog.cli import main


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_several_queries_say_that_only_the_last_is_printed(base_catalog, capsys):
    rc, out, err = run(capsys, "sql", "SELECT 1 AS a; -- the next one\nSELECT 2 AS b", "--catalog", str(base_catalog))
    assert rc == 0 and out.splitlines()[0] == "b"
    assert "last statement's result only" in err and "the 1 query before it" in err


def test_one_query_or_a_write_before_a_query_says_nothing(base_catalog, tmp_path, capsys):
    rc, _, err = run(capsys, "sql", "SELECT 2 AS b;", "--catalog", str(base_catalog))
    assert rc == 0 and err == ""
    copy = tmp_path / "c.duckdb"
    shutil.copy(base_catalog, copy)
    rc, out, err = run(capsys, "sql", "CREATE TABLE mine AS SELECT 1 AS a; SELECT * FROM mine", "--write",
                       "--catalog", str(copy))
    assert rc == 0 and err == "" and out.splitlines()[0] == "a"
