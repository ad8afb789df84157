"""Multi-view curation on a small rendered corpus: every planted bad input ends with its status and
reason, good objects are accepted with views in canonical order, and a rerun gives the same rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from contracts.records import Batch
from contracts.shards import iter_samples
from preprocess.curate import CurateConfig, curate
from preprocess.modality import get_plugin
from preprocess.multiview.plugin import VIEWS, ring_start
from preprocess.multiview.views import split_strip
from tests.multiview.expected import EXPECTED


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    from preprocess.multiview.demo_corpus import write_multiview_corpus

    root = tmp_path_factory.mktemp("mv")
    corpus = write_multiview_corpus(root / "source", num_objects=12)
    cfg = CurateConfig(modality="multiview", shard_size=64)
    first = curate(corpus.root, root / "home", cfg, backend="local")
    second = curate(corpus.root, root / "home2", cfg, backend="local")
    return corpus, first, second


def _samples(result):
    return [s for p in result.batch_paths for s in Batch.read(p).samples]


def test_planted_inputs_end_with_expected_status_and_reason(curated):
    corpus, first, _ = curated
    assert set(corpus.planted) == set(EXPECTED)
    by_uri = {s.source_uri: s for s in _samples(first)}
    for kind, rel in corpus.planted.items():
        rec = by_uri[str((corpus.root / rel).resolve())]
        status, reason_kind = EXPECTED[kind]
        assert (rec.status, rec.reason.split(":")[0]) == (status, reason_kind), (kind, rec.reason)
    good = [s for s in _samples(first) if "/objects/" in s.source_uri]
    assert len(good) == 12 and all(s.status == "accepted" for s in good)
    assert len(by_uri) == 12 + len(EXPECTED)  # every input accounted, once


def test_rerun_gives_identical_rows(curated):
    _, first, second = curated
    rows = lambda r: sorted((s.key, s.status, s.reason, json.dumps(s.meta, sort_keys=True)) for s in _samples(r))
    assert rows(first) == rows(second)


def test_curated_views_are_ordered_with_their_cameras(curated):
    """Curated: canonical order on a ring 90 degrees apart. Encoder input: the same ring started at
    a hashed view, each view still beside its own camera, and not every set starting alike."""
    _, first, _ = curated
    plugin = get_plugin("multiview")
    starts = []
    for uri in first.shard_uris:
        for key, fields in iter_samples(uri):
            x, cond = plugin.media_array(fields), plugin.frame_cond(fields)
            assert x.shape == (3, 4, 32, 32) and x.min() >= -1 and x.max() <= 1
            az = [v["azimuth"] for v in plugin.cameras_of(fields)]
            assert az == sorted(az) and cond.shape == (4, 8)
            assert np.allclose(np.diff(az), 90.0, atol=1e-2)
            start = ring_start(fields)
            starts.append(start)
            assert np.allclose(np.degrees(np.arctan2(cond[:, 0], cond[:, 1])) % 360, np.roll(az, -start), atol=1e-3)
            canonical = split_strip(fields[VIEWS], 4).astype(np.float32) / 127.5 - 1.0  # [V, H, W, 3]
            assert np.allclose(x.transpose(1, 2, 3, 0), np.roll(canonical, -start, axis=0))
    assert len(starts) == 12 and len(set(starts)) > 1


def test_an_exact_duplicate_object_keeps_its_own_view_size(curated, tmp_path):
    """Rejected after its views were sized for the shard: the row said 32 x 32 for 64 px renders
    (only the image plugin gave a rejected row its source's size back)."""
    import shutil

    corpus, _, _ = curated
    obj = sorted(p for p in (corpus.root / "objects").iterdir() if p.is_dir())[0]
    for name in ("a", "b"):
        shutil.copytree(obj, tmp_path / "src" / name)
    result = curate(tmp_path / "src", tmp_path / "home", CurateConfig(modality="multiview", options={"size": 16}), backend="local")
    rows = {s.source_uri.rsplit("/", 1)[-1]: s for s in _samples(result)}
    assert rows["a"].status == "accepted" and rows["b"].reason.startswith("exact_duplicate")
    assert [rows["b"].width, rows["b"].height] == rows["b"].meta["original_size"] != [16, 16]
    assert [rows["a"].width, rows["a"].height] == [16, 16]
