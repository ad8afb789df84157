"""lumina evaluate reads the held-out manifest before it loads the checkpoint."""

import pytest

import evaluation.evaluate as ev
from catalog import Catalog
from catalog.errors import CatalogError


def test_a_missing_manifest_fails_before_the_model_loads(tmp_path, monkeypatch):
    with Catalog.open(tmp_path / "catalog.duckdb"):
        pass
    loaded = []
    monkeypatch.setattr(ev, "load_checkpoint", lambda path: loaded.append(path))
    with pytest.raises(CatalogError, match="nope"):
        ev.evaluate(ev.EvalConfig(catalog=str(tmp_path / "catalog.duckdb"), manifest="nope", checkpoint=str(tmp_path)))
    assert loaded == []
