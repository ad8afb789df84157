"""What the mutation run of catalog/db.py's manifests (bench/mutation: catalog_register) found untested:
a manifest read back whole (captions, description, created_at), its first members only (`lumina
catalog manifest show`), members whose encodings do not line up (a catalog edited by hand), the
lines of a manifest name that is not there, a name that is empty, the message of a selection
without the manifest's encodings, and a freeze killed before its commit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime

import duckdb
import pytest

from catalog import Catalog, ManifestNotFoundError

from .helpers import REPO, make_batch, subprocess_env

WHERE = "modality = 'image' AND split = 'train'"


def test_a_manifest_read_back_has_each_members_caption_and_its_description_and_time(catalog_copy):
    with Catalog.open(catalog_copy) as cat:
        made = cat.create_manifest("described", WHERE, description="the train split")
        head = cat.manifest_header("described")
        read = cat.manifest("described")
        plain = cat.freeze_manifest("plain", WHERE + " AND meta->>'label' = '1'")
        plain_made = cat.create_manifest("plain2", WHERE + " AND meta->>'label' = '2'")
    assert [m.caption for m in read.members] == [f"a photo of thing {int(m.key[:8], 16)}-{int(m.key[8:], 16)}"
                                                 for m in read.members]
    assert read.description == made.description == head.description == "the train split"
    assert plain.description == "" and plain_made.description == ""
    assert isinstance(head.created_at, datetime) and head.created_at == read.created_at == made.created_at


def test_the_first_members_only_are_the_first_by_key_with_their_encodings(catalog_copy):
    with Catalog.open(catalog_copy) as cat:
        whole = cat.manifest("images")
        o = cat.manifest_overview("images", first=3)
    assert [m.key for m in o.first] == [m.key for m in whole.members[:3]]
    assert o.first == whole.members[:3]
    assert o.header.num_members == 12 and sum(o.splits.values()) == 12


def _hand_edited(path, statements: list[str]) -> None:
    con = duckdb.connect(str(path))
    try:
        for s in statements:
            con.execute(s)
    finally:
        con.close()


@pytest.mark.parametrize("lacking_too", [False, True])
def test_members_whose_encodings_do_not_line_up_are_read_by_key(catalog_copy, lacking_too):
    """A member with a kind the manifest does not carry in place of one it does (as many rows as
    members times kinds: only the kinds show it), and another lacking one encoding row (rows a user
    deleted or wrote with `lumina catalog sql --write`): each member still gets its own rows, none
    shifted onto its neighbours."""
    with Catalog.open(catalog_copy) as cat:
        keys = [m.key for m in cat.manifest("images").members]
    lacking, odd = keys[1], keys[4]
    _hand_edited(catalog_copy, [
        f"DELETE FROM manifest_encodings WHERE manifest = 'images' AND key = '{odd}' AND kind = 'text'",
        f"INSERT INTO manifest_encodings SELECT manifest, version, key, 'depth', encoder_fingerprint, shard_uri, "
        f"key || '.depth.npy' FROM manifest_encodings WHERE manifest = 'images' AND key = '{odd}' AND kind = 'latent'",
        *([f"DELETE FROM manifest_encodings WHERE manifest = 'images' AND key = '{lacking}' AND kind = 'text'"]
          if lacking_too else []),
    ])
    with Catalog.open(catalog_copy, read_only=True) as cat:
        m = cat.manifest("images")
    enc = {x.key: x.encodings for x in m.members}
    shard = lambda k: f"/shards/b{int(k[:8], 16):04d}.tar"  # noqa: E731
    assert enc[odd] == {"latent": (shard(odd), f"{odd}.latent.npy"), "depth": (shard(odd), f"{odd}.depth.npy")}
    if lacking_too:
        assert enc[lacking] == {"latent": (shard(lacking), f"{lacking}.latent.npy")}
    for k in keys:
        if k != odd and not (lacking_too and k == lacking):
            assert enc[k] == {"latent": (shard(k), f"{k}.latent.npy"), "text": (shard(k), f"{k}.text.npy")}, k


@pytest.fixture
def named(tmp_path):
    """A catalog with accepted, encoded samples and no manifest yet."""
    path = tmp_path / "named.duckdb"
    with Catalog.open(path) as cat:
        cat.start_run("curate", run_id="run-x")
        cat.register_batches([make_batch(0)], "run-x")
    return path


def test_an_unknown_name_is_told_the_three_nearest(named):
    with Catalog.open(named) as cat:
        with pytest.raises(ManifestNotFoundError) as none:
            cat.manifest("images")
        for n in ("images-a", "images-b", "images-c", "images-d"):
            cat.freeze_manifest(n, WHERE)
        with pytest.raises(ManifestNotFoundError) as near:
            cat.manifest("images")
    assert str(none.value) == f"no manifest named 'images' in {named} (it has none: lumina catalog manifest create)"
    assert str(near.value) == f"no manifest named 'images' in {named}: did you mean 'images-d' or 'images-c' or 'images-b'?"


@pytest.mark.parametrize("count, listed", [(10, "m0, m1, m2, m3, m4, m5, m6, m7, m8, m9"),
                                           (11, "m0, m1, m10, m2, m3, m4, m5, m6, m7, m8, ...")])
def test_with_no_near_name_it_lists_the_first_ten_by_name(named, count, listed):
    with Catalog.open(named) as cat:
        for i in range(count):
            cat.freeze_manifest(f"m{i}", WHERE)
        with pytest.raises(ManifestNotFoundError) as e:
            cat.manifest("something-else-entirely")
    assert str(e.value) == f"no manifest named 'something-else-entirely' in {named} (it has {listed})"


def test_an_empty_name_is_refused(named):
    with Catalog.open(named) as cat:
        for bad in ("", None):
            with pytest.raises(ValueError, match=r"^manifest name .*: use letters, digits"):
                cat.freeze_manifest(bad, WHERE)
        assert cat.list_manifests()[1] == []


def test_no_match_says_whether_samples_matched_without_every_kind_of_encoding(named):
    """Accepted samples that match but of which none has every kind the selection's encodings hold
    (some a latent only, the others a text encoding only) are told apart from no match at all."""
    b = make_batch(1)
    accepted = sorted({e.key for e in b.encodings})
    b.encodings[:] = [e for e in b.encodings if (e.kind == "latent") == (accepted.index(e.key) % 2 == 0)]
    with Catalog.open(named) as cat:
        cat.register_batches([b], "run-x")
        with pytest.raises(ValueError) as split_kinds:
            cat.freeze_manifest("split-kinds", "meta->>'batch' = '1'")
        with pytest.raises(ValueError) as nothing:
            cat.freeze_manifest("nothing", "meta->>'batch' = '7'")
    assert str(split_kinds.value) == ("manifest 'split-kinds': no accepted samples match \"meta->>'batch' = '1'\" "
                                      "that have encodings of every kind ['latent', 'text']")
    assert str(nothing.value) == "manifest 'nothing': no accepted samples match \"meta->>'batch' = '7'\""


def test_a_freeze_killed_before_its_commit_leaves_no_version(named, tmp_path):
    """The hold point between a new version's rows and its commit (bench/faults.py's manifest kill):
    killed there, the catalog has no such manifest, and the same freeze afterwards makes v1."""
    mark = tmp_path / "held.json"
    code = ("import sys; from catalog import Catalog\n"
            "with Catalog.open(sys.argv[1]) as cat: cat.freeze_manifest('held', sys.argv[2])\n")
    env = {**subprocess_env(), "LUMINA_HOLD_AT": "manifest.members-written", "LUMINA_HOLD_MARK": str(mark)}
    proc = subprocess.Popen([sys.executable, "-c", code, str(named), WHERE], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while not mark.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert mark.exists(), f"no hold (exit {proc.poll()})"
        assert json.loads(mark.read_text())["point"] == "manifest.members-written"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    with Catalog.open(named) as cat:
        assert cat.list_manifests()[1] == []
        assert cat.freeze_manifest("held", WHERE).version == 1


def test_name_at_version_with_the_same_version_given_is_that_version_and_another_is_refused(catalog_copy):
    with Catalog.open(catalog_copy) as cat:
        cat.create_manifest("images", WHERE + " AND meta->>'label' = '1'")
        assert cat.manifest_header("images@v1", 1).version == 1
        assert cat.manifest_header("images@v2", version=2).num_members == 3
        with pytest.raises(ValueError) as e:
            cat.manifest_header("images@v1", 2)
    assert str(e.value) == "'images@v1' names version 1 but version=2 was given"


def test_mixed_encoders_are_named_kind_by_kind_with_their_counts(named):
    from dataclasses import replace

    from catalog.db import MixedEncodersError

    from .helpers import TEXT, VAE_A, VAE_B

    other_text = "clip-l:cfg=dd:w=04"
    b = make_batch(1, vae=VAE_B)
    b.encodings[:] = [replace(e, encoder_fingerprint=other_text) if e.kind == "text" else e for e in b.encodings]
    b2 = make_batch(2, vae=VAE_B)  # a third batch: VAE_B on 8 samples, VAE_A on 4
    with Catalog.open(named) as cat:
        cat.register_batches([b, b2], "run-x")
        with pytest.raises(MixedEncodersError) as e:
            cat.freeze_manifest("mixed", "status = 'accepted'")
    assert (f"(latent: {VAE_B} (8 samples), {VAE_A} (4 samples); text: {TEXT} (8 samples), {other_text} (4 samples)); "
            in str(e.value)), str(e.value)
