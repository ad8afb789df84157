"""What a data lead asking the catalog met (session 52):

- `sql --max-rows 5 --csv` (and `--json`) wrote every row: --max-rows applied to the table only,
  unsaid in a way that a script asking for a sample of rows would notice;
- `stats --json` held the top 20 drop reasons only, with no word of the others (the table says how
  many more): a program reading it wants them all.
"""

from __future__ import annotations

import csv
import io
import json
import shutil

from catalog import Catalog
from catalog.cli import main

from .helpers import make_batch


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_max_rows_cuts_csv_and_json_too_and_says_so_on_stderr(base_catalog, capsys):
    # 20,000 rows come in 3 chunks of up to 8,192: the cut falls inside the second
    rc, out, err = run(capsys, "sql", "SELECT range AS n FROM range(20000)", "--csv", "--max-rows", "10000",
                       "--catalog", str(base_catalog))
    rows = list(csv.reader(io.StringIO(out)))
    assert rc == 0 and rows[0] == ["n"] and len(rows) == 10001 and rows[-1] == ["9999"]
    assert "wrote the first 10000 of 20000 rows (--max-rows 10000)" in err
    rc, out, err = run(capsys, "sql", "SELECT range AS n FROM range(300)", "--json", "--max-rows", "5",
                       "--catalog", str(base_catalog))
    assert rc == 0 and json.loads(out) == [{"n": i} for i in range(5)] and "first 5 of 300 rows" in err


def test_csv_and_json_write_every_row_unless_told_and_the_table_keeps_its_200(base_catalog, capsys):
    query = "SELECT range AS n FROM range(300)"
    rc, out, err = run(capsys, "sql", query, "--csv", "--catalog", str(base_catalog))
    assert rc == 0 and len(out.splitlines()) == 301 and err == ""
    rc, out, err = run(capsys, "sql", query, "--json", "--max-rows", "0", "--catalog", str(base_catalog))
    assert rc == 0 and len(json.loads(out)) == 300 and err == ""
    rc, out, _ = run(capsys, "sql", query, "--catalog", str(base_catalog))
    assert rc == 0 and out.splitlines()[-1] == "(300 rows, 100 not shown (--max-rows))"


def test_sql_help_says_max_rows_applies_to_every_format(capsys):
    try:
        main(["sql", "--help"])
    except SystemExit:
        pass
    text = " ".join(capsys.readouterr().out.split())
    assert "rows printed, in every format" in text and "all with --json or --csv" in text


def test_stats_json_gives_every_drop_reason_and_the_table_its_top_20(base_catalog, tmp_path, capsys):
    path = tmp_path / "c.duckdb"
    shutil.copy(base_catalog, path)
    with Catalog.open(path) as cat:
        run_id = cat.start_run("curate", {})
        cat.register_batches([make_batch(9, n=12)], run_id)
        cat.finish_run(run_id)
        cat.sql("UPDATE samples SET status = 'rejected', reason = 'kind_' || key || ': x'")  # 30 reason kinds
        total = cat.sql("SELECT count(*) FROM drop_reasons")[1][0][0]
    rc, out, _ = run(capsys, "stats", "--json", "--catalog", str(path))
    assert rc == 0 and total == 30 and len(json.loads(out)["drop_reasons"]) == 30
    rc, out, _ = run(capsys, "stats", "--catalog", str(path))
    section = out.split("== Drop reasons (top 20)")[1].split("==")[0]
    assert "(20 rows)" in section and "(10 more not shown" in section
