"""`manifest show` said how many shards a manifest reads ("latent: FP  (3 shards)") but not which:
a data lead asking which shards a manifest has needed a query of manifest_encodings (session 52)."""

from __future__ import annotations

import json
from collections import Counter

from catalog import load_manifest
from catalog.cli import main


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _expected(path):
    m = load_manifest(path, "images")
    return {kind: Counter(x.encodings[kind][0] for x in m.members) for kind in m.encoders}


def test_manifest_show_shards_lists_each_shard_with_its_members(base_catalog, capsys):
    expected = _expected(base_catalog)
    rc, out, err = run(capsys, "manifest", "show", "images", "--shards", "--members", "0", "--max-width", "0",
                       "--catalog", str(base_catalog))
    assert rc == 0, err
    lines = out.splitlines()
    table = lines[lines.index(next(ln for ln in lines if ln.startswith("kind "))) + 2:]
    listed = [ln.split()[:3] for ln in table if not ln.startswith("(")]
    assert sorted(listed) == sorted([k, uri, str(n)] for k, c in expected.items() for uri, n in c.items())


def test_manifest_show_json_has_every_shard(base_catalog, capsys):
    expected = _expected(base_catalog)
    rc, out, _ = run(capsys, "manifest", "show", "images", "--json", "--catalog", str(base_catalog))
    shards = json.loads(out)["shards"]
    assert rc == 0 and {(s["kind"], s["shard_uri"], s["members"]) for s in shards} == {
        (k, uri, n) for k, c in expected.items() for uri, n in c.items()}
    assert all(isinstance(s["bytes"], int) for s in shards)
