"""Near-duplicate takes across curation runs: speech compared the takes of one run only, so a second
curate into the same catalog (or a refresh) accepted a -6 dB FLAC copy of a take an earlier run had
kept. The earlier takes' fingerprints are made again from the log-mel of their curated shards
(preprocess/speech/kept_takes.py)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from preprocess.speech.espeak import synthesise

WORDS = (("three", 130), ("seven", 150), ("nine", 170))


def _take(word: str, rate: int) -> np.ndarray:
    y, _ = synthesise(word, "en-us", rate, 40, seed=0)
    return y.astype(np.float32) / 32768.0


def _write(path: Path, y: np.ndarray, transcript: str, fmt: str = "WAV", sr: int = 22050) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, sr, format=fmt, subtype="PCM_16")
    path.with_suffix(".txt").write_text(transcript + "\n")


def _curate(folder: Path, home: Path) -> dict:
    from flows.steps import curate_step
    from preprocess.curate import CurateConfig

    return curate_step(str(folder), str(home), CurateConfig(modality="speech"), backend="local")


def _rows(home: Path) -> dict[str, tuple]:
    """'<folder>/<file>' -> (key, status, reason, meta) of every speech sample."""
    import json

    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, rows = cat.sql("SELECT source_uri, key, status, reason, meta FROM samples WHERE modality = 'speech'")
    return {"/".join(u.rsplit("/", 2)[-2:]): (k, s, r, json.loads(m)) for u, k, s, r, m in rows}


@pytest.fixture(scope="module")
def takes():
    return {w: _take(w, r) for w, r in WORDS}


@pytest.fixture()
def first_run(tmp_path, takes):
    """Folder one: three distinct words, curated (all accepted); a pristine copy of its catalog and
    shards, to start each case from."""
    one = tmp_path / "one"
    for w, y in takes.items():
        _write(one / f"{w}.wav", y, w)
    home = tmp_path / "home"
    assert _curate(one, home)["counts"] == {"accepted": 3}
    return tmp_path, home


def _reason_names(reason: str | None, key: str) -> bool:
    return (reason or "").startswith(f"audio_fingerprint_dedup: near duplicate of {key} (distance ")


def test_a_quieter_flac_copy_of_a_take_an_earlier_run_kept_is_rejected_naming_it(first_run, takes):
    tmp_path, home = first_run
    two = tmp_path / "two"
    _write(two / "seven_again.flac", takes["seven"] * 0.5, "seven", fmt="FLAC")  # -6 dB, FLAC
    _write(two / "nine_other.wav", _take("nine", 210), "nine")  # another take of a word: not a copy
    out = _curate(two, home)
    assert out["counts"] == {"accepted": 1, "rejected": 1}, out
    rows = _rows(home)
    earlier_key = rows["one/seven.wav"][0]
    _, status, reason, meta = rows["two/seven_again.flac"]
    assert status == "rejected" and _reason_names(reason, earlier_key), reason
    assert meta["near_duplicate_of"] == earlier_key
    assert rows["one/seven.wav"][1:3] == ("accepted", None)  # the earlier sample stays
    assert rows["two/nine_other.wav"][1] == "accepted"


def test_the_better_copy_is_rejected_when_an_earlier_run_kept_the_other(tmp_path, takes):
    """The earlier run kept the quieter lossy-rate copy; the louder original in a later run is still
    the duplicate (within one run it would be the one kept)."""
    one, two, home = tmp_path / "one", tmp_path / "two", tmp_path / "home"
    _write(one / "seven_quiet.flac", takes["seven"] * 0.5, "seven", fmt="FLAC")
    _write(one / "three.wav", takes["three"], "three")
    assert _curate(one, home)["counts"] == {"accepted": 2}
    _write(two / "seven.wav", takes["seven"], "seven")
    assert _curate(two, home)["counts"] == {"rejected": 1}
    rows = _rows(home)
    assert _reason_names(rows["two/seven.wav"][2], rows["one/seven_quiet.flac"][0]), rows["two/seven.wav"]
    assert rows["one/seven_quiet.flac"][1] == "accepted"


def test_the_takes_of_inputs_curated_again_or_leaving_are_not_matched(first_run, takes):
    """A changed transcript gives the same audio a new key: the old sample of the same file is
    replaced, not matched; nor is a sample whose input a refresh retires (``leaving``), nor one of
    the same key (a moved folder: the samples move to the new files)."""
    from preprocess.modality import get_plugin
    from preprocess.sources import SourceSpec, list_entries

    tmp_path, home = first_run
    moved = tmp_path / "moved"
    shutil.move(tmp_path / "one", moved)
    assert _curate(moved, home)["counts"] == {"accepted": 3}  # the same keys, other files: not their own copies
    (moved / "nine.txt").write_text("nine, again\n")
    out = _curate(moved, home)
    assert out["counts"] == {"accepted": 3}, out
    rows = _rows(home)
    assert rows["moved/nine.wav"][1] == "accepted"
    # a refresh retiring moved/three.wav while a copy of it comes in elsewhere: the copy is the new sample
    plugin = get_plugin("speech")
    opts = plugin.options({})
    two = tmp_path / "two"
    _write(two / "three_copy.flac", takes["three"] * 0.5, "three", fmt="FLAC")
    (item,), _ = plugin.group(list_entries(SourceSpec(str(two))), opts)

    def judged(leaving):
        (cand,) = plugin.analyse(item, "three", "c0" * 32, opts)
        plugin.near_duplicates([cand], opts, catalog=str(home / "catalog.duckdb"), leaving=leaving)
        return cand.record

    uri = str(moved / "three.wav")
    assert judged(frozenset()).status == "rejected"  # the copy matches the kept take ...
    assert judged(frozenset({uri})).status == "accepted"  # ... but not one that is leaving


def test_the_fingerprint_from_the_curated_shard_is_the_analysis_one(first_run):
    from contracts.shards import iter_samples, npy_load
    from preprocess.modality import get_plugin
    from preprocess.sources import SourceSpec, list_entries
    from preprocess.speech.dedup import fingerprint
    from preprocess.speech.plugin import MEL

    tmp_path, home = first_run
    plugin = get_plugin("speech")
    opts = plugin.options({})
    rows = _rows(home)
    items, _ = plugin.group(list_entries(SourceSpec(str(tmp_path / "one"))), opts)
    shards = sorted((home / "curated" / "speech").glob("*.tar"))
    stored = {k: fingerprint(npy_load(f[MEL])) for s in shards for k, f in iter_samples(s)}
    assert len(stored) == 3
    for item in items:
        key = rows[f"one/{item.name}"][0]
        (cand,) = plugin.analyse(item, item.caption.read().decode(), key, opts)
        fp = cand.signature[0]
        assert fp.dtype == stored[key].dtype and fp.shape == stored[key].shape
        np.testing.assert_array_equal(stored[key], fp)


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_a_missing_or_damaged_curated_shard_leaves_its_takes_out_with_one_warning(first_run, takes, caplog, damage):
    tmp_path, home = first_run
    shards = sorted((home / "curated" / "speech").glob("*.tar"))
    assert len(shards) == 1
    if damage == "missing":
        shutil.move(shards[0], tmp_path / "away.tar")
    else:
        data = shards[0].read_bytes()
        shards[0].write_bytes(data[: len(data) // 3])
    two = tmp_path / "two"
    _write(two / "seven_again.flac", takes["seven"] * 0.5, "seven", fmt="FLAC")
    with caplog.at_level(logging.WARNING, logger="preprocess.speech.kept_takes"):
        out = _curate(two, home)
    assert out["counts"] == {"accepted": 1}, out  # not compared: nothing to compare with
    warned = [r.getMessage() for r in caplog.records if r.name == "preprocess.speech.kept_takes"]
    assert len(warned) == 1 and str(shards[0]) in warned[0], warned
