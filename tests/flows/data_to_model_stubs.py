"""data_to_model's body run outside Prefect with its stages stubbed, up to the manifests: what it asks
make_manifests for (tests of its manifest names and selection)."""

from __future__ import annotations

import logging

import pytest


class StopAtManifests(Exception):
    pass


def manifests_asked(monkeypatch, home: str, **params) -> dict:
    """{prefix, source} the flow gives make_manifests; curate, encode and the corpus are stubbed."""
    from flows import data_to_model as d2m

    asked = {}
    monkeypatch.setattr(d2m, "get_run_logger", lambda: logging.getLogger("test"))
    monkeypatch.setattr(d2m, "curate", lambda *a: {"shard_uris": [], "run_id": None, "counts": {}, "registered": 0})
    monkeypatch.setattr(d2m, "encode", lambda *a: {"shard_uris": [], "run_id": None, "registered": 0})
    monkeypatch.setattr(d2m, "write_corpus", lambda *a: f"{home}/source/image/corpus")
    monkeypatch.setattr(d2m, "_sampling_defaults", dict)  # evaluation.evaluate imports torch

    def manifests(home, modality, prefix, source=None):
        asked.update(prefix=prefix, source=source)
        raise StopAtManifests  # stands for the rest of the run: nothing past the manifests is under test
    monkeypatch.setattr(d2m, "make_manifests", manifests)
    with pytest.raises(StopAtManifests):
        d2m.data_to_model.fn(home=home, backend="local", **params)
    return asked
