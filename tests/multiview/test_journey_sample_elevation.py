"""A user's own multi-view renders (2026-12-06 walkthrough) stand their cameras where they like;
`lumina sample` took the training data's median radius for its ring but the demo's 20 degrees of
elevation whatever the cameras were: renders from 40 degrees up were sampled from camera vectors
the model never saw. The elevation now follows the training data's median too (else 20), and
--elevation still wins."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

import evaluation.training_manifest as tm
from encoders.cameras import camera_vector, ring_azimuths
from evaluation.multiview.sample import MultiviewSampleOptions, prepare


def _catalog_says(monkeypatch, elevation, radius):
    def fake(ckpt, sql, catalog=None):
        return [(elevation,)] if "'elevations'" in sql else [(radius,)] if "'radii'" in sql else None
    monkeypatch.setattr(tm, "query_training_manifest", fake)


def test_the_rings_elevation_is_the_training_datas_median(monkeypatch, tmp_path):
    cfg = SimpleNamespace(frames=4, num=1, catalog=None)
    want = lambda el, r: np.stack([camera_vector(el, az, r) for az in ring_azimuths(4)])  # noqa: E731
    _catalog_says(monkeypatch, 40.0, 2.0)
    _, got = prepare(cfg, tmp_path, [3, 4, 16, 16], MultiviewSampleOptions())
    assert np.allclose(got["frame_cond"][0].numpy(), want(40.0, 2.0), atol=1e-6)
    _, got = prepare(cfg, tmp_path, [3, 4, 16, 16], MultiviewSampleOptions(elevation=10.0))  # the flag wins
    assert np.allclose(got["frame_cond"][0].numpy(), want(10.0, 2.0), atol=1e-6)
    _catalog_says(monkeypatch, 0.0, 2.0)  # a ring at the horizon is a median like any other
    _, got = prepare(cfg, tmp_path, [3, 4, 16, 16], MultiviewSampleOptions())
    assert np.allclose(got["frame_cond"][0].numpy(), want(0.0, 2.0), atol=1e-6)
    _catalog_says(monkeypatch, None, None)  # no catalog reachable: the demo's ring
    _, got = prepare(cfg, tmp_path, [3, 4, 16, 16], MultiviewSampleOptions())
    assert np.allclose(got["frame_cond"][0].numpy(), want(20.0, 1.0), atol=1e-6)
