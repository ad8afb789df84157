"""Schema v10: filter drop rates per threshold. A filter run with two thresholds got one rate over
both, labelled with any_value(threshold)."""

from __future__ import annotations

import duckdb

from catalog import Catalog


def _catalog(tmp_path):
    path = tmp_path / "c.duckdb"
    with Catalog.open(path):
        pass
    con = duckdb.connect(str(path))
    for i in range(6):
        con.execute("INSERT INTO samples VALUES (?, 'image', ?, '', 64, 64, NULL, NULL, NULL, 'train', '{}', "
                    "'accepted', NULL, 'r', 'r')", [f"k{i}", f"/src/{i}"])
    # min_size at 24 passes all three; at 56 it drops two of three; exact_dedup records only drops
    verdicts = [("k0", "min_size", 64.0, 24.0, True), ("k1", "min_size", 64.0, 24.0, True),
                ("k2", "min_size", 64.0, 24.0, True), ("k3", "min_size", 40.0, 56.0, False),
                ("k4", "min_size", 40.0, 56.0, False), ("k5", "min_size", 64.0, 56.0, True),
                ("k5", "exact_dedup", 1.0, 1.0, False)]
    for key, flt, score, threshold, passed in verdicts:
        con.execute("INSERT INTO verdicts VALUES (?, ?, '1', ?, ?, ?, 'r')", [key, flt, score, threshold, passed])
    con.close()
    return path


def test_a_filter_run_with_two_thresholds_has_a_drop_rate_for_each(tmp_path):
    with Catalog.open(_catalog(tmp_path), read_only=True) as cat:
        _, rows = cat.sql("SELECT filter, threshold, evaluated, dropped, drop_rate, note FROM filter_drop_rates "
                          "ORDER BY filter, threshold")
        _, by_modality = cat.sql("SELECT filter, threshold, modality, evaluated, drop_rate "
                                 "FROM filter_drop_rates_by_modality ORDER BY filter, threshold")
        cols, stats = cat.stats()["filters"]
    assert rows == [("exact_dedup", 1.0, 1, 1, None, "no pass recorded: this filter may record only what it drops"),
                    ("min_size", 24.0, 3, 0, 0.0, None), ("min_size", 56.0, 3, 2, 0.6667, None)]
    assert by_modality == [("exact_dedup", 1.0, "image", 1, None), ("min_size", 24.0, "image", 3, 0.0),
                           ("min_size", 56.0, "image", 3, 0.6667)]
    assert cols[:3] == ["filter", "filter_version", "threshold"] and cols[-1] == "note"
    assert [(r[0], r[2]) for r in stats] == [("min_size", 56.0), ("min_size", 24.0), ("exact_dedup", 1.0)]
