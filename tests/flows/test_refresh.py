"""Incremental refresh without Prefect or Ray (flows.refresh.refresh_source, backend="local"):
only new or changed inputs are curated and encoded, into new shards; inputs that left are marked
removed, a changed caption supersedes the old sample, a no-op refresh writes nothing, frozen
manifests stay as they are and live ones get a new version that makes training due."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from catalog import Catalog
from catalog.source_index import LiveManifest
from flows.refresh import refresh_source
from preprocess.curate import CurateConfig
from preprocess.encode import EncodeConfig

TABLES = ("samples", "verdicts", "shards", "shard_samples", "encodings", "manifests", "manifest_members", "runs",
          "batches", "sample_status_changes", "lineage")
ENCODE = EncodeConfig(text="phone")  # no model to load: the test is about what gets encoded, not how


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    from preprocess.image.demo_corpus import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("stage"), num_digits=26, num_shapes=0).root / "digits"


def _copy(stage: Path, dst: Path, numbers) -> None:
    for i in numbers:
        for suffix in (".png", ".txt"):
            shutil.copy(stage / f"digit_{i:05d}{suffix}", dst / f"digit_{i:05d}{suffix}")


def _rows(home: Path) -> dict[str, int]:
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


def _files(home: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(home)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(home.glob("*coded/**/*")) + sorted(home.glob("curated/**/*")) if p.is_file()}


def _refresh(src, home):
    live = [LiveManifest("live", "modality = 'image'", train_min_growth=5, train_options={"steps": 3})]
    return refresh_source(str(src), home, encode_cfg=ENCODE, live=live, backend="local")


def test_refresh_curates_only_what_changed(tmp_path, digits):
    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    _copy(digits, src, range(20))
    first = _refresh(src, home)
    assert not first.noop and first.plan["inputs_to_curate"] == 20 and first.curated == {"accepted": 20}
    assert first.manifests and first.manifests[0]["manifest"] == "live@v1" and not first.manifests[0]["train_due"]
    with Catalog.open(home / "catalog.duckdb") as cat:
        frozen = cat.create_manifest("frozen", "modality = 'image'")

    # nothing new: no run, no shard, no row; a touched file (same bytes, new mtime) is no change
    rows, files = _rows(home), _files(home)
    (src / "digit_00007.png").touch()
    noop = _refresh(src, home)
    assert noop.noop and noop.run_id is None and noop.plan["hashed"] == 1, noop
    assert _rows(home) == rows and _files(home) == files

    # 5 added, 2 deleted, 1 caption changed
    _copy(digits, src, range(20, 25))
    for stem in ("digit_00003", "digit_00004"):
        (src / f"{stem}.png").unlink()
        (src / f"{stem}.txt").unlink()
    (src / "digit_00005.txt").write_text("a digit whose caption was rewritten")
    second = _refresh(src, home)
    assert second.plan["inputs_to_curate"] == 6 and second.curated == {"accepted": 6}, second
    assert (second.new_samples, second.removed, second.superseded) == (6, 2, 1)
    assert len(second.shard_uris) == 1 and second.encoded_shards == 1
    after = _files(home)
    assert all(after[name] == state for name, state in files.items()), "a file of the first refresh was rewritten"

    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        status = dict(con.execute("SELECT status, count(*) FROM samples GROUP BY status").fetchall())
        assert status == {"accepted": 23, "removed": 2, "superseded": 1}
        gone = con.execute("SELECT source_uri FROM samples WHERE status = 'removed' ORDER BY 1").fetchall()
        assert [Path(u).name for (u,) in gone] == ["digit_00003.png", "digit_00004.png"]
        old, by = con.execute("SELECT s.source_uri, c.superseded_by FROM samples s JOIN sample_status_changes c USING (key) "
                              "WHERE s.status = 'superseded'").fetchone()
        assert Path(old).name == "digit_00005.png"
        superseded = con.execute("SELECT key FROM samples WHERE status = 'superseded'").fetchone()[0]
        assert con.execute("SELECT status, caption FROM samples WHERE key = ?", [by]).fetchone() == (
            "accepted", "a digit whose caption was rewritten")
        assert con.execute("SELECT count(*) FROM encodings WHERE key = ?", [by]).fetchone()[0] == 2  # latent + text
        removed = con.execute("SELECT name FROM source_index WHERE status = 'removed' AND removed_at IS NOT NULL ORDER BY 1").fetchall()
        assert [n for (n,) in removed] == ["digit_00003.png", "digit_00003.txt", "digit_00004.png", "digit_00004.txt"]
        versions = con.execute("SELECT name, version, num_members FROM manifests ORDER BY 1, 2").fetchall()
        assert versions == [("frozen", frozen.version, 20), ("live", 1, 20), ("live", 2, 23)]
    finally:
        con.close()
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:  # `lumina catalog why` tells it
        story = cat.why(superseded)
    cols, changes = story["status_changes"]
    assert [dict(zip(cols, r))["new_status"] for r in changes] == ["superseded"]
    assert dict(zip(cols, changes[0]))["superseded_by"] == by
    assert second.run_id in [r[0] for r in story["runs"][1]]
    assert second.manifests == [{"manifest": "live@v2", "members": 23, "previous_members": 20,
                                 "added_since_training": 6, "train_due": True}]

    # a deleted file comes back: its sample is accepted again, and nothing else moves
    _copy(digits, src, [3])
    back = _refresh(src, home)
    assert back.plan["inputs_to_curate"] == 1 and back.revived == 1 and back.new_samples == 0
    assert back.manifests[0]["manifest"] == "live@v3" and not back.manifests[0]["train_due"]  # 1 member since training was due


def test_whole_source_cache_keys_follow_content(tmp_path, digits):
    """data_to_model's curate and encode tasks are cached by these keys: the same bytes (even
    rewritten, as the demo corpus writer does) give the same key, any change another."""
    from flows import data_to_model
    from flows.refresh import curate_cache_key, encode_cache_key

    assert data_to_model.curate.cache_key_fn is curate_cache_key and data_to_model.encode.cache_key_fn is encode_cache_key
    src = tmp_path / "src"
    src.mkdir()
    _copy(digits, src, range(4))
    params = {"source": str(src), "home": str(tmp_path / "home"), "modality": "image", "options": {}, "run_id": "a"}
    key = curate_cache_key(None, params)
    assert key and key == curate_cache_key(None, {**params, "run_id": "b"})  # the run is not part of the key
    _copy(digits, src, range(4))  # same bytes written again
    assert curate_cache_key(None, params) == key
    (src / "digit_00001.txt").write_text("another caption")
    changed = curate_cache_key(None, params)
    assert changed != key
    assert curate_cache_key(None, {**params, "options": {"max_tokens": 64}}) != changed
    assert curate_cache_key(None, {**params, "home": str(tmp_path / "elsewhere")}) != changed
    assert curate_cache_key(None, {**params, "source": str(tmp_path / "missing")}) is None  # no caching, the task reports the error

    shard = tmp_path / "curated-x.tar"
    shard.write_bytes(b"x" * 10)
    enc = {"home": str(tmp_path / "home"), "modality": "image", "options": {}, "run_id": "a", "shard_uris": [str(shard)]}
    assert encode_cache_key(None, enc) == encode_cache_key(None, {**enc, "run_id": "b"})
    assert encode_cache_key(None, enc) != encode_cache_key(None, {**enc, "options": {"text": "phone"}})
    assert encode_cache_key(None, {**enc, "shard_uris": [str(shard), str(tmp_path / "gone.tar")]}) is None


def test_a_caption_changed_in_a_listing_is_a_change_of_that_input_only(tmp_path, digits):
    """A listing's captions live in its rows, not in files beside the media: rewriting one row's
    caption re-curates that input alone and supersedes its old sample."""
    import csv

    def write_listing(captions: dict[str, str]) -> Path:
        with open(tmp_path / "listing.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", "caption"])
            w.writerows([f"digits/{name}", cap] for name, cap in sorted(captions.items()))
        return tmp_path / "listing.csv"

    captions = {f"digit_{i:05d}.png": (digits / f"digit_{i:05d}.txt").read_text() for i in range(6)}
    shutil.copytree(digits, tmp_path / "digits")
    home = tmp_path / "home"
    first = _refresh(write_listing(captions), home)
    assert first.plan["inputs_to_curate"] == 6 and first.curated == {"accepted": 6}, first
    assert _refresh(write_listing(captions), home).noop

    captions["digit_00002.png"] = "a digit whose caption was rewritten in the listing"
    second = _refresh(write_listing(captions), home)
    assert second.plan["inputs_to_curate"] == 1 and (second.new_samples, second.superseded) == (1, 1), second


def test_lumina_refresh_takes_curates_size_flags(tmp_path, digits, capsys):
    """`lumina refresh` curates as `lumina curate` does: the same --resize / --max-tokens shorthands
    (the console script's main() in this process: the flags are parsed as `lumina` parses them)."""
    from flows.cli import main

    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    _copy(digits, src, range(3))
    (tmp_path / "encode.yaml").write_text("text: phone\n")
    code = main(["refresh", str(src), "--modality", "image", "--home", str(home), "--resize", "square", "--set",
                 "options.size=16", "--encode-config", str(tmp_path / "encode.yaml"), "--local"])
    assert code == 0, capsys.readouterr().err[-2000:]
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT DISTINCT width, height FROM samples WHERE status = 'accepted'").fetchall() == [(16, 16)]
    finally:
        con.close()


def test_a_transcript_changed_in_ljspeech_metadata_is_a_change_of_that_recording_only(tmp_path):
    """LJSpeech keeps every transcript in one metadata.csv: a rewritten line re-curates the
    recording it names, not none (the index hashed only the whole file, which no input owned)."""
    from preprocess.speech.demo_corpus import write_speech_corpus

    corpus = write_speech_corpus(tmp_path / "corpus", voices=1, rates=(130,), pitches=(35,))
    src, home = corpus.root / "ljspeech", tmp_path / "home"
    live = [LiveManifest("live-speech", "modality = 'speech'", train_min_growth=100, train_options={"steps": 3})]
    first = refresh_source(str(src), home, CurateConfig(modality="speech"), encode_cfg=ENCODE, live=live, backend="local")
    n = first.plan["inputs_to_curate"]
    assert n >= 3 and first.curated.get("accepted", 0) >= 3, first
    lines = (src / "metadata.csv").read_text().splitlines()
    ident, _, _ = lines[1].split("|")
    lines[1] = f"{ident}|bring nine apples|bring nine apples"
    (src / "metadata.csv").write_text("\n".join(lines) + "\n")
    second = refresh_source(str(src), home, CurateConfig(modality="speech"), encode_cfg=ENCODE, live=live, backend="local")
    assert second.plan["inputs_to_curate"] == 1 and (second.new_samples, second.superseded) == (1, 1), second


def _statuses(home: Path) -> dict[str, tuple[str, str | None]]:
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        return {Path(u.split("#")[-1]).name: (s, r) for u, s, r in con.execute("SELECT source_uri, status, reason FROM samples").fetchall()}
    finally:
        con.close()


def _curate(src, home):
    from flows.steps import curate_step

    return curate_step(str(src), str(home), CurateConfig(options={"vae_factor": 1}), backend="local")


def test_a_file_curated_then_deleted_before_the_first_refresh_is_removed(tmp_path, digits, monkeypatch):
    """`lumina curate` fills no source index: the first refresh compared the source with an empty
    index, so a file deleted between the curate and that refresh was never marked removed and its
    sample stayed accepted (and in every new manifest) for good."""
    src, home, elsewhere = tmp_path / "src", tmp_path / "home", tmp_path / "elsewhere"
    src.mkdir()
    elsewhere.mkdir()
    _copy(digits, src, range(4))
    _copy(digits, elsewhere, [10])
    monkeypatch.chdir(tmp_path)
    _curate("src", home)  # typed relative, as a user does
    _curate(elsewhere, home)  # another source's samples are not this source's to retire
    for suffix in (".png", ".txt"):
        (src / f"digit_00001{suffix}").unlink()
    first = _refresh(src, home)
    assert first.removed == 1 and first.plan["removed_inputs"] == 1 and not first.noop, first
    status = _statuses(home)
    assert status["digit_00001.png"] == ("removed", "removed: no longer in the source")
    assert {n: s for n, (s, _) in status.items() if n != "digit_00001.png"} == {
        "digit_00000.png": "accepted", "digit_00002.png": "accepted", "digit_00003.png": "accepted", "digit_00010.png": "accepted"}
    assert _refresh(src, home).noop  # and it stays removed
    assert _statuses(home)["digit_00001.png"][0] == "removed"
    _copy(digits, src, [1])  # it comes back: accepted again
    assert _refresh(src, home).revived == 1 and _statuses(home)["digit_00001.png"] == ("accepted", None)


def test_a_listed_file_curated_then_deleted_before_the_first_refresh_is_removed(tmp_path, digits, monkeypatch):
    """A listing's media may lie anywhere: its samples are the listing's through the curate run
    that took it in (recorded with the listing's absolute path)."""
    import csv

    media = tmp_path / "media"
    media.mkdir()
    _copy(digits, media, range(3))
    with open(tmp_path / "listing.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "caption"])
        w.writerows([f"media/digit_{i:05d}.png", f"digit number {i}"] for i in range(3))
    home = tmp_path / "home"
    monkeypatch.chdir(tmp_path)
    _curate("listing.csv", home)  # typed relative
    (media / "digit_00002.png").unlink()
    first = _refresh(tmp_path / "listing.csv", home)
    assert first.removed == 1, first
    status = _statuses(home)
    assert status == {"digit_00000.png": ("accepted", None), "digit_00001.png": ("accepted", None),
                      "digit_00002.png": ("removed", "removed: no longer in the source"),
                      "row=2": ("rejected", "missing_media: digit_00002.png (not read)")}, status


def test_a_tar_curated_then_deleted_before_the_first_refresh_is_removed(tmp_path, digits, monkeypatch):
    """A tar glob is a source too: its members' samples go when their tar goes, a tar the glob
    does not reach (another folder) is left alone."""
    import tarfile

    for folder, numbers in (("shards", (0, 1)), ("shards", (2, 3)), ("shards/sub", (4,))):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        with tarfile.open(tmp_path / folder / f"part{numbers[0]}.tar", "w") as tar:
            for i in numbers:
                for suffix in (".png", ".txt"):
                    tar.add(digits / f"digit_{i:05d}{suffix}", arcname=f"digit_{i:05d}{suffix}")
    home = tmp_path / "home"
    monkeypatch.chdir(tmp_path)
    _curate("shards/sub/*.tar", home)
    _curate("shards/*.tar", home)
    (tmp_path / "shards" / "part2.tar").unlink()
    first = _refresh("shards/*.tar", home)
    assert first.removed == 2, first
    assert {n: s for n, (s, _) in _statuses(home).items()} == {
        "digit_00000.png": "accepted", "digit_00001.png": "accepted", "digit_00002.png": "removed",
        "digit_00003.png": "removed", "digit_00004.png": "accepted"}


def test_a_curate_run_records_the_absolute_source(tmp_path, digits, monkeypatch):
    """runs.parameters said "source": "src" (as typed) while every sample's source_uri is absolute."""
    import json

    (tmp_path / "src").mkdir()
    _copy(digits, tmp_path / "src", range(2))
    monkeypatch.chdir(tmp_path)
    _curate("src", "home")
    con = duckdb.connect(str(tmp_path / "home" / "catalog.duckdb"), read_only=True)
    try:
        (params,) = con.execute("SELECT parameters FROM runs WHERE flow_name = 'curate'").fetchone()
    finally:
        con.close()
    assert json.loads(params)["source"] == str((tmp_path / "src").resolve())
