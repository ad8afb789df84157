"""The catalog README's "top rejection reasons" example grouped by the whole reason text, which holds
each sample's score (`sharpness: score 0.0374 vs threshold 0.07`) or the key it duplicates: on the
image demo's catalog every one of its 10 rows said n = 1, the question unanswered. It groups by the
reason's kind now."""

from __future__ import annotations

import csv
import io

from catalog import Catalog
from catalog.cli import EXAMPLE_QUERIES, main


def test_top_rejection_reasons_counts_each_kind_once(catalog_copy, capsys):
    with Catalog.open(catalog_copy) as cat:  # its rejected samples all say 'min_size: 100 < 256': give each its own score
        cat.sql("UPDATE samples SET reason = 'min_size: score ' || key || ' vs threshold 256' WHERE status = 'rejected'")
        _, [(rejected,)] = cat.sql("SELECT count(*) FROM samples WHERE status = 'rejected'")
    assert rejected >= 2
    query = next(q for title, q in EXAMPLE_QUERIES if title == "top rejection reasons")
    assert main(["sql", query, "--csv", "--catalog", str(catalog_copy)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    min_size = [r for r in rows if r["status"] == "rejected"]
    assert len(min_size) == 1 and min_size[0]["reason_kind"] == "min_size"
    assert int(min_size[0]["n"]) == rejected
    assert min_size[0]["example"].startswith("min_size: score ")
