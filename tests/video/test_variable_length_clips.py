"""`frames: 0`: a clip keeps its duration at one frame rate (Lumina-T2X's clips), so a 1 s and a 3 s
clip at 8 fps curate to 8 and 24 frames, meta `sample_fps` 8.0 for both; before, `frames` was at
least 1 and every clip had `frames` frames, its rate varying with its length. Such clips, encoded
(identity latents), train in one run with a token budget: the loader batches clips of different T
and the model pads each to the longest. The default (`frames` 8 here 4, the demo's) still gives that
many frames a clip. Tiny grey clips of a moving pattern, written as H.264 MP4s: the short one at
8 fps, the long one at 12 fps (36 frames resampled to 24 ticks, whose source frames' own spacing
is not 1/8 s: sample_fps is the ticks' rate, 8.0, not the source frames' ~8.1)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.video.planted import DEMO_OPTIONS

FPS = 8
SOURCES = {"short": (1, 8), "long": (3, 12)}  # name: (seconds, source fps)


def _moving(n: int, seed: int) -> np.ndarray:
    """[n, 32, 32] uint8: a 16x16 pattern crossing a black canvas left to right over n frames."""
    from preprocess.video.demo_corpus import path, render

    sprite = np.kron(np.random.default_rng(seed).integers(0, 256, (4, 4)), np.ones((4, 4))).astype(np.uint8)
    return render(sprite, path("right", 8, n))


def _curate(tmp_path, frames: int):
    from catalog import Catalog
    from preprocess.curate import CurateConfig, curate
    from preprocess.video.demo_corpus import write_video

    src = tmp_path / "src"
    if not src.exists():
        src.mkdir()
        for i, (name, (seconds, fps)) in enumerate(SOURCES.items()):
            write_video(src / f"{name}.mp4", _moving(seconds * fps, i), fps=fps)
            (src / f"{name}.txt").write_text(f"a pattern moving right for {seconds} s")
    home = tmp_path / f"home{frames}"
    options = {**DEMO_OPTIONS, "fps": FPS, "frames": frames}
    curated = curate(str(src), home, CurateConfig(modality="video", holdout_percent=0, options=options), backend="local")
    with Catalog.open(home / "catalog.duckdb") as cat:
        run = cat.start_run("test", {})
        cat.register_batches(curated.batch_paths, run)
        cat.finish_run(run)
        rows = cat.sql("SELECT source_uri, status, reason, frames, meta FROM samples")[1]
    return home, curated, {r[0].rsplit("/", 1)[-1].split(".")[0]: r for r in rows}


def _npy_frames(curated) -> list[int]:
    from contracts.shards import iter_samples, npy_load

    return sorted(npy_load(fields["frames.npy"]).shape[0] for uri in curated.shard_uris for _, fields in iter_samples(uri))


def _meta(row) -> dict:
    return json.loads(row[4]) if isinstance(row[4], str) else row[4]


@pytest.fixture(scope="module")
def variable(tmp_path_factory):
    """The two clips curated with frames 0 (the training test encodes this home further)."""
    return _curate(tmp_path_factory.mktemp("variable"), 0)


def test_frames_0_keeps_each_clips_duration_at_fps(variable):
    _, curated, rows = variable
    assert {name: r[1:3] for name, r in rows.items()} == {"short": ("accepted", None), "long": ("accepted", None)}
    assert {name: r[3] for name, r in rows.items()} == {"short": 8, "long": 24}  # seconds x fps
    assert _npy_frames(curated) == [8, 24]
    assert {name: _meta(r)["sample_fps"] for name, r in rows.items()} == {"short": 8.0, "long": 8.0}
    assert _meta(rows["short"])["frame_indices"] == list(range(8))  # every source frame of the 8 fps file
    assert len(set(_meta(rows["long"])["frame_indices"])) == 24 and max(_meta(rows["long"])["frame_indices"]) > 30  # of 36


def test_the_default_still_takes_frames_evenly(tmp_path):
    _, curated, rows = _curate(tmp_path, DEMO_OPTIONS["frames"])
    n = DEMO_OPTIONS["frames"]
    assert {r[1] for r in rows.values()} == {"accepted"} and {r[3] for r in rows.values()} == {n}
    assert _npy_frames(curated) == [n, n]
    # ticks 0, 8, 15, 23 of 24 (4 evenly), the 12 fps source's nearest frames; the rate of those frames
    assert _meta(rows["long"])["frame_indices"] == [0, 12, 22, 34]
    assert abs(_meta(rows["long"])["sample_fps"] - 3 / (34 / 12)) < 0.01


def test_frames_0_is_taken_and_a_negative_count_refused_in_one_line_naming_0():
    from preprocess.modality import get_plugin

    assert get_plugin("video").options({"frames": 0}).frames == 0
    with pytest.raises(ValueError, match=r"^video options: frames must be >= 0 \(0: every frame at fps, the clip's own length\), got -1$"):
        get_plugin("video").options({"frames": -1})


def test_clips_of_different_lengths_train_with_a_token_budget(variable, tmp_path):
    from catalog import Catalog, load_manifest
    from contracts.layout import Workspace
    from preprocess.encode import EncodeConfig, encode
    from training.data import load_examples
    from training.trainer import TrainConfig, train

    home = variable[0]
    encoded = encode(home, "video", EncodeConfig(text="phone"), backend="local")  # phone: the cheapest text features
    catalog = str(home / "catalog.duckdb")
    with Catalog.open(catalog) as cat:
        run = cat.start_run("test", {})
        cat.register_batches(encoded.batch_paths, run)
        cat.finish_run(run)
        cat.create_manifest("clips", "modality = 'video'")
    latents = sorted(tuple(e.latent.shape) for e in load_examples(load_manifest(catalog, "clips")))
    assert latents == [(1, 8, 16, 16), (1, 24, 16, 16)]  # [C, T, H, W]: identity latents of the grey clips
    null = Workspace.at(home).null_caption(encoded.text_encoder)
    cfg = TrainConfig(catalog=catalog, manifest="clips", out_dir=str(tmp_path / "run"), null_caption=str(null),
                      model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4, "rope": "axial", "axial_frames": True},
                      steps=2, batch_size=8, tokens_per_batch=2048, bucket_ratio=None, log_every=1, warmup_steps=1,
                      progress=False, tensorboard=False)
    result = train(cfg)  # no buckets: both clips in one batch, the 8-frame one padded to the 24-frame one
    assert result.steps == 2 and result.losses and all(math.isfinite(loss) for _, loss in result.losses)
    # 16 tokens + 4 [nextline] + 1 [nextframe] a frame: 168 and 504 tokens, a batch of both 1008 padded
    assert result.padding_fraction == pytest.approx(1 - (168 + 504) / (2 * 504))


def test_frames_0_judges_jitter_on_the_frames_the_default_judges():
    """Motion and jitter stay measured on MOTION_FRAMES over the clip whatever `frames` is: a clip that
    wobbles 2 px on alternate frames while panning is steady on 8 frames over it (jitter 1.0) and is
    kept by the default; on its 24 ticks the wobble would read 2.6 and reject it at frames 0 alone."""
    from preprocess.video.decode import DecodedVideo
    from preprocess.video.demo_corpus import render
    from preprocess.video.plugin import VideoOptions, VideoPlugin

    sprite = np.kron(np.random.default_rng(1).integers(0, 256, (4, 4)), np.ones((4, 4))).astype(np.uint8)
    n = 24
    grey = render(sprite, [(min(16, round(16 * k / (n - 1)) + 2 * (k % 2)), 8) for k in range(n)])
    video = DecodedVideo(np.repeat(grey[..., None], 3, axis=-1), np.arange(n) / FPS, float(FPS), n / FPS, "mp4", "h264")
    base = dict(modality="video", source_uri="wobble.mp4", caption="a wobbling pan", split="train")
    scores = {}
    for frames in (0, 8):
        cand = VideoPlugin()._clip(None, video, "k", 0, 1, 0.0, n / FPS, 0.0, base, VideoOptions(fps=FPS, frames=frames, quality=False))
        scores[frames] = {v.filter: v.score for v in cand.verdicts if v.filter in ("motion", "jitter")}
        assert cand.record.status == "accepted" and cand.record.frames == (frames or n), (frames, cand.record)
    assert scores[0] == scores[8] and scores[0]["jitter"] == 1.0
