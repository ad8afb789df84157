"""How `lumina catalog` prints values: NULL in tables."""

from __future__ import annotations

import csv
import io

from catalog.cli import main


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_table_prints_null_apart_from_the_empty_string(base_catalog, capsys):
    q = "SELECT NULL AS a, '' AS b, 'x' AS c"
    rc, out, err = run(capsys, "sql", q, "--catalog", str(base_catalog))
    assert rc == 0 and err == ""
    assert out.splitlines()[2] == "NULL     x"
    rc, out, _ = run(capsys, "sql", q, "--csv", "--catalog", str(base_catalog))
    assert list(csv.reader(io.StringIO(out)))[1] == ["", "", "x"]  # CSV: both empty, as before
