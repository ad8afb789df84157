"""`lumina demo --source list.csv` on a listing whose caption column is `text`: the source's error said
"set --caption-column", a flag only `lumina curate` had; data_to_model took no such setting and its
curate stage read every source with CurateConfig's defaults. Now data_to_model's source_options (the
CurateConfig fields that say how a source is read) reach the curate stage's CurateConfig and its
cache key, are recorded in the run's parameters, and a refresh of the source reuses them (helper E's
finding)."""

from __future__ import annotations

import logging
import sys
import types

import pytest

from catalog import Catalog
from contracts.layout import Workspace

READ_AS = {"caption_column": "text", "path_column": "file"}


def _listing(tmp_path):
    """A two-row CSV listing of columns file,text (no `path`, no `caption`) and its two PNGs."""
    from PIL import Image
    import numpy as np

    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    listing = tmp_path / "list.csv"
    listing.write_text("file,text\n0.png,a red square\n1.png,a blue circle\n")
    return listing


def test_the_curate_stage_reads_the_source_with_the_source_options(monkeypatch):
    from flows.data_to_model import curate

    fake = types.ModuleType("flows.steps")  # flows.steps imports torch: the stage's own body is not under test
    fake.curate_step = lambda source, home, cfg, backend, run_id: cfg
    monkeypatch.setitem(sys.modules, "flows.steps", fake)
    cfg = curate.fn("/data/list.csv", "/home", "image", {"vae_factor": 1}, "run", "local", READ_AS)
    assert (cfg.caption_column, cfg.path_column, cfg.options) == ("text", "file", {"vae_factor": 1})
    cfg = curate.fn("/data/photos", "/home", "image", {}, "run", "local")  # no source_options: CurateConfig's defaults
    assert (cfg.caption_column, cfg.path_column) == ("caption", "path")


def test_the_curate_cache_key_reads_the_listing_as_the_stage_does(tmp_path):
    """With the default columns the listing could not be read (no key, no caching), and another
    caption column would have kept the key of the curation made with the first."""
    from flows.refresh import curate_cache_key

    params = {"source": str(_listing(tmp_path)), "modality": "image", "options": {}, "home": str(tmp_path / "home")}
    assert curate_cache_key(None, params) is None  # unreadable with the default path column
    key = curate_cache_key(None, {**params, "source_options": READ_AS})
    assert key is not None
    assert curate_cache_key(None, {**params, "source_options": {**READ_AS, "caption_column": "file"}}) not in (None, key)


class _Stop(Exception):
    pass


@pytest.fixture
def flow_until_curate(monkeypatch):
    """data_to_model's body, run outside Prefect up to its first stage: what that stage was given."""
    import flows.data_to_model as d2m

    seen = {}

    def stop(*args):
        seen["args"] = args
        raise _Stop

    monkeypatch.setattr(d2m, "get_run_logger", lambda: logging.getLogger("test"))
    monkeypatch.setattr(d2m, "curate", stop)
    monkeypatch.setattr(d2m, "write_corpus", stop)
    return seen


def _run_parameters(home) -> dict:
    with Catalog.open(Workspace.at(home).catalog, read_only=True) as cat:
        rows = cat.sql("SELECT CAST(parameters AS VARCHAR) FROM runs WHERE flow_name = 'data_to_model'")[1]
    import json

    assert len(rows) == 1
    return json.loads(rows[0][0])


def test_the_flow_gives_the_source_options_to_its_curate_stage_and_records_them(tmp_path, flow_until_curate):
    from flows.data_to_model import data_to_model

    listing, home = _listing(tmp_path), tmp_path / "home"
    with pytest.raises(_Stop):
        data_to_model.fn(source=str(listing), home=str(home), source_options=READ_AS, backend="local")
    assert flow_until_curate["args"][-1] == READ_AS
    assert _run_parameters(home)["source_options"] == READ_AS


def test_the_demo_corpus_run_records_no_source_options(tmp_path, flow_until_curate):
    from flows.data_to_model import data_to_model

    with pytest.raises(_Stop):
        data_to_model.fn(home=str(tmp_path / "home"), backend="local")
    assert flow_until_curate["args"][0] == "image"  # write_corpus, as before
    assert "source_options" not in _run_parameters(tmp_path / "home")


def test_a_refresh_after_such_a_demo_reads_the_source_as_the_demo_did(tmp_path):
    from catalog.source_index import last_curation_of_source
    from flows.refresh import reuse_curation

    listing, home = _listing(tmp_path), tmp_path / "home"
    home.mkdir()
    with Catalog.open(Workspace.at(home).catalog) as cat:
        run = cat.start_run("data_to_model", {"modality": "image", "source": str(listing), "curate_options": {"vae_factor": 1},
                                              "source_options": {**READ_AS, "media_column": None}})
        cat.finish_run(run)
        last = last_curation_of_source(cat, str(listing), "image")
        assert (last["caption_column"], last["path_column"], last["options"]) == ("text", "file", {"vae_factor": 1})
        other = str(tmp_path / "other.csv")
        run = cat.start_run("data_to_model", {"modality": "image", "source": other, "curate_options": {}, "source_options": None})
        cat.finish_run(run)
        last = last_curation_of_source(cat, other, "image")  # a null source_options merges nothing (it nulled the whole row)
        assert last is not None and last["source"] == other and "caption_column" not in last
    cfg, reused = reuse_curation(home, str(listing), "image", {})
    assert (cfg.caption_column, cfg.path_column, cfg.options) == ("text", "file", {"vae_factor": 1})
    assert {"caption_column", "path_column"} <= set(reused)
