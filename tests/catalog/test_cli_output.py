"""How `lumina catalog` prints values: NULL in tables, long cells cut in the middle (--max-width),
JSON-typed columns as nested JSON in `sql --json`."""

from __future__ import annotations

import csv
import io
import json

import pytest

from catalog.cli import main

from .helpers import key


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


URIS = [f"/tmp/home/runs/train-20261205-012428-3bb24b31/checkpoint-{s:07d}/model.safetensors" for s in (200, 400)]


def test_long_cells_keep_their_head_and_tail(base_catalog, capsys):
    q = "SELECT * FROM (VALUES ('" + "'), ('".join(URIS) + "')) t(uri)"
    rc, out, err = run(capsys, "sql", q, "--catalog", str(base_catalog))
    assert rc == 0 and err == ""
    cells = out.splitlines()[2:4]
    assert cells[0] != cells[1]  # cut at the end, both read /tmp/home/runs/train-2026...
    for cell, uri in zip(cells, URIS):
        assert len(cell) == 60 and "…" in cell
        head, tail = cell.split("…")
        assert uri.startswith(head) and uri.endswith(tail) and tail.endswith("/model.safetensors")
    rc, out, _ = run(capsys, "sql", q, "--max-width", "0", "--catalog", str(base_catalog))
    assert out.splitlines()[2:4] == URIS
    rc, out, _ = run(capsys, "sql", q, "--max-width", "30", "--catalog", str(base_catalog))
    assert [len(c) for c in out.splitlines()[2:4]] == [30, 30]


def test_cut():
    from catalog.cli import _cut

    assert _cut("abcdefghij", 0) == "abcdefghij" and _cut("abcdefghij", 10) == "abcdefghij"
    assert _cut("abcdefghij", 5) == "ab…ij" and _cut("abcdefghij", 4) == "a…ij"
    assert _cut("abcdefghij", 1) == "…"


@pytest.mark.parametrize("argv", [
    ["sql", "SELECT repeat('x', 30) AS long_value"],
    ["stats"],
    ["why", key(1, 0)],
    ["manifest", "list"],
    ["manifest", "show", "images"],
    ["tables"],
    ["check"],
])
def test_every_table_printer_takes_max_width(base_catalog, capsys, argv):
    rc, out, err = run(capsys, *argv, "--max-width", "0", "--catalog", str(base_catalog))
    assert rc == 0 and err == "" and "…" not in out
    rc, narrow, err = run(capsys, *argv, "--max-width", "8", "--catalog", str(base_catalog))
    assert rc == 0 and err == "" and "…" in narrow


def test_max_width_may_not_be_negative(base_catalog, capsys):
    rc, _, err = run(capsys, "sql", "SELECT 1", "--max-width", "-1", "--catalog", str(base_catalog))
    assert rc == 2 and "--max-width" in err


def test_json_typed_columns_are_nested_json(base_catalog, capsys):
    q = ("SELECT meta, [meta] AS metas, {'m': meta, 'n': 1} AS st, NULL::JSON AS nothing, 'null'::JSON AS json_null, "
         "'{\"a\": 1}' AS text_like_json, [1, 2] AS l, CAST(meta AS VARCHAR) AS meta_text, MAP {'k': meta} AS mp "
         f"FROM samples WHERE key = '{key(1, 0)}'")
    rc, out, err = run(capsys, "sql", q, "--json", "--catalog", str(base_catalog))
    assert rc == 0 and err == ""
    meta = {"label": 0, "batch": 1}
    assert json.loads(out) == [{"meta": meta, "metas": [meta], "st": {"m": meta, "n": 1}, "nothing": None,
                                "json_null": None, "text_like_json": '{"a": 1}', "l": [1, 2],
                                "meta_text": out and json.loads(out)[0]["meta_text"], "mp": {"k": meta}}]
    assert json.loads(json.loads(out)[0]["meta_text"]) == meta  # a VARCHAR stays a string, whatever it holds


@pytest.mark.parametrize("fmt", [[], ["--csv"], ["--json"]])
def test_sql_streams_its_result_instead_of_holding_every_row(base_catalog, monkeypatch, fmt):
    """`catalog sql` fetched every row before printing (a table showed 200 of them): 830 MB for a
    960k-row --json. Now JSON and CSV go out chunk by chunk and a table keeps the rows it shows."""
    import sys
    import tracemalloc

    class Sink:  # counts what is printed, holds none of it
        chars = 0

        def write(self, text):
            Sink.chars += len(text)

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", Sink())
    rows = 50_000
    tracemalloc.start()
    try:
        rc = main(["sql", f"SELECT range AS n, repeat('x', 400) AS pad FROM range({rows})", "--catalog",
                   str(base_catalog), *fmt])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rc == 0 and Sink.chars > (rows * 400 if fmt else 200 * 60)  # a table: 200 rows, cells cut at 60
    assert peak < 12_000_000, f"{peak / 1e6:.1f} MB held for {rows} rows of 400 characters ({rows * 400 / 1e6:.0f} MB)"


def test_json_and_csv_keep_columns_of_the_same_name(base_catalog, capsys):
    """--json kept the last of two `started_at` columns (a JSON object has one value per key)."""
    q = "SELECT 1 AS a, 2 AS a, 3 AS a, 4 AS a_1, 5 AS b"
    rc, out, _ = run(capsys, "sql", q, "--json", "--catalog", str(base_catalog))
    assert rc == 0 and json.loads(out) == [{"a": 1, "a_1": 2, "a_2": 3, "a_1_1": 4, "b": 5}]  # as DuckDB names them
    rc, out, _ = run(capsys, "sql", q, "--csv", "--catalog", str(base_catalog))
    assert rc == 0 and list(csv.reader(io.StringIO(out))) == [["a", "a_1", "a_2", "a_1_1", "b"], ["1", "2", "3", "4", "5"]]


def test_explain_prints_the_plan_as_drawn(base_catalog, capsys):
    """The plan (one multi-line cell) was cut to 60 characters in the middle: one unreadable line."""
    rc, out, _ = run(capsys, "sql", "EXPLAIN SELECT modality, count(*) FROM samples GROUP BY 1", "--catalog", str(base_catalog))
    lines = out.splitlines()
    assert rc == 0 and len(lines) > 5 and lines[0].startswith("╭─") and "…" not in out
    assert any("Group By" in ln or "GROUP_BY" in ln for ln in lines) and "explain_key" not in out


def test_table_aligns_wide_characters_and_multi_line_cells(base_catalog, capsys):
    from catalog.cli import _cut, display_width

    q = "SELECT * FROM (VALUES ('日本語テキスト', 1), ('abc', 2), ('two' || chr(10) || 'lines', 3)) t(a, b)"
    rc, out, _ = run(capsys, "sql", q, "--catalog", str(base_catalog))
    lines = out.splitlines()
    assert rc == 0 and lines[2:6] == ["日本語テキスト  1", "abc             2", "two             3", "lines"]
    assert {display_width(ln) for ln in lines[2:5]} == {display_width(lines[0])}  # b's column lines up
    assert display_width(_cut("日" * 40, 60)) <= 60 and _cut("日" * 40, 60).startswith("日" * 14 + "…")


def test_max_rows_zero_shows_every_row_and_a_negative_one_is_refused(base_catalog, capsys):
    """--max-rows -1 (and 0) showed no row and called them all "not shown"."""
    rc, out, _ = run(capsys, "sql", "SELECT * FROM range(300)", "--max-rows", "0", "--catalog", str(base_catalog))
    assert rc == 0 and out.splitlines()[-1] == "(300 rows)" and len(out.splitlines()) == 303
    rc, out, err = run(capsys, "sql", "SELECT 1", "--max-rows", "-1", "--catalog", str(base_catalog))
    assert rc == 2 and out == "" and "--max-rows: must be 0 (no limit) or more, not -1" in err
