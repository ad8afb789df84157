"""`lumina sample` of a multi-view checkpoint wrote a strip and a GIF and said nothing of where each
view's camera stood: a user's own renders (2026-12-07 walkthrough, 20 degrees up at radius 2) could
not tell whether the ring followed their cameras or the demo's 20 degrees at 1.0. It now says, on
stderr beside the paths (as video says its fps), each view's azimuth left to right, the elevation
and the radius, and where each came from."""

from __future__ import annotations

from types import SimpleNamespace

import evaluation.training_manifest as tm
from evaluation.multiview.sample import MultiviewSampleOptions, prepare


def _catalog_says(monkeypatch, elevation, radius):
    def fake(ckpt, sql, catalog=None):
        return [(elevation,)] if "'elevations'" in sql else [(radius,)] if "'radii'" in sql else None
    monkeypatch.setattr(tm, "query_training_manifest", fake)


def test_the_ring_is_said_with_where_its_figures_came_from(monkeypatch, capsys, tmp_path):
    cfg = SimpleNamespace(frames=4, num=1, catalog=None)
    _catalog_says(monkeypatch, 30.0, 2.0)
    prepare(cfg, tmp_path, [3, 4, 16, 16], MultiviewSampleOptions())
    said = capsys.readouterr().err
    assert ("4 views, left to right at azimuth 45, 135, 225, 315 degrees; elevation 30 degrees (the training data's "
            "median); radius 2 (the training data's median)") in said
    prepare(cfg, tmp_path, [3, 4, 16, 16], MultiviewSampleOptions(elevation=10.0, radius=1.5))
    assert "elevation 10 degrees (as asked); radius 1.5 (as asked)" in capsys.readouterr().err
    _catalog_says(monkeypatch, None, None)
    prepare(SimpleNamespace(frames=3, num=1, catalog=None), tmp_path, [3, 4, 16, 16], MultiviewSampleOptions())
    assert ("3 views, left to right at azimuth 60, 180, 300 degrees; elevation 20 degrees (the default: no training "
            "cameras found); radius 1 (the default: no training cameras found)") in capsys.readouterr().err
