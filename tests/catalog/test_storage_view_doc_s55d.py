"""The catalog README called `storage_by_stage`'s `samples` the samples per stage; it sums the shards'
`num_samples`, so a sample in two shards counts twice (a scratch workspace after lumina curate and a
first lumina refresh of the same folder: curated 1511 where 1501 samples were accepted). The README
now says what it counts; this holds it to the view."""

from __future__ import annotations

import re

from catalog import Catalog

from .helpers import REPO, make_batch


def test_storage_by_stage_counts_shard_copies_as_the_readme_says(tmp_path):
    row = next(ln for ln in (REPO / "catalog" / "README.md").read_text().splitlines()
               if ln.startswith("| `storage_by_stage` |"))
    assert re.search(r"copies not samples: one written to two shards counts in each", row)
    with Catalog.open(tmp_path / "c.duckdb") as cat:
        run = cat.start_run("curate", {})
        one = make_batch(0, n=1)
        again = make_batch(0, n=1, shard_dir="/other")  # the same sample in another shard
        cat.register_batches([one, again], run)
        _, rows = cat.sql("SELECT samples FROM storage_by_stage")
        _, [(accepted,)] = cat.sql("SELECT count(*) FROM samples WHERE status = 'accepted'")
    assert rows == [(2,)] and accepted == 1
