"""The refresh command a quarantined sample's story prints (2afa5bd) named the source and the workspace
as they are: a source folder named with a space or a quote (`/tmp/it's "q" $HOME`, curated, one image
without a caption) printed 'lumina refresh /tmp/it's "q" $HOME --modality image --home ...', which a
shell splits, or reads as an unclosed quote. Each is now one shell word."""

from __future__ import annotations

import json
import shlex

from catalog import Catalog
from catalog.cli import main

from .helpers import key


def test_the_refresh_command_names_a_source_with_a_quote_as_one_word(catalog_copy, tmp_path, capsys):
    source, catalog = """/data/it's "q" $HOME""", tmp_path / "my home" / "catalog.duckdb"
    catalog.parent.mkdir()
    catalog_copy.rename(catalog)  # a workspace whose name holds a space
    quarantined = key(0, 4)  # make_batch: the fifth sample of each batch is quarantined
    with Catalog.open(catalog) as cat:
        cat.sql("UPDATE runs SET parameters = json_object('source', ?) WHERE run_id = "
                "(SELECT last_run FROM samples WHERE key = ?)", [source, quarantined])
    assert main(["why", quarantined, "--json", "--catalog", str(catalog)]) == 0
    fix = json.loads(capsys.readouterr().out)["quarantined_fix"]
    words = shlex.split(fix.split("then: ", 1)[1].split(" (curates", 1)[0])
    assert words == ["lumina", "refresh", source, "--modality", "image", "--home", str(catalog.resolve().parent)]
