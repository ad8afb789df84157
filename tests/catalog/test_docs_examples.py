"""The catalog README's examples and the benchmark's catalog: what they say holds on real data.

- the meta histogram example asked for `meta->>'label'`, a field no curation writes (NULL for every
  sample of a demo catalog);
- the views table called latest_metrics' `step` the checkpoint's step (it is `checkpoint_step`;
  `step` is the metric's);
- bench/bench_catalog.py's catalog failed `lumina catalog check` (encodings_in_known_shards): its
  encodings named encoded shards it never registered.
"""

from __future__ import annotations

import importlib.util
import re

import numpy as np

from catalog import Catalog
from catalog.cli import EXAMPLE_QUERIES, main

from .helpers import REPO

README = (REPO / "catalog" / "README.md").read_text()


def _bench():
    spec = importlib.util.spec_from_file_location("bench_catalog", REPO / "bench" / "bench_catalog.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_query_is_the_readmes():
    flat = " ".join(README.split())
    assert all(" ".join(query.split()) in flat for _, query in EXAMPLE_QUERIES)


def test_the_meta_example_asks_for_a_field_curation_writes():
    query = next(q for title, q in EXAMPLE_QUERIES if "meta" in title)
    field = re.search(r"meta->>'(\w+)'", query).group(1)
    writers = [p for pkg in ("preprocess",) for p in (REPO / pkg).rglob("plugin.py") if f'"{field}"' in p.read_text()]
    assert writers, f"no curation plugin writes meta.{field}"


def test_latest_metrics_columns_are_the_ones_the_readme_names(tmp_path):
    path = tmp_path / "c.duckdb"
    with Catalog.open(path) as cat:
        cols, _ = cat.sql("SELECT * FROM latest_metrics LIMIT 0")
    row = next(ln for ln in README.splitlines() if ln.startswith("| `latest_metrics` |"))
    named = set(re.findall(r"`(\w+)`", row))
    assert set(cols) <= named and "checkpoint_step" in cols
    assert "`checkpoint_step` (the training step it was saved at)" in row


def test_the_bench_catalog_passes_check_and_its_meta_example_has_values(tmp_path, capsys):
    bench = _bench()
    path = tmp_path / "catalog.duckdb"
    rng = np.random.default_rng(0)
    with Catalog.open(path) as cat:
        run = cat.start_run("bench", {})
        cat.register_batches([b for s in (0, 500) for b in bench.synth_batch(rng, s, 500, str(tmp_path))], run)
        cat.finish_run(run)
        assert not any(cat.check().values()), cat.check()
        query = next(q for title, q in EXAMPLE_QUERIES if "meta" in title)
        _, rows = cat.sql(query)
    assert rows and all(folder is not None for folder, _ in rows)
    assert main(["check", "--catalog", str(path)]) == 0
