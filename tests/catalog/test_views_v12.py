"""Schema v12: a filter that dropped every input it judged (a curation whose threshold rejects
everything: `lumina curate SRC --set options.min_side=100000`) had drop_rate NULL and the note meant
for filters that record only what they drop; those (exact_dedup) keep NULL and the note."""

from __future__ import annotations

import duckdb

from catalog import Catalog

NOTE = "no pass recorded: this filter may record only what it drops"


def _catalog(tmp_path, samples, verdicts):
    """samples: (key, modality, status, run); verdicts: (key, filter, passed, run)."""
    path = tmp_path / "c.duckdb"
    with Catalog.open(path):
        pass
    con = duckdb.connect(str(path))
    for key, modality, status, run in samples:
        con.execute("INSERT INTO samples VALUES (?, ?, ?, '', 32, 32, NULL, NULL, NULL, 'train', '{}', ?, ?, ?, ?)",
                    [key, modality, f"/src/{key}", status, None if status == "accepted" else "x: y", run, run])
    for key, flt, passed, run in verdicts:
        con.execute("INSERT INTO verdicts VALUES (?, ?, '1', 1.0, 2.0, ?, ?)", [key, flt, passed, run])
    con.close()
    with Catalog.open(path, read_only=True) as cat:
        _, rates = cat.sql("SELECT filter, evaluated, dropped, drop_rate, note FROM filter_drop_rates ORDER BY filter")
        _, by_modality = cat.sql("SELECT filter, modality, drop_rate FROM filter_drop_rates_by_modality ORDER BY filter")
    return rates, by_modality


def test_a_filter_that_dropped_every_input_it_judged_has_drop_rate_one(tmp_path):
    # one curation, every image too small; exact_dedup judged one of the three
    samples = [(f"k{i}", "image", "rejected", "r") for i in range(3)]
    verdicts = [(f"k{i}", f, f == "aspect_ratio", "r") for i in range(3) for f in ("min_size", "aspect_ratio")]
    rates, by_modality = _catalog(tmp_path, samples, verdicts + [("k2", "exact_dedup", False, "r")])
    assert rates == [("aspect_ratio", 3, 0, 0.0, None), ("exact_dedup", 1, 1, None, NOTE), ("min_size", 3, 3, 1.0, None)]
    assert by_modality == [("aspect_ratio", "image", 0.0), ("exact_dedup", "image", None), ("min_size", "image", 1.0)]


def test_a_filter_that_records_only_drops_keeps_no_rate_when_a_run_held_only_its_drops(tmp_path):
    # a refresh whose one new input was an exact duplicate: exact_dedup judged 1 of 1 in that run, but
    # the images accepted before have no exact_dedup verdict. A speech filter that failed every take
    # it judged is not answered for by the accepted images.
    samples = [("a0", "image", "accepted", "r1"), ("a1", "image", "accepted", "r1"), ("d", "image", "rejected", "r2"),
               ("s0", "speech", "rejected", "r3"), ("s1", "speech", "rejected", "r3")]
    verdicts = [(k, "min_size", True, run) for k, run in (("a0", "r1"), ("a1", "r1"), ("d", "r2"))]
    verdicts += [("d", "exact_dedup", False, "r2"), ("s0", "snr", False, "r3"), ("s1", "snr", False, "r3")]
    rates, _ = _catalog(tmp_path, samples, verdicts)
    assert rates == [("exact_dedup", 1, 1, None, NOTE), ("min_size", 3, 0, 0.0, None), ("snr", 2, 2, 1.0, None)]
