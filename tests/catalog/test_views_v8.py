"""Schema v8's views: audio is bucketed by duration, and a filter that records only what it drops
has no drop rate (it showed 1.0, "1 of 1", at the top of `lumina catalog stats`)."""

from __future__ import annotations

import duckdb

from catalog import Catalog


def _catalog(tmp_path):
    path = tmp_path / "c.duckdb"
    with Catalog.open(path):
        pass
    con = duckdb.connect(str(path))
    rows = [  # key, modality, width, height, frames, duration, sample_rate
        ("i1", "image", 640, 480, None, None, None),
        ("v1", "video", 16, 16, 4, 2.0, None),
        ("s1", "speech", 80, 80, 1, 0.45, 22050),  # width/height: mel frames and bins
        ("s2", "speech", 300, 80, 1, 3.5, 22050),
    ]
    for key, modality, w, h, f, d, sr in rows:
        con.execute("INSERT INTO samples VALUES (?, ?, ?, '', ?, ?, ?, ?, ?, 'train', '{}', 'accepted', NULL, 'r', 'r')",
                    [key, modality, f"/src/{key}", w, h, f, d, sr])
    verdicts = [("i1", "sharpness", True), ("v1", "sharpness", False), ("s1", "exact_dedup", False)]
    for key, flt, passed in verdicts:
        con.execute("INSERT INTO verdicts VALUES (?, ?, '1', 1.0, 1.0, ?, 'r')", [key, flt, passed])
    con.close()
    return path


def test_audio_goes_in_duration_buckets_and_pictures_in_pixel_buckets(tmp_path):
    with Catalog.open(_catalog(tmp_path), read_only=True) as cat:
        _, rows = cat.sql("SELECT modality, bucket, samples FROM accepted_by_bucket ORDER BY modality, bucket")
    assert rows == [("image", "b: 256-511px", 1), ("speech", "a: <2s", 1), ("speech", "b: 2-5s", 1),
                    ("video", "a: <256px", 1)]


def test_a_filter_with_no_pass_recorded_has_no_drop_rate_and_says_why(tmp_path):
    with Catalog.open(_catalog(tmp_path), read_only=True) as cat:
        _, rows = cat.sql("SELECT filter, evaluated, dropped, drop_rate, note FROM filter_drop_rates ORDER BY filter")
        _, by_modality = cat.sql("SELECT filter, modality, drop_rate FROM filter_drop_rates_by_modality ORDER BY 1, 2")
        stats = cat.stats()["filters"]
    assert rows == [("exact_dedup", 1, 1, None, "no pass recorded: this filter may record only what it drops"),
                    ("sharpness", 2, 1, 0.5, None)]
    assert by_modality == [("exact_dedup", "speech", None), ("sharpness", "image", 0.0), ("sharpness", "video", 1.0)]
    assert [r[0] for r in stats[1]] == ["sharpness", "exact_dedup"] and stats[0][-1] == "note"
