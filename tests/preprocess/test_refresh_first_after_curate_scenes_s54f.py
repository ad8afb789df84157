"""The first `lumina refresh` after `lumina curate` leaves an unchanged video cut into scenes alone.

An input the index never listed is left out of the first refresh when the catalog already has what
its bytes and caption make now (tests/preprocess/test_scale_first_refresh.py). That was asked as
"exactly one current sample, of the input's content key", which a video cut at scene changes never
has: its clips are keyed from the content key and their spans. So every such file of a folder curated
before was decoded again on its first refresh, and its accepted clips written into a second shard
(a walkthrough: after adding 3 clips, deleting 2 and editing 1 caption, the plan said
inputs_to_curate 5 and the result accepted 7, an unchanged file of 3 scenes among them). Now the
modality tells whether an input's samples are all the clips of its key (VideoPlugin.made_from);
a changed file is still curated again, its old clips superseded, also when it is cut otherwise now.
Counted in calls to the analysis, never timed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flows.refresh import refresh_source
from flows.steps import curate_step, encode_step
from preprocess.curate import CurateConfig
from preprocess.encode import EncodeConfig
from tests.video.pans import write_clip

ENCODE = EncodeConfig(text="phone")
CFG = CurateConfig(modality="video", options={"frames": 4, "grey": True, "max_tokens": 64, "vae_factor": 1,
                                              "patch_size": 4, "quality": False})


def _shot(level: int, seed: int, rightwards: bool = True, n: int = 10) -> np.ndarray:
    """n frames (48x32) of a disc crossing a grainy background of grey ``level``."""
    rng = np.random.default_rng(seed)
    base = np.clip(level + rng.normal(0, 10, (32, 48, 3)), 0, 255)
    yy, xx = np.mgrid[0:32, 0:48]
    frames = []
    for i in range(n):
        t = i / (n - 1) if rightwards else 1 - i / (n - 1)
        f = base.copy()
        f[(xx - 8 - 32 * t) ** 2 + (yy - 16) ** 2 < 36] = 255 - level
        frames.append(f.astype(np.uint8))
    return np.stack(frames)


def _video(path: Path, shots: list[np.ndarray], caption: str) -> None:
    """The shots back to back (hard cuts between their backgrounds) at 8 fps, and its caption."""
    write_clip(path, np.concatenate(shots))
    path.with_suffix(".txt").write_text(caption)


def _rows(home: Path) -> list[tuple]:
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        return cat.sql("SELECT source_uri, key, status, first_run, CAST(meta->>'clips_in_source' AS INT) "
                       "FROM samples ORDER BY source_uri, key")[1]


def _shard_keys(home: Path) -> dict[str, set[str]]:
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        rows = cat.sql("SELECT s.uri, m.key FROM shards s JOIN shard_samples m ON m.shard_uri = s.uri "
                       "WHERE s.stage = 'curated'")[1]
    out: dict[str, set[str]] = {}
    for uri, key in rows:
        out.setdefault(uri, set()).add(key)
    return out


def test_an_unchanged_cut_video_is_not_curated_again_and_a_recut_one_is(tmp_path, analysed):
    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    _video(src / "three_shots.mp4", [_shot(40, 1), _shot(200, 2, False), _shot(120, 3)], "three shots")
    _video(src / "two_shots.mp4", [_shot(200, 4), _shot(40, 5, False)], "two shots")
    _video(src / "one_shot.mp4", [_shot(90, 6, n=16)], "one shot")
    curate_step(str(src), str(home), CFG, backend="local")
    encode_step(str(home), "video", ENCODE, backend="local")
    before = _rows(home)
    clips = {Path(uri).name: n for uri, _, _, _, n in before}
    assert clips == {"three_shots.mp4": 3, "two_shots.mp4": 2, "one_shot.mp4": 1}, before
    assert any(Path(uri).name == "two_shots.mp4" and status == "accepted" for uri, _, status, _, _ in before), before
    shards_before = _shard_keys(home)

    # re-edited: three_shots.mp4 is two shots now (3 clips -> 2); a new file joins
    _video(src / "three_shots.mp4", [_shot(40, 1), _shot(200, 7, False)], "three shots")
    _video(src / "new_shot.mp4", [_shot(160, 8, n=16)], "a new shot")
    analysed.clear()
    first = refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local")

    # before: two_shots.mp4 analysed again too (inputs_to_curate 3, already_curated 1), its accepted clip in a new shard
    assert sorted(analysed) == ["new_shot.mp4", "three_shots.mp4"], analysed
    assert first.plan["inputs_to_curate"] == 2 and first.plan["already_curated"] == 2, first.plan
    after = _rows(home)
    unchanged = [r for r in before if Path(r[0]).name in ("two_shots.mp4", "one_shot.mp4")]
    assert [r for r in after if Path(r[0]).name in ("two_shots.mp4", "one_shot.mp4")] == unchanged  # same rows, same first_run
    recut = [(status, n) for uri, _, status, _, n in after if Path(uri).name == "three_shots.mp4"]
    assert sorted(s for s, _ in recut if s == "superseded") == ["superseded"] * 3, after
    assert sorted(n for s, n in recut if s != "superseded") == [2, 2], after  # its two new clips, current
    new_shards = {uri: keys for uri, keys in _shard_keys(home).items() if uri not in shards_before}
    unchanged_keys = {key for _, key, _, _, _ in unchanged}
    assert new_shards and not any(keys & unchanged_keys for keys in new_shards.values()), (new_shards, unchanged)

    analysed.clear()
    again = refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local")
    assert again.noop and analysed == [], (again.plan, analysed)
    assert _rows(home) == after
