"""`why` of a file a refresh found gone said its status twice: "REMOVED: removed: no longer in the
source", "SUPERSEDED: superseded: by KEY" (session 52: a curate + refresh of a small corpus)."""

from __future__ import annotations

from catalog import Catalog
from catalog.cli import main

from .helpers import key


def _why_first_line(capsys, path, k):
    rc = main(["why", k, "--catalog", str(path)])
    out = capsys.readouterr().out
    assert rc == 0
    return out.splitlines()[0]


def test_why_says_a_refresh_status_once_and_keeps_a_filter_reason_whole(catalog_copy, capsys):
    gone, old, new, rejected = key(0, 0), key(0, 1), key(0, 2), key(0, 3)
    with Catalog.open(catalog_copy) as cat:
        cat.sql("UPDATE samples SET status = 'removed', reason = 'removed: no longer in the source' WHERE key = ?", [gone])
        cat.sql("UPDATE samples SET status = 'superseded', reason = ? WHERE key = ?", [f"superseded: by {new}", old])
    assert _why_first_line(capsys, catalog_copy, gone).endswith("[image]  REMOVED: no longer in the source")
    assert _why_first_line(capsys, catalog_copy, old).endswith(f"[image]  SUPERSEDED: by {new}")
    assert _why_first_line(capsys, catalog_copy, rejected).endswith("[image]  REJECTED: min_size: 100 < 256")
