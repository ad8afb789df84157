"""What a new user's walkthrough (2026-12-05) found `lumina refresh` and the refresh flow leaving
unsaid: a new source curated for an 8x VAE (the default --vae-factor) and encoded with identity
latents (up to 64x the token budget), options given to a refresh with nothing new (dropped), and
the removed, superseded, revived and repaired counts in the flow's artifacts."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import duckdb
import pytest

from flows.refresh import refresh_flow, refresh_source, reuse_curation
from preprocess.curate import CurateConfig
from preprocess.encode import EncodeConfig

ENCODE = EncodeConfig(text="phone")  # identity latents (downsample 1), a text encoder with no weights


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    from preprocess.image.demo_corpus import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("stage"), num_digits=4, num_shapes=0).root / "digits"


def _src(tmp_path: Path, digits: Path, numbers=range(4)) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for i in numbers:
        for suffix in (".png", ".txt"):
            shutil.copy(digits / f"digit_{i:05d}{suffix}", src / f"digit_{i:05d}{suffix}")
    return src


def _runs(home: Path) -> int:
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM runs").fetchone()[0]
    finally:
        con.close()


def _sized_for_8x(notes: list[str]) -> list[str]:
    return [n for n in notes if "sized for latents downsampled 8x" in n]


def test_a_new_source_curated_for_an_8x_vae_and_encoded_as_pixels_is_flagged(tmp_path, digits):
    """`lumina refresh` of a new folder, no flags: curated for an 8x VAE, encoded with identity
    latents ([3,1,512,512] for a photo: 64x the 1,024-token budget), and not a word, where
    `lumina encode` on the same workspace warns."""
    src, home = _src(tmp_path, digits), tmp_path / "home"
    result = refresh_source(str(src), home, CurateConfig(), encode_cfg=ENCODE, backend="local")
    assert result.curated == {"accepted": 4} and result.encoded_shards == 1
    [note] = _sized_for_8x(result.notes)
    assert "4 accepted image samples" in note and "up to 64x the tokens" in note, note
    # a refresh of the same folder curates nothing again, so the note says what does
    assert (f"lumina curate {src} --modality image --home {home} --set options.vae_factor=1, then lumina encode "
            f"--modality image --home {home}") in note, note


def test_a_source_curated_for_its_latents_is_not_flagged(tmp_path, digits):
    src, home = _src(tmp_path, digits), tmp_path / "home"
    result = refresh_source(str(src), home, CurateConfig(options={"vae_factor": 1}), encode_cfg=ENCODE, backend="local")
    assert result.curated == {"accepted": 4} and not _sized_for_8x(result.notes), result.notes


def test_the_flow_logs_the_latent_note_and_every_count_in_its_artifacts(tmp_path, digits, monkeypatch, caplog):
    """The refresh-counts table lacked revived and repaired, the refresh-summary markdown the
    removed, superseded and revived counts."""
    import prefect.artifacts

    from flows import refresh

    artifacts = {}
    monkeypatch.setattr(prefect.artifacts, "create_progress_artifact", lambda **kw: "progress")
    monkeypatch.setattr(prefect.artifacts, "update_progress_artifact", lambda **kw: None)
    monkeypatch.setattr(prefect.artifacts, "create_table_artifact", lambda key, table, **kw: artifacts.update({key: table}))
    monkeypatch.setattr(prefect.artifacts, "create_markdown_artifact", lambda key, markdown, **kw: artifacts.update({key: markdown}))
    monkeypatch.setattr(refresh, "get_run_logger", lambda: logging.getLogger("test.refresh_flow"))

    src, home = _src(tmp_path, digits), tmp_path / "home"
    refresh_source(str(src), home, CurateConfig(), encode_cfg=ENCODE, backend="local")  # the default vae_factor 8
    for suffix in (".png", ".txt"):  # digit 0 leaves, and comes back: revived
        shutil.move(src / f"digit_00000{suffix}", tmp_path / f"digit_00000{suffix}")
    refresh_source(str(src), home, CurateConfig(), encode_cfg=ENCODE, backend="local")
    for suffix in (".png", ".txt"):
        shutil.move(tmp_path / f"digit_00000{suffix}", src / f"digit_00000{suffix}")
        (src / f"digit_00002{suffix}").unlink()  # removed
    (src / "digit_00001.txt").write_text("a digit with a caption written again")  # superseded

    with caplog.at_level("WARNING", logger="test.refresh_flow"):
        out = refresh_flow.fn(source=str(src), home=str(home), encode_options={"text": "phone"}, backend="local")
    assert (out["revived"], out["superseded"], out["removed"]) == (1, 1, 1), out
    assert sorted(artifacts) == ["refresh-counts-image-src", "refresh-summary-image-src"], artifacts  # one history per source
    counts = {row["what"]: row["count"] for row in artifacts["refresh-counts-image-src"]}
    assert (counts["revived"], counts["superseded"], counts["removed"], counts["repaired"]) == (1, 1, 1, 0), counts
    summary = artifacts["refresh-summary-image-src"]
    assert "removed: 1, superseded: 1, revived: 1, repaired: 0" in summary, summary
    assert "accepted image samples were sized for latents downsampled 8x" in caplog.text, caplog.text


def test_options_a_refresh_with_nothing_new_cannot_apply_are_named(tmp_path, digits):
    """`lumina refresh SRC --max-tokens 64` on an unchanged source said `noop True ... nothing new
    or changed` and dropped the option: the next refresh reused the last curation's options."""
    src, home = _src(tmp_path, digits), tmp_path / "home"
    refresh_source(str(src), home, CurateConfig(options={"vae_factor": 1}), encode_cfg=ENCODE, backend="local")
    runs = _runs(home)

    cfg, _ = reuse_curation(home, str(src), "image", {"options": {"max_tokens": 64}})
    result = refresh_source(str(src), home, cfg, encode_cfg=ENCODE, backend="local")
    assert result.noop and _runs(home) == runs
    [note] = [n for n in result.notes if "curation options differ" in n]
    assert "options.max_tokens=64 (last curated with 1024)" in note and "not kept" in note, note
    # lumina curate reuses nothing: the command keeps the reused vae_factor too
    assert (f"lumina curate {src} --modality image --home {home} --set options.max_tokens=64 --set options.vae_factor=1, "
            f"then lumina encode --modality image --home {home}") in note, note
    assert "options.max_tokens" not in reuse_curation(home, str(src), "image", {})[1]  # "not kept" is true

    for given in ({}, {"options": {"max_tokens": 1024}}):  # the last curation's, or a default given again: no change
        cfg, _ = reuse_curation(home, str(src), "image", given)
        result = refresh_source(str(src), home, cfg, encode_cfg=ENCODE, backend="local")
        assert result.noop and not [n for n in result.notes if "curation options differ" in n], (given, result.notes)
