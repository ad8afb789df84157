"""The first `lumina refresh` after `lumina curate` leaves the exact duplicates alone too.

An input the index never listed is left out of the first refresh when the catalog's row at its
file has the key its bytes and caption make now (tests/preprocess/test_scale_first_refresh.py).
An exact duplicate's row is keyed otherwise: by its original's content key and its own name
relative to the original's folder (preprocess/curate.py mark_exact_duplicates). The comparison
used the content key, so every copy was analysed, and its row written, once more on the first
refresh of an unchanged source (2 of 13 inputs at 1,000 speech takes; the rows ended the same).
Now a copy is left out when its row has the key a curation gives it, its original being left out
as well; a copy whose original changed is curated again, as before. Counted in calls to the
analysis, never timed."""

from __future__ import annotations

import shutil
from pathlib import Path

from flows.refresh import refresh_source
from flows.steps import curate_step, encode_step
from preprocess.curate import CurateConfig
from preprocess.encode import EncodeConfig

ENCODE = EncodeConfig(text="phone")


def _copy(src: Path, stem: str, to: Path) -> None:
    """Every file of input ``stem`` (media and transcript or caption) under the name ``to`` (no suffix)."""
    to.parent.mkdir(parents=True, exist_ok=True)
    for f in src.glob(stem + ".*"):
        shutil.copy(f, to.with_name(to.name + f.suffix))


def _rows(home: Path) -> list[tuple]:
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        return cat.sql("SELECT key, source_uri, status, reason FROM samples ORDER BY source_uri, key")[1]


def _curated_then_refreshed(src: Path, home: Path, cfg: CurateConfig, analysed: list[str], edit=None):
    curate_step(str(src), str(home), cfg, backend="local")
    encode_step(str(home), cfg.modality, ENCODE, backend="local")
    before = _rows(home)
    assert sum(r[3] is not None and r[3].startswith("exact_duplicate") for r in before) == 2, before
    if edit is not None:
        edit()
    analysed.clear()
    return before, refresh_source(str(src), home, cfg, encode_cfg=ENCODE, backend="local")


def test_speech_takes_copied_beside_and_below_their_original_are_not_curated_again(tmp_path, analysed):
    from preprocess.speech.demo_corpus import write_speech_corpus

    src = write_speech_corpus(tmp_path / "corpus", voices=1, rates=(130,), pitches=(35,), phrases=False).root / "digits"
    _copy(src, "eight_v0_r130_p35", src / "zz_copy")
    _copy(src, "eight_v0_r130_p35", src / "more" / "copy")
    home = tmp_path / "home"
    before, first = _curated_then_refreshed(src, home, CurateConfig(modality="speech"), analysed)
    # before: inputs_to_curate 2 (both copies analysed again), already_curated 10
    assert analysed == [] and first.noop, (analysed, first.plan)
    assert first.plan["inputs_to_curate"] == 0 and first.plan["already_curated"] == 12, first.plan
    assert _rows(home) == before


def test_an_image_copy_is_left_alone_unless_its_original_changed(tmp_path, analysed):
    from preprocess.image.demo_corpus import write_demo_corpus

    digits = write_demo_corpus(tmp_path / "stage", num_digits=4, num_shapes=0).root / "digits"
    src = tmp_path / "src"
    shutil.copytree(digits, src)
    _copy(src, "digit_00003", src / "sub" / "copy")  # of an unchanged original
    _copy(src, "digit_00001", src / "digit_00001_copy")  # of the original whose caption is edited

    def edit():
        (src / "digit_00001.txt").write_text("digit 1, its caption written again")

    home = tmp_path / "home"
    _, first = _curated_then_refreshed(src, home, CurateConfig(options={"vae_factor": 1}), analysed, edit)
    # before: sub/copy analysed as well, inputs_to_curate 3, already_curated 3
    assert sorted(analysed) == ["digit_00001.png", "digit_00001_copy.png"], analysed
    assert first.plan["inputs_to_curate"] == 2 and first.plan["already_curated"] == 4, first.plan
    current = {Path(r[1]).relative_to(src).as_posix(): (r[2], (r[3] or "").split(":")[0]) for r in _rows(home)
               if r[2] not in ("removed", "superseded")}
    assert current["sub/copy.png"] == ("rejected", "exact_duplicate"), current
    # no longer an exact copy (another caption): the same picture, so a near duplicate of the original
    assert current["digit_00001_copy.png"] == ("rejected", "phash_dedup"), current
    assert current["digit_00001.png"] == ("accepted", ""), current
