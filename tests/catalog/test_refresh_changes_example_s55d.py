"""Nothing in the catalog README answered "what did the last refresh change?": its examples had no
refresh, and docs/deployments.md lists status changes only, not the samples a refresh added. The
README's example now gives both, for the last refresh only (checked on a scratch folder of 10 PNGs:
2 edited, 1 deleted, 1 added, lumina refresh: 3 added, 2 superseded, 1 removed)."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from catalog import Catalog
from catalog.cli import EXAMPLE_QUERIES, main

from .helpers import key, make_batch


def test_the_refresh_example_lists_what_the_last_refresh_added_and_retired(catalog_copy, capsys):
    with Catalog.open(catalog_copy) as cat:
        for n, run_id in enumerate(("refresh-1", "refresh-2")):
            cat.start_run("refresh", {"source": "/data"}, run_id=run_id)
            cat.register_batches([make_batch(10 + n, n=1)], run_id)  # one new accepted sample each
            cat.sql("INSERT INTO sample_status_changes VALUES (?, 'accepted', NULL, 'removed', "
                    "'removed: no longer in the source', NULL, ?, ?)", [key(0, n), datetime.now(), run_id])
            cat.finish_run(run_id)
    query = next(q for title, q in EXAMPLE_QUERIES if title.startswith("what the last refresh changed"))
    assert main(["sql", query, "--csv", "--catalog", str(catalog_copy)]) == 0
    rows = [(r["change"], r["key"], r["was"], r["status"]) for r in csv.DictReader(io.StringIO(capsys.readouterr().out))]
    assert sorted(rows) == [("added", key(11, 0), "", "accepted"), ("changed", key(0, 1), "accepted", "removed")]
