"""Manifests: frozen, versioned selections; one encoder per kind; the training-side loader."""

from __future__ import annotations

import pytest

from catalog import Catalog, ManifestNotFoundError, load_manifest

from .helpers import TEXT, VAE_A, VAE_B, dump, key, make_batch


def test_manifest_members_and_encodings(base_catalog):
    m = load_manifest(base_catalog, "images")
    assert (m.name, m.version, m.id) == ("images", 1, "images@v1")
    assert m.where == "modality = 'image' AND split = 'train'"
    assert m.encoders == {"latent": VAE_A, "text": TEXT}
    assert len(m) == 12 and m.num_excluded == 0
    assert [x.key for x in m.members] == sorted(x.key for x in m.members)
    first = m.members[0]
    assert first.key == key(0, 0) and first.split == "train" and first.meta == {"label": 0, "batch": 0}
    assert first.encodings == {"latent": ("/shards/b0000.tar", f"{key(0, 0)}.latent.npy"),
                               "text": ("/shards/b0000.tar", f"{key(0, 0)}.text.npy")}
    assert m.shard_uris("latent") == ["/shards/b0000.tar", "/shards/b0001.tar", "/shards/b0002.tar"]


def test_name_at_version_reads_that_version_not_the_latest(catalog_copy):
    """v1 and v2 of one name select different members; `@v1` and version=1 must read v1's."""
    with Catalog.open(catalog_copy) as cat:
        v2 = cat.create_manifest("images", "modality = 'image' AND split = 'train' AND meta->>'label' = '1'")
    v1_keys = [x.key for x in load_manifest(catalog_copy, "images@v1").members]
    v2_keys = [x.key for x in v2.members]
    assert v2.version == 2 and load_manifest(catalog_copy, "images").version == 2
    assert len(v1_keys) == 12 and len(v2_keys) == 3 and set(v2_keys) < set(v1_keys)
    assert v1_keys == [x.key for x in load_manifest(catalog_copy, "images", version=1).members]
    assert {x.meta["label"] for x in load_manifest(catalog_copy, "images@v1").members} == {0, 1, 2}
    assert [x.key for x in load_manifest(catalog_copy, "images@v2").members] == v2_keys


def test_manifest_is_frozen_while_the_catalog_grows(catalog_copy):
    cat = Catalog.open(catalog_copy)
    v1 = cat.manifest("images")
    cat.register_batches([make_batch(5), make_batch(6)], "run-base")
    # a sample of v1 is rejected later: v1 still lists it, as it was when frozen
    from catalog import Batch, SampleRecord

    cat.register_batches([Batch(samples=[SampleRecord(key(0, 0), "image", "/raw/0/0.png", "rejected",
                                                      reason="manual: takedown", caption="new caption")])], "run-base")
    assert cat.manifest("images", 1) == v1
    again = cat.create_manifest("images", v1.where)
    assert again.version == 2 and len(again) == len(v1) - 1 + 8
    assert key(0, 0) not in {x.key for x in again.members}
    same = cat.create_manifest("images", "split = 'train' AND modality = 'image'")  # same selection, other words
    assert same.version == 2 and same.created_at == again.created_at
    assert cat.manifest("images").version == 2
    cols, rows = cat.list_manifests()
    assert [(r[0], r[1], r[2]) for r in rows] == [("images", 1, 12), ("images", 2, 19)]


def test_freeze_manifest_versions_as_create_manifest_does_without_loading_members(catalog_copy, monkeypatch):
    """`lumina manifest create` and the refresh built every member as a Python object just to count them."""
    cat = Catalog.open(catalog_copy)
    monkeypatch.setattr(Catalog, "_read_manifest", lambda *a: pytest.fail("members loaded"))
    same = cat.freeze_manifest("images", "modality = 'image' AND split = 'train'")
    assert (same.id, same.num_members, same.num_excluded) == ("images@v1", 12, 0)
    cat.register_batches([make_batch(5)], "run-base")
    grown = cat.freeze_manifest("images", "modality = 'image' AND split = 'train'", description="grown")
    assert (grown.id, grown.num_members, grown.description) == ("images@v2", 16, "grown")
    assert grown == cat.manifest_header("images")
    monkeypatch.undo()
    assert len(cat.manifest("images@v2").members) == 16


def test_mixed_encoders_are_refused_unless_one_is_picked(catalog_copy):
    cat = Catalog.open(catalog_copy)
    cat.register_batches([make_batch(5, vae=VAE_B)], "run-base")  # latents from another VAE
    before = dump(catalog_copy)
    with pytest.raises(ValueError) as err:
        cat.create_manifest("mixed", "modality = 'image'")
    msg = str(err.value)
    assert "mix encoders" in msg and VAE_A in msg and VAE_B in msg and "encoders=" in msg
    assert dump(catalog_copy) == before
    m = cat.create_manifest("sdxl-only", "modality = 'image'", encoders=[VAE_B, TEXT])
    assert m.encoders == {"latent": VAE_B, "text": TEXT}
    assert {x.key[:8] for x in m.members} == {"00000005"}
    assert m.num_excluded == 12  # the 3 x 4 other accepted images have no VAE_B latent
    # naming the latent encoder alone keeps the only text encoder (it made a manifest without text,
    # on which training failed with a bare 'text')
    alone = cat.create_manifest("sdxl-latent", "modality = 'image'", encoders=[VAE_B])
    assert alone.encoders == {"latent": VAE_B, "text": TEXT} and len(alone.members) == len(m.members)
    with pytest.raises(ValueError, match="no selected sample has encodings from"):
        cat.create_manifest("nope", "modality = 'image'", encoders=["no-such-encoder"])


def test_a_manifest_without_encodings_and_one_that_matches_nothing(catalog_copy):
    from catalog import Batch, SampleRecord

    cat = Catalog.open(catalog_copy)
    cat.register_batches([Batch(samples=[SampleRecord("a" * 32, "speech", "/a.wav", "accepted", duration=3.0)])],
                         "run-base")
    m = cat.create_manifest("speech", "modality = 'speech'")
    assert m.encoders == {} and [x.key for x in m.members] == ["a" * 32] and m.members[0].encodings == {}
    assert cat.why("aaaa")["sample"]["key"] == "a" * 32  # a unique key prefix is enough
    with pytest.raises(ValueError, match="no accepted samples match"):
        cat.create_manifest("video", "modality = 'video'")


@pytest.mark.parametrize("where", [
    "modality = 'image'; DROP TABLE samples",
    "1=1) ; DELETE FROM samples; SELECT (1",
    "no_such_column = 3",
    "",
])
def test_bad_predicates_are_refused_and_harmless(catalog_copy, where):
    before = dump(catalog_copy)
    cat = Catalog.open(catalog_copy)
    with pytest.raises(ValueError):
        cat.create_manifest("evil", where)
    assert dump(catalog_copy) == before


@pytest.mark.parametrize("where", [
    "false) UNION ALL (SELECT key FROM samples WHERE status <> 'accepted'",
    "false) UNION ALL (SELECT key FROM samples",
    "true) ORDER BY (key",
    "true) GROUP BY (key",
])
def test_a_predicate_cannot_escape_the_selection(catalog_copy, where):
    """A fragment that closes the parenthesis to append a UNION or a clause is not one expression: refused."""
    before = dump(catalog_copy)
    cat = Catalog.open(catalog_copy)
    with pytest.raises(ValueError, match="must be one boolean expression"):
        cat.create_manifest("sneaky", where)
    assert dump(catalog_copy) == before


def test_a_subquery_inside_the_predicate_still_selects_only_accepted_samples(catalog_copy):
    cat = Catalog.open(catalog_copy)
    m = cat.create_manifest("sub", "key IN (SELECT key FROM samples) OR key IN (SELECT key FROM verdicts)")
    assert len(m) == 12  # all accepted samples, and only them
    assert cat.sql("SELECT predicate FROM manifests WHERE name = 'sub'")[1] == [
        ("key IN (SELECT key FROM samples) OR key IN (SELECT key FROM verdicts)",)]  # the user's text is kept


def test_missing_manifest_and_bad_names(base_catalog, tmp_path):
    with pytest.raises(ManifestNotFoundError, match=r"no manifest named 'nope' in .* \(it has images\)$"):
        load_manifest(base_catalog, "nope")
    with pytest.raises(ManifestNotFoundError, match=r"no manifest named 'imgaes' in .*: did you mean 'images'\?$"):
        load_manifest(base_catalog, "imgaes")
    with pytest.raises(ManifestNotFoundError, match=r"no manifest named 'images' in .* \(it has none: lumina catalog manifest create\)"):
        load_manifest(Catalog.open(tmp_path / "empty.duckdb").path, "images")
    with pytest.raises(ManifestNotFoundError, match="no version 7"):
        load_manifest(base_catalog, "images", 7)
    cat = Catalog.open(tmp_path / "c.duckdb")
    with pytest.raises(ValueError, match="manifest name"):
        cat.create_manifest("a@v1", "true")


def _edit_outside(catalog_path, sql: str, params: list) -> Catalog:
    """Change the catalog file with plain duckdb (as `catalog sql --write` could), then reopen it."""
    import duckdb

    con = duckdb.connect(str(catalog_path))
    con.execute(sql, params)
    con.close()
    return Catalog.open(catalog_path)


def test_a_change_that_keeps_the_member_count_still_makes_a_new_version(catalog_copy):
    """Re-freezing compares counts and order-free digests of both sides: a caption edited in place,
    or one encoding moved to another shard, keeps every count and must still make a new version."""
    cat = Catalog.open(catalog_copy)
    where = "modality = 'image' AND split = 'train'"
    v1 = cat.freeze_manifest("images", where)
    assert cat.freeze_manifest("images", where).id == v1.id  # nothing changed: the same version
    member = cat.manifest("images").members[0].key
    cat.close()
    cat = _edit_outside(catalog_copy, "UPDATE samples SET caption = 'edited in place' WHERE key = ?", [member])
    v2 = cat.freeze_manifest("images", where)
    assert (v2.version, v2.num_members) == (v1.version + 1, v1.num_members)
    cat.close()
    cat = _edit_outside(catalog_copy, "UPDATE encodings SET shard_uri = '/shards/moved.tar' WHERE key = ? AND kind = 'latent'",
                        [member])
    v3 = cat.freeze_manifest("images", where)
    assert (v3.version, v3.num_members) == (v2.version + 1, v2.num_members)
    assert cat.freeze_manifest("images", where).version == v3.version


def test_a_live_manifest_whose_selection_mixes_encoders_says_so_instead_of_never_growing(catalog_copy, caplog):
    """New shards encoded by a newer encoder (the phone encoder's version 2) than the older ones: every
    refresh skipped the live manifest without a word, as if nothing were selected."""
    from catalog.source_index import LiveManifest, declare_live_manifest, update_live_manifests

    cat = Catalog.open(catalog_copy)
    declare_live_manifest(cat, LiveManifest("live", "modality = 'image'"))
    cat.register_batches([make_batch(5, vae=VAE_B)], "run-base")
    with caplog.at_level("WARNING", logger="catalog.source_index"):
        assert update_live_manifests(cat) == []
    assert "live manifest live gets no new version: manifest 'live': the selected samples mix encoders" in caplog.text
    assert VAE_B in caplog.text and "--live-encoder FINGERPRINT" in caplog.text


def test_a_live_manifest_pinned_to_its_encoders_grows_with_their_samples_only(catalog_copy):
    """A live manifest took no encoder pin: with a second encoder's shards in its selection it never
    got a new version again. Pinned, it freezes the pinned encoders' samples, keeps the pin when
    declared again without one, and [] lifts it."""
    from catalog.source_index import LiveManifest, declare_live_manifest, live_manifests, update_live_manifests

    cat = Catalog.open(catalog_copy)
    pin = sorted(cat.freeze_manifest("probe", "modality = 'image'").encoders.values())
    declare_live_manifest(cat, LiveManifest("live", "modality = 'image'", encoders=pin))
    update_live_manifests(cat)
    v1 = cat.manifest_header("live")
    cat.register_batches([make_batch(90, vae=VAE_B)], "run-base")  # new samples, another VAE
    cat.register_batches([make_batch(91)], "run-base")  # new samples, the pinned VAE: 4 accepted
    [update] = update_live_manifests(cat)
    v2 = cat.manifest_header("live")
    assert (update.version, v2.num_members - v1.num_members) == (v1.version + 1, 4) and v2.encoders == v1.encoders
    declare_live_manifest(cat, LiveManifest("live", "modality = 'image'", train_min_growth=2))
    assert [m.encoders for m in live_manifests(cat)] == [pin]
    declare_live_manifest(cat, LiveManifest("live", "modality = 'image'", encoders=[]))
    assert [m.encoders for m in live_manifests(cat)] == [None]


def test_lumina_refresh_takes_a_live_encoder_only_with_live(tmp_path, capsys):
    from flows.cli import main

    with pytest.raises(SystemExit) as e:
        main(["refresh", str(tmp_path), "--home", str(tmp_path / "h"), "--live-encoder", "vae:x"])
    assert e.value.code == 2 and "--live-encoder goes with --live NAME=WHERE" in capsys.readouterr().err


@pytest.mark.parametrize("flags, pin", [(["--live-encoder", "vae:a", "--live-encoder", "text:b"], ["vae:a", "text:b"]),
                                        (["--live-encoder", "none"], []), ([], None)])
def test_lumina_refresh_passes_the_live_pin_given_lifted_or_none(tmp_path, monkeypatch, flags, pin):
    import flows.refresh as refresh

    seen = {}

    def fake_refresh(source, home, cfg, encode_cfg, live, *a, **k):
        seen["live"] = live
        raise SystemExit(0)

    monkeypatch.setattr(refresh, "refresh_source", fake_refresh)
    monkeypatch.setattr(refresh, "reuse_curation", lambda home, source, modality, given: (None, {}))
    from flows.cli import main

    with pytest.raises(SystemExit):
        main(["refresh", str(tmp_path), "--home", str(tmp_path / "h"), "--live", "m=modality = 'image'", *flags])
    assert [x.encoders for x in seen["live"]] == [pin]
