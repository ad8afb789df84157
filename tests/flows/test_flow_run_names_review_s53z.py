"""A refresh run's name must be text Prefect can send: a worker's $LUMINA_REFRESH_SOURCE that is not
UTF-8 (Python holds its bytes as lone surrogates) named the run 'image-caf\\udce9', and Prefect's
PATCH of that name raised UnicodeEncodeError outside the naming function's fallback: the run failed
before it started. The source '/' was named 'no-source'."""

from __future__ import annotations

import json

import httpx

from flows.refresh import source_run_name


def test_a_source_path_that_is_not_utf8_names_the_run_with_escapes(monkeypatch):
    monkeypatch.setenv("LUMINA_REFRESH_SOURCE", "/data/caf\udce9")  # os.environ's form of b"/data/caf\xe9"
    name = source_run_name({"modality": "image"})
    assert name == "image-caf\\xe9"
    httpx.Request("PATCH", "http://127.0.0.1/api/flow_runs/1", json={"name": name})  # what set_flow_run_name sends


def test_the_root_folder_is_named_as_itself():
    assert source_run_name({"source": "/", "modality": "speech"}) == "speech-/"
    assert json.dumps(source_run_name({"source": "/data/shards/*.tar"})) == '"image-*.tar"'
