"""`lumina catalog manifest show` said what a manifest holds, nothing of what was made of it: which
checkpoint trained on demo-train@v1 and with what result took a hand-written join. It now names the
checkpoints trained (or evaluated) on the version shown and the query for their figures; --json has
them as trained_checkpoints and evaluated_checkpoints."""

from __future__ import annotations

import json

from catalog import Catalog
from catalog.cli import main


def test_manifest_show_names_the_checkpoints_trained_on_it(base_catalog, capsys):
    with Catalog.open(base_catalog, read_only=True) as cat:
        ckpt = cat.sql("SELECT checkpoint_id FROM checkpoints")[1][0][0]
    assert main(["manifest", "show", "images", "--members", "0", "--catalog", str(base_catalog)]) == 0
    out = capsys.readouterr().out
    assert f"\n  trained     1 checkpoint on it: {ckpt} (step 10)\n" in out
    query = ("SELECT checkpoint_id, checkpoint_step, name, split, value FROM latest_metrics WHERE manifest = 'images' "
             "AND manifest_version = 1 ORDER BY checkpoint_id, name")
    assert f'\n  figures     lumina catalog sql "{query}"\n' in out
    assert main(["sql", query, "--csv", "--catalog", str(base_catalog)]) == 0  # the figures it points to
    assert f"{ckpt},10,fid,holdout,12.0" in capsys.readouterr().out
    assert main(["manifest", "show", "images", "--json", "--catalog", str(base_catalog)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["trained_checkpoints"] == [{"checkpoint_id": ckpt, "step": 10}] and shown["evaluated_checkpoints"] == []
