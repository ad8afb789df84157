"""The first `lumina refresh` after a `lumina curate` with no `lumina encode` curates only what changed,
and encodes the shards the curate wrote.

An unchanged input whose accepted sample had no encoding was curated again: the refresh decoded and
analysed every accepted input of the folder once more and wrote them into new shards, beside the
curate's (on 6 captioned PNGs, one rejected: plan inputs_to_curate 5, already_curated 1). Users run
`lumina curate` and then schedule `lumina refresh` (README: "lumina curate adds, lumina refresh also
retires"). Now such an input is left out (already_curated) when its sample sits in a whole curated
shard, and that shard is encoded with the refresh's new ones (the plan's unencoded_shards): every
accepted sample is encoded once, in its one shard, and the next refresh is a no-op. Counted in calls to
the analysis, never timed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.refresh import refresh_source
from flows.steps import curate_step
from preprocess.curate import CurateConfig
from preprocess.encode import EncodeConfig

ENCODE = EncodeConfig(text="phone")
CFG = CurateConfig(options={"vae_factor": 1})


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    from preprocess.image.demo_corpus import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("stage"), num_digits=5, num_shapes=0).root / "digits"


def _curated(tmp_path: Path, digits: Path) -> tuple[Path, Path]:
    """The first 4 digits, curated and never encoded."""
    src, home = tmp_path / "src", tmp_path / "home"
    shutil.copytree(digits, src, ignore=shutil.ignore_patterns("digit_00004.*"))
    curate_step(str(src), str(home), CFG, backend="local")
    return src, home


def _accepted(home: Path) -> dict[str, tuple[int, int]]:
    """key -> (curated shards holding it, encoding rows) of each current accepted sample."""
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        rows = cat.sql("SELECT s.key, (SELECT count(*) FROM shard_samples m JOIN shards h ON h.uri = m.shard_uri "
                       "WHERE m.key = s.key AND h.stage = 'curated'), (SELECT count(*) FROM encodings e WHERE e.key = s.key) "
                       "FROM samples s WHERE s.status = 'accepted'")[1]
    return {key: (shards, encodings) for key, shards, encodings in rows}


def test_unchanged_inputs_are_not_curated_again_and_their_shard_is_encoded(tmp_path, digits, analysed):
    src, home = _curated(tmp_path, digits)
    curated_before = sorted((home / "curated" / "image").glob("curated-*.tar"))
    assert len(analysed) == 4 and len(curated_before) == 1
    analysed.clear()
    first = refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local")
    # before: all 4 analysed again (inputs_to_curate 4, already_curated 0) and written to a shard once more
    assert analysed == [], analysed
    assert first.plan["inputs_to_curate"] == 0 and first.plan["already_curated"] == 4, first.plan
    assert first.plan["unencoded_shards"] == 1 and first.encoded_shards == 1 and first.shard_uris == [], first
    assert not first.noop and first.curated == {} and first.new_samples == 0, first
    assert sorted((home / "curated" / "image").glob("curated-*.tar")) == curated_before
    accepted = _accepted(home)
    assert len(accepted) == 4 and set(accepted.values()) == {(1, 2)}, accepted  # one shard, a latent and a text encoding
    again = refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local")
    assert again.noop and again.encoded_shards == 0 and analysed == [], again


def test_changed_inputs_are_curated_and_the_curates_shard_encoded_with_theirs(tmp_path, digits, analysed):
    src, home = _curated(tmp_path, digits)
    (src / "digit_00001.txt").write_text("digit 1, its caption written again")
    for suffix in (".png", ".txt"):
        shutil.copy(digits / f"digit_00004{suffix}", src / f"new{suffix}")
    analysed.clear()
    first = refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local")
    assert sorted(analysed) == ["digit_00001.png", "new.png"], analysed
    assert first.plan["inputs_to_curate"] == 2 and first.plan["already_curated"] == 3, first.plan
    assert first.plan["unencoded_shards"] == 1 and len(first.shard_uris) == 1 and first.encoded_shards == 2, first
    assert (first.new_samples, first.superseded) == (2, 1), first
    accepted = _accepted(home)
    assert len(accepted) == 5 and set(accepted.values()) == {(1, 2)}, accepted
    analysed.clear()
    assert refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local").noop and analysed == []


def test_an_input_whose_curated_shard_is_cut_short_is_curated_again(tmp_path, digits, analysed):
    """Encoding a damaged shard fails (encode's check_curated_shards): its inputs are curated anew instead."""
    src, home = _curated(tmp_path, digits)
    (shard,) = (home / "curated" / "image").glob("curated-*.tar")
    shard.write_bytes(shard.read_bytes()[:2048])
    analysed.clear()
    first = refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local")
    assert len(analysed) == 4 and first.plan["already_curated"] == 0 and first.plan["unencoded_shards"] == 0, first.plan
    assert first.encoded_shards == 1, first

