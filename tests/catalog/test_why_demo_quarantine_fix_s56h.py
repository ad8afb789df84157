"""`lumina catalog why` of a quarantined sample of a demo run (lumina demo without --source) said
"then: lumina refresh SOURCE --modality ..." with SOURCE left as a placeholder: the demo's run records
no source (flows/data_to_model.py curates the corpus it generates in <home>/source/<modality>). No
command that cannot be pasted: the story says what the input is, or what to refresh without naming it."""

from __future__ import annotations

import json

from catalog import Catalog
from catalog.cli import main

from .helpers import key


def _fix_of(catalog, sample_key: str, capsys) -> str:
    assert main(["why", sample_key, "--json", "--catalog", str(catalog)]) == 0
    return json.loads(capsys.readouterr().out)["quarantined_fix"]


def _without_source(catalog, sample_key: str, uri: str | None = None) -> None:
    with Catalog.open(catalog) as cat:
        cat.sql("UPDATE runs SET parameters = json_object('modality', 'image') WHERE run_id = "
                "(SELECT last_run FROM samples WHERE key = ?)", [sample_key])
        if uri:
            cat.sql("UPDATE samples SET source_uri = ? WHERE key = ?", [uri, sample_key])


def test_a_demo_corpus_input_gets_no_refresh_with_a_placeholder(catalog_copy, capsys):
    quarantined = key(0, 4)  # make_batch: the fifth sample of each batch is quarantined
    corpus = catalog_copy.resolve().parent / "source" / "image"
    _without_source(catalog_copy, quarantined, f"{corpus}/planted/truncated.png")
    fix = _fix_of(catalog_copy, quarantined, capsys)
    assert "SOURCE" not in fix and "lumina refresh" not in fix
    assert fix.startswith(f"nothing to fix: an input of a demo's generated corpus ({corpus})")
    assert main(["why", quarantined, "--catalog", str(catalog_copy)]) == 0
    assert f"\n  do           {fix}\n" in capsys.readouterr().out


def test_a_sourceless_run_elsewhere_names_no_placeholder_command(catalog_copy, capsys):
    quarantined = key(0, 4)
    _without_source(catalog_copy, quarantined)  # its source_uri stays outside the workspace
    fix = _fix_of(catalog_copy, quarantined, capsys)
    assert "SOURCE" not in fix and "lumina refresh" not in fix
    assert fix.startswith("fix the input (the reason says what is wrong), then refresh the folder it came from "
                          f"with --modality image --home {catalog_copy.resolve().parent}")
