"""A frozen manifest under a live manifest's name: refused unless it is the live selection.

`lumina catalog manifest create mine-train --where "... AND caption LIKE '%seven%'"` on the live
`mine-train` made v9 with 49 members; the next refresh, with nothing new, made v10 with 526 again,
so the versions of one name alternated between two selections and training took whichever came last.
"""

from __future__ import annotations

import pytest

from catalog import Catalog
from catalog.cli import main
from catalog.db import LiveManifestError
from catalog.source_index import LiveManifest, declare_live_manifest, update_live_manifests

from .helpers import TEXT, VAE_A, VAE_B, make_batch

LIVE_WHERE = "modality = 'image' AND split = 'train'"
SUBSET = "modality = 'image' AND split = 'train' AND meta->>'label' = '1'"


@pytest.fixture
def live_catalog(catalog_copy) -> Catalog:
    cat = Catalog.open(catalog_copy)
    declare_live_manifest(cat, LiveManifest("live-train", LIVE_WHERE))
    update_live_manifests(cat)
    return cat


def test_another_selection_under_a_live_name_is_refused_and_the_refresh_stays_put(live_catalog):
    before = live_catalog.manifest_header("live-train")
    with pytest.raises(LiveManifestError) as e:
        live_catalog.freeze_manifest("live-train", SUBSET)
    msg = str(e.value)
    assert "'live-train' is live with the selection" in msg and LIVE_WHERE in msg
    assert "choose another name" in msg and "--live live-train=WHERE" in msg
    assert live_catalog.manifest_header("live-train") == before  # no version was made
    assert update_live_manifests(live_catalog) == []  # so the refresh has nothing to flip back


def test_the_cli_refuses_in_one_line_with_exit_2(live_catalog, capsys):
    rc = main(["manifest", "create", "live-train", "--where", SUBSET, "--catalog", str(live_catalog.path)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and err.startswith("lumina catalog: error: manifest 'live-train' is live")


def test_the_live_selection_itself_spelt_otherwise_is_the_latest_version(live_catalog):
    """Compared as DuckDB parses it (spacing, keyword case); reordered terms count as another selection."""
    before = live_catalog.manifest_header("live-train")
    same = live_catalog.freeze_manifest("live-train", "modality='image'  and (split = 'train')")
    assert (same.version, same.num_members, same.created_at) == (before.version, before.num_members, before.created_at)


def test_a_name_that_is_not_live_takes_another_selection_as_a_new_version(live_catalog):
    v1 = live_catalog.freeze_manifest("frozen", LIVE_WHERE)
    v2 = live_catalog.freeze_manifest("frozen", SUBSET)
    assert (v1.version, v2.version) == (1, 2) and v2.num_members < v1.num_members


def test_a_pinned_live_name_freezes_with_its_pin_and_refuses_another(catalog_copy):
    cat = Catalog.open(catalog_copy)
    declare_live_manifest(cat, LiveManifest("pinned", "modality = 'image'", encoders=[VAE_A, TEXT]))
    cat.register_batches([make_batch(5, vae=VAE_B)], "run-base")  # the selection now mixes two VAEs
    [update] = update_live_manifests(cat)  # the refresh freezes the pinned VAE's samples
    same = cat.freeze_manifest("pinned", "modality = 'image'")  # no --encoder: the live pin, not a mixed-encoder error
    assert (same.version, same.encoders["latent"]) == (update.version, VAE_A)
    with pytest.raises(LiveManifestError, match="pinned to .*--live-encoder FINGERPRINT"):
        cat.freeze_manifest("pinned", "modality = 'image'", encoders=[VAE_B, TEXT])
    assert cat.manifest_header("pinned").version == update.version


def test_declaring_live_a_name_frozen_with_another_selection_says_so(catalog_copy, caplog):
    """The reverse: `lumina refresh --live mine=WHERE` on a name `manifest create` had frozen with
    another selection took it over, and its next version switched data without a word."""
    import logging

    cat = Catalog.open(catalog_copy)
    cat.freeze_manifest("mine", SUBSET)
    cat.freeze_manifest("same", LIVE_WHERE)
    with caplog.at_level(logging.WARNING, logger="catalog.source_index"):
        declare_live_manifest(cat, LiveManifest("same", "modality = 'image'  AND  split = 'train'"))  # the same, spaced
        assert caplog.text == ""
        declare_live_manifest(cat, LiveManifest("mine", LIVE_WHERE))
        declare_live_manifest(cat, LiveManifest("new-name", LIVE_WHERE))
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and warnings[0].startswith("manifest mine (latest mine@v1) was frozen with the selection")
    assert "its next version follows" in warnings[0] and "another name" in warnings[0]
