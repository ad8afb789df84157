"""Training a manifest version none of whose members is accepted now (a refresh retired them all) says
so. 'lumina refresh' of a source whose files of the live manifest 'alive' were all deleted notes that
alive@v1 still lists them; 'lumina train --manifest alive' then trained on the 4 removed samples without
a word. A version with some members still accepted trains as before, without the warning."""

from __future__ import annotations

import logging
import shutil

from catalog import Catalog
from tests.training.test_trainer import tiny_cfg
from training.trainer import train

SAID = "is accepted now (removed or superseded by a refresh"


def _catalog_with_retired(tiny_home, tmp_path) -> tuple[str, list[str]]:
    """A copy of tiny_home's catalog (session-wide: left as it is) with manifests 'gone' (4 members,
    all removed since) and 'half' (those 4 and 4 still accepted)."""
    catalog = str(tmp_path / "catalog.duckdb")
    shutil.copy(tiny_home.catalog, catalog)
    with Catalog.open(catalog) as cat:
        keys = [k for (k,) in cat.sql("SELECT key FROM samples WHERE status = 'accepted' AND split = 'train' "
                                      "ORDER BY key LIMIT 8")[1]]
        cat.create_manifest("gone", f"key IN {tuple(keys[:4])}")
        cat.create_manifest("half", f"key IN {tuple(keys)}")
        cat.sql("UPDATE samples SET status = 'removed', reason = 'removed: no longer in the source' "
                "WHERE list_contains(?, key)", [keys[:4]])
    return catalog, keys


def test_training_a_manifest_of_retired_members_says_so(tiny_home, tmp_path, caplog):
    catalog, _ = _catalog_with_retired(tiny_home, tmp_path)
    with caplog.at_level(logging.WARNING, logger="training.trainer"):
        train(tiny_cfg(tiny_home, tmp_path / "half", catalog=catalog, manifest="half", steps=1, batch_size=8))
        assert not [r for r in caplog.records if SAID in r.getMessage()]
        result = train(tiny_cfg(tiny_home, tmp_path / "gone", catalog=catalog, manifest="gone", steps=1, batch_size=4))
    assert result.steps == 1  # trained on them as frozen: a version is what an earlier run is reproduced from
    [said] = [r.getMessage() for r in caplog.records if SAID in r.getMessage()]
    assert said.startswith("manifest gone@v1: none of its 4 members is accepted now")
    from catalog.manifest import members_not_accepted

    assert (members_not_accepted(catalog, "gone", 1), members_not_accepted(catalog, "half", 1)) == (4, 4)
