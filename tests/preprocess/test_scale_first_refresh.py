"""The first `lumina refresh` of a folder that `lumina curate` and `lumina encode` took in curates
only what changed since, not the whole folder once more.

`lumina curate` writes no source index, so the first refresh found every entry new and curated,
encoded and stored every input again: on a user's 20,000 images with 1% changed, 473 s (the
curate and the encode over again) and a second copy of every shard (bench/bench_scale.py). An
input the index never listed is now left alone when the catalog has exactly one current sample at
its file, of the key its bytes and caption make now, encoded (or in a whole curated shard, which
the refresh then encodes), and the source's last curation had the same settings; anything else is
curated as before. Counted in calls to the
analysis, never timed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.refresh import refresh_source
from flows.steps import curate_step, encode_step
from preprocess.curate import CurateConfig
from preprocess.encode import EncodeConfig

ENCODE = EncodeConfig(text="phone")
CFG = CurateConfig(options={"vae_factor": 1})


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    from preprocess.image.demo_corpus import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("stage"), num_digits=9, num_shapes=0).root / "digits"


def _source(tmp_path: Path, digits: Path) -> Path:
    """The first 8 digits (the 9th is the one added later)."""
    src = tmp_path / "src"
    shutil.copytree(digits, src, ignore=shutil.ignore_patterns("digit_00008.*"))
    return src


def _change(src: Path, digits: Path) -> None:
    """One caption edited, one input deleted, one new one: 3 inputs of 8 change."""
    (src / "digit_00001.txt").write_text("digit 1, its caption written again")
    for suffix in (".png", ".txt"):
        (src / f"digit_00002{suffix}").unlink()
    for suffix in (".png", ".txt"):
        shutil.copy(digits / f"digit_00008{suffix}", src / f"new{suffix}")


def _statuses(home: Path) -> dict[str, int]:
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        return dict(cat.sql("SELECT status, count(*) FROM samples GROUP BY status")[1])


def test_the_first_refresh_after_curate_and_encode_curates_only_what_changed(tmp_path, digits, analysed, capsys,
                                                                              monkeypatch):
    import preprocess.refresh as planner

    monkeypatch.setattr(planner, "PROGRESS_FROM", 8, raising=False)  # its 8 inputs are read with a bar
    src, home = _source(tmp_path, digits), tmp_path / "home"
    curate_step(str(src), str(home), CFG, backend="local")
    encode_step(str(home), "image", ENCODE, backend="local")
    assert len(analysed) == 8
    analysed.clear()
    _change(src, digits)
    capsys.readouterr()
    first = refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local")
    assert "image: compare with what lumina curate took in" in capsys.readouterr().err
    # before: inputs_to_curate 8 and all 8 analysed, encoded and written to new shards once more
    assert sorted(analysed) == ["digit_00001.png", "new.png"], analysed
    assert first.plan["inputs_to_curate"] == 2 and first.plan["already_curated"] == 6, first.plan
    assert (first.new_samples, first.superseded, first.removed) == (2, 1, 1), first
    assert first.curated == {"accepted": 2} and first.encoded_shards == 1, first
    assert _statuses(home) == {"accepted": 8, "superseded": 1, "removed": 1}
    analysed.clear()
    assert refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local").noop and not analysed


def test_inputs_curated_but_not_encoded_are_encoded_and_with_other_settings_curated_again(tmp_path, digits, analysed):
    """Without an encoding the refresh encodes the curate's shard and curates none of them again
    (tests/preprocess/test_refresh_after_curate_unencoded_s55f.py); other settings (given to the
    refresh) apply to every input the index never listed, as before."""
    src, home = _source(tmp_path, digits), tmp_path / "home"
    curate_step(str(src), str(home), CFG, backend="local")  # never encoded
    analysed.clear()
    first = refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local")
    assert not analysed and first.plan["already_curated"] == 8 and first.plan["unencoded_shards"] == 1, first.plan
    assert first.encoded_shards == 1 and first.shard_uris == [], first

    src2, home2 = _source(tmp_path / "2", digits), tmp_path / "home2"
    curate_step(str(src2), str(home2), CFG, backend="local")
    encode_step(str(home2), "image", ENCODE, backend="local")
    analysed.clear()
    other = CurateConfig(options={"vae_factor": 1, "max_tokens": 64})
    again = refresh_source(str(src2), home2, other, encode_cfg=ENCODE, backend="local")
    assert len(analysed) == 8 and again.plan["already_curated"] == 0, again.plan
