"""`lumina catalog why` of a quarantined sample said what was wrong and where curation copied the input,
not how to get it in: nothing in the story, the README or `--help` said that a refresh of its source
curates the fixed file again (checked: a truncated PNG replaced and a missing caption written, then
lumina refresh: both accepted, the quarantined samples `superseded`). The story now says so, with the
source its run recorded."""

from __future__ import annotations

import json

from catalog.cli import main

from .helpers import key


def test_why_of_a_quarantined_sample_says_how_to_fix_it(catalog_copy, capsys):
    quarantined = key(0, 4)  # make_batch: the fifth sample of each batch is quarantined; run-base's source: 'synthetic'
    assert main(["why", quarantined, "--catalog", str(catalog_copy)]) == 0
    out = capsys.readouterr().out
    fix = (f"fix the input (the reason says what is wrong), then: lumina refresh synthetic --modality image "
           f"--home {catalog_copy.parent} (curates it again; this sample becomes superseded)")
    assert f"\n  do           {fix}\n" in out
    assert main(["why", quarantined, "--json", "--catalog", str(catalog_copy)]) == 0
    assert json.loads(capsys.readouterr().out)["quarantined_fix"] == fix
    assert main(["why", key(0, 0), "--catalog", str(catalog_copy)]) == 0  # accepted: nothing to fix
    assert "  do  " not in capsys.readouterr().out
