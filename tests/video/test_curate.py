"""Video curation on the demo corpus at test scale: every planted input ends as expected, the
scene-cut source becomes two clips with their spans, and a second run adds no catalog rows."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from tests.video.planted import DEMO_OPTIONS, check_planted


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    from catalog import Catalog
    from preprocess.curate import CurateConfig, curate
    from preprocess.video.demo_corpus import write_demo_corpus

    root = tmp_path_factory.mktemp("video")
    corpus = write_demo_corpus(root / "source", num_clips=24)
    cfg = CurateConfig(modality="video", options=DEMO_OPTIONS)
    first = curate(corpus.root, root / "home", cfg, backend="local")
    catalog = str(root / "home" / "catalog.duckdb")
    with Catalog.open(catalog) as cat:
        run = cat.start_run("test", {})
        cat.register_batches(first.batch_paths, run)
        counts1 = {t: cat.sql(f"SELECT count(*) FROM {t}")[1][0][0] for t in ("samples", "verdicts", "shards")}
        second = curate(corpus.root, root / "home", cfg, backend="local")
        cat.register_batches(second.batch_paths, run)
        counts2 = {t: cat.sql(f"SELECT count(*) FROM {t}")[1][0][0] for t in ("samples", "verdicts", "shards")}
        rows = cat.sql("SELECT source_uri, status, reason, frames, width, height, duration, meta FROM samples")[1]
        verdicts = cat.sql("SELECT filter, score, threshold, passed FROM verdicts")[1]
    return corpus, first, counts1, counts2, rows, verdicts


def test_planted_inputs_end_with_expected_status_and_reason(curated):
    corpus, _, _, _, rows, _ = curated
    by_uri = defaultdict(list)
    for uri, status, reason, *_ in rows:
        by_uri[uri].append((status, reason))
    check_planted(by_uri, corpus.root, corpus.planted)
    # every regular clip accepted (no false scene cut, no false duplicate), every input accounted once
    clips = [r for r in rows if "/clips/" in r[0]]
    assert len(clips) == corpus.num_clips and {r[1] for r in clips} == {"accepted"}


def test_scene_cut_clips_record_source_and_span(curated):
    import json

    corpus, _, _, _, rows, _ = curated
    uri = str((corpus.root / corpus.planted["scene_cut"]).resolve())
    metas = sorted((json.loads(r[7]) if isinstance(r[7], str) else r[7] for r in rows if r[0] == uri), key=lambda m: m["clip_start"])
    assert [(m["clip_start"], m["clip_end"]) for m in metas] == [(0.0, 2.0), (2.0, 4.0)]
    assert [m["clip_index"] for m in metas] == [0, 1] and all(m["clips_in_source"] == 2 for m in metas)


def test_accepted_clips_are_normalised(curated):
    _, _, _, _, rows, _ = curated
    acc = [r for r in rows if r[1] == "accepted"]
    assert {(r[3], r[4], r[5]) for r in acc} == {(4, 16, 16)}  # 4 frames, 32x32 fitted to 16 tokens of 4x4 px


def test_sample_fps_is_the_real_spacing_of_the_picked_frames(curated):
    """meta sample_fps read 1.5 = (frames - 1) / duration (a README said frames / duration = 2.0)
    while the demo's 4 frames are source frames 0, 5, 10, 15 of an 8 fps clip: 1.6 fps, the rate a
    sample must be played at for the motion to keep its speed."""
    import json

    from preprocess.video.clips import sample_rate

    _, _, _, _, rows, _ = curated
    metas = [json.loads(r[7]) if isinstance(r[7], str) else r[7] for r in rows if r[1] == "accepted" and "/clips/" in r[0]]
    assert metas and {tuple(m["frame_indices"]) for m in metas} == {(0, 5, 10, 15)}
    assert all(abs(m["sample_fps"] - 1.6) < 0.01 for m in metas), {m["sample_fps"] for m in metas}  # GIF: times in ms
    assert sample_rate(np.array([0.0, 0.1, 0.25, 0.5]), np.array([0, 1, 3])) == 4.0  # variable rate: its own times
    assert sample_rate(np.arange(8) / 8, np.array([2])) == 0.0


def test_rerun_adds_no_rows(curated):
    _, first, counts1, counts2, _, _ = curated
    assert counts1 == counts2
    assert first.counts["accepted"] == 24 + 2


def test_decisions_are_verdicts_with_score_and_threshold(curated):
    _, _, _, _, _, verdicts = curated
    names = {v[0] for v in verdicts}
    assert {"min_duration", "motion", "jitter", "keyframe_dedup", "sharpness"} <= names
    failed = {v[0] for v in verdicts if not v[3]}
    assert {"motion", "jitter", "min_duration", "keyframe_dedup", "no_video_stream"} <= failed


def test_media_array_is_frames_in_unit_range(curated):
    from contracts.shards import iter_samples
    from preprocess.modality import get_plugin

    _, first, *_ = curated
    key, fields = next(iter(iter_samples(first.shard_uris[0])))
    x = get_plugin("video").media_array(fields)
    assert x.shape == (1, 4, 16, 16) and x.dtype == np.float32 and -1.0 <= x.min() < x.max() <= 1.0


def test_tar_and_listing_sources_give_the_same_samples(curated, tmp_path):
    """Keys come from content: the same clips through webdataset tars and a jsonl listing become
    the same samples as from the folder."""
    import json
    import tarfile

    from preprocess.curate import CurateConfig, curate

    corpus, first, *_ = curated
    from contracts.records import Batch

    folder_keys = {s.source_uri.rsplit("/", 1)[-1]: s.key for p in first.batch_paths for s in Batch.read(p).samples}
    names = sorted(p.name for p in (corpus.root / "clips").iterdir() if p.suffix != ".txt")[:3]
    with tarfile.open(tmp_path / "clips-000.tar", "w") as tar:
        for n in names:
            tar.add(corpus.root / "clips" / n, arcname=n)
            tar.add((corpus.root / "clips" / n).with_suffix(".txt"), arcname=n.rsplit(".", 1)[0] + ".txt")
    listing = tmp_path / "list.jsonl"
    listing.write_text("".join(json.dumps({"path": str(corpus.root / "clips" / n), "caption": (corpus.root / "clips" / n).with_suffix(".txt").read_text()}) + "\n" for n in names))
    cfg = CurateConfig(modality="video", options=DEMO_OPTIONS)
    for source in (str(tmp_path / "clips-*.tar"), str(listing)):
        r = curate(source, tmp_path / "home", cfg, backend="local")
        keys = {s.key for p in r.batch_paths for s in Batch.read(p).samples}
        assert keys == {folder_keys[n] for n in names}, source
