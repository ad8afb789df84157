"""The video judges and renders on known clips: the trajectory rule reads the demo's directions,
captions parse, renders decode back to the frames they were given."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from evaluation.video.judge import DIRECTIONS, clip_labels, direction_of
from evaluation.video.render import grid_frames, save_gif, save_samples, to_frames
from preprocess.video.demo_corpus import CANVAS, DIGIT, path, render


def _clip(direction: str, frames: int = 4) -> torch.Tensor:
    from sklearn.datasets import load_digits

    from preprocess.video.demo_corpus import digit_sprite

    grey = render(digit_sprite(load_digits().images[3]), path(direction, (CANVAS - DIGIT) // 2, frames))
    return torch.from_numpy(grey.astype(np.float32) / 127.5 - 1.0)[None]  # [1, T, H, W]


def test_captions_parse_to_digit_and_direction():
    assert clip_labels("a thick 7 moving up") == (7, DIRECTIONS.index("up"))
    assert clip_labels("a 0 moving left") == (0, 0)
    assert clip_labels("a 440 Hz tone") is None and clip_labels("a 3 standing still") is None


@pytest.mark.parametrize("frames", [4, 8])
def test_direction_from_trajectory(frames):
    clips = torch.stack([_clip(d, frames) for d in DIRECTIONS])
    assert direction_of(clips).tolist() == [0, 1, 2, 3]
    assert direction_of(clips.flip(2)).tolist() == [1, 0, 3, 2]  # played backwards, every direction flips


def test_renders_decode_back(tmp_path):
    import av

    clip = _clip("right", 6).numpy()
    paths = save_samples([clip, clip], tmp_path / "out.mp4")
    assert [p.name for p in paths] == ["out_1.mp4", "out_2.mp4", "out.mp4.frames.png"]
    with av.open(str(paths[0])) as c:
        frames = [f.to_ndarray(format="gray") for f in c.decode(video=0)]
    assert len(frames) == 6 and frames[0].shape == (128, 128)  # upscaled x4
    # the digit travels right: its ink's column centre grows frame by frame
    cx = [(f.astype(float) * np.arange(f.shape[1])).sum() / f.sum() for f in frames]
    assert all(b > a for a, b in zip(cx, cx[1:]))
    gif = save_gif(grid_frames([to_frames(clip)] * 3, cols=2), tmp_path / "g.gif")
    from PIL import Image

    img = Image.open(gif)
    assert img.n_frames == 6 and img.size == (2 * (CANVAS + 2) * 4, 2 * (CANVAS + 2) * 4)


def test_an_mp4_and_a_gif_of_the_same_name_keep_their_own_frame_strips(tmp_path):
    """`--out x.mp4` then `--out x.gif` both wrote x_frames.png: the second overwrote the first's strip."""
    from PIL import Image

    right, left = _clip("right", 4).numpy(), _clip("left", 6).numpy()
    mp4 = save_samples([right], tmp_path / "x.mp4")
    gif = save_samples([left], tmp_path / "x.gif")
    assert [p.name for p in mp4] == ["x.mp4", "x.mp4.frames.png"] and [p.name for p in gif] == ["x.gif", "x.gif.frames.png"]
    widths = {p.name: Image.open(p).size[0] for p in (mp4[-1], gif[-1])}
    assert widths["x.mp4.frames.png"] * 6 == widths["x.gif.frames.png"] * 4  # 4 frames and 6 frames: both strips still there


def _examples(counts: dict[int, int], fps: float | None = 1.6):
    """Held-out clips: counts[digit] clips of each digit, moving in turn left, right, up, down."""
    from sklearn.datasets import load_digits

    from preprocess.video.demo_corpus import digit_sprite
    from training.data import Example

    data = load_digits()
    out = []
    for d, n in counts.items():
        images = data.images[data.target == d]
        for k in range(n):
            direction = DIRECTIONS[k % 4]
            grey = render(digit_sprite(images[k]), path(direction, (CANVAS - DIGIT) // 2, 4))
            latent = torch.from_numpy(grey.astype(np.float32) / 127.5 - 1.0)[None]
            meta = {"sample_fps": fps} if fps else {}
            out.append(Example(f"{d}-{k}", latent, torch.zeros(4, 8), torch.ones(4, dtype=torch.bool),
                               f"a {d} moving {direction}", "holdout", meta))
    return out


def _evaluate(tmp_path, examples, per_class, monkeypatch):
    from functools import partial

    import evaluation.video.metrics as vm
    from evaluation.video.metrics import evaluate_video
    from tests.evaluation.fakes import fake_context

    monkeypatch.setattr(vm, "train_clip_judge", partial(vm.train_clip_judge, steps=3))  # its accuracy is not tested here

    ctx = fake_context(examples, lambda ex, seed: torch.stack([e.latent for e in ex]), tmp_path, samples_per_class=per_class)
    metrics, renders = evaluate_video(ctx)
    return ctx, metrics, renders


def test_video_evaluation_notes_its_shortfalls_and_plays_renders_at_the_training_rate(tmp_path, monkeypatch):
    """metrics.json had notes: [] where speech notes the same shortfalls: 19 clips generated of 20
    (the held-out manifest had one clip of digit 4), a judge resting on a handful of real clips; and
    samples.gif played at 4 fps whatever the clips' rate (the demo's: 1.6 fps, 2.5x too fast)."""
    import av
    from PIL import Image

    ctx, metrics, renders = _evaluate(tmp_path, _examples({0: 2, 1: 2, 4: 1, 7: 2}), 2, monkeypatch)
    assert metrics["num_generated"] == 7.0 and metrics["num_judge_test_clips"] == 1.0
    notes = "\n".join(ctx.notes)
    assert "7 clips generated, not 2 per digit (8)" in notes and "only 1 of digit 4" in notes
    assert "no held-out clip of digit 2, 3, 5, 6, 8, 9" in notes
    assert "rests on 1 real held-out clip(s) (the judge trained on 6)" in notes
    assert metrics["render_fps"] == 1.6
    gif = Image.open(renders["gif"])
    assert gif.info["duration"] == 620  # 1.6 fps, in GIF's centiseconds
    with av.open(renders["mp4_0"]) as c:
        assert c.streams.video[0].average_rate * 5 == 8 and [round(f.time, 3) for f in c.decode(video=0)] == [0, 0.625, 1.25, 1.875]


def test_video_evaluation_without_a_known_rate_plays_at_4_fps_and_says_so(tmp_path, monkeypatch):
    ctx, metrics, renders = _evaluate(tmp_path, _examples({d: 2 for d in range(10)}, fps=None), 2, monkeypatch)
    assert metrics["render_fps"] == 4.0 and gif_duration(renders["gif"]) == 250
    assert [n for n in ctx.notes if "frame rate is unknown" in n]
    assert not [n for n in ctx.notes if "per digit" in n or "no held-out clip" in n]  # every digit has its 2 clips


def gif_duration(gif: str) -> int:
    from PIL import Image

    return Image.open(gif).info["duration"]


def test_a_video_judge_at_chance_is_noted_by_the_evaluation():
    """The judge-at-chance note comes from evaluation.evaluate for every modality: video's metric
    names must be the ones it reads (judge_<x>_accuracy beside <x>_chance)."""
    from evaluation.evaluate import warn_if_the_judge_is_no_judge

    said = warn_if_the_judge_is_no_judge({"judge_digit_accuracy": 0.1, "digit_chance": 0.1, "judge_direction_accuracy": 1.0,
                                          "direction_chance": 0.25})
    assert len(said) == 1 and said[0].startswith("the digit judge scores 0.100 on real held-out data, no better than chance")


def test_lumina_sample_writes_video_at_the_training_rate_and_warns_past_the_trained_frames(tmp_path, monkeypatch, caplog):
    """`lumina sample` wrote 4 fps whatever the training clips' rate, and --frames 6 on a 4-frame
    model gave garbled frames 5-6 without a word."""
    import json
    import logging
    from types import SimpleNamespace

    import evaluation.video.sample as vs
    from evaluation.sample import sampling_of

    (tmp_path / "training.json").write_text(json.dumps({"latent_shape": [1, 4, 16, 16],
                                                         "latent_shapes": [[[1, 4, 16, 16], 30], [[1, 3, 16, 16], 2]]}))
    hook = sampling_of("video")
    assert hook.prepare is vs.prepare and vs.trained_frames(tmp_path) == 4
    with caplog.at_level(logging.WARNING, logger="evaluation.video.sample"):
        assert hook.prepare(SimpleNamespace(frames=6), tmp_path, [1, 6, 16, 16]) == ([1, 6, 16, 16], {})
        hook.prepare(SimpleNamespace(frames=4), tmp_path, [1, 4, 16, 16])
        hook.prepare(SimpleNamespace(frames=None), tmp_path, [1, 4, 16, 16])
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and said[0].startswith("--frames 6: this checkpoint was trained on clips of 4 frames; frames 5-6")

    assert vs.training_fps(tmp_path, str(tmp_path / "no.duckdb")) is None  # no catalog
    monkeypatch.setattr(vs, "training_fps", lambda ckpt, catalog=None: 1.6)
    assert hook.writer_options(SimpleNamespace(catalog=None), tmp_path) == {"fps": 1.6}
    paths = save_samples([_clip("right").numpy()], tmp_path / "clip.gif", **hook.writer_options(SimpleNamespace(), tmp_path))
    assert gif_duration(str(paths[0])) == 620
    monkeypatch.setattr(vs, "training_fps", lambda ckpt, catalog=None: None)
    with caplog.at_level(logging.WARNING, logger="evaluation.video.render"):
        paths = save_samples([_clip("right").numpy()], tmp_path / "other.gif", **hook.writer_options(SimpleNamespace(), tmp_path))
    assert gif_duration(str(paths[0])) == 250 and "frame rate is unknown" in caplog.records[-1].getMessage()


def test_gif_frame_durations_are_the_nearest_centisecond(tmp_path):
    """Pillow truncates a duration to centiseconds: 4.0441 fps (247 ms) played at 4.17 fps (240 ms)."""
    from PIL import Image

    frames = np.stack([np.full((8, 8), v, np.uint8) for v in (0, 120, 240)])  # alike frames would be merged
    for fps, ms in ((4.0441, 250), (2.5735, 390), (1.6, 620), (8.0, 120)):
        with Image.open(save_gif(frames, tmp_path / f"{fps}.gif", fps=fps)) as img:
            assert img.info["duration"] == ms, fps


def test_video_evaluation_of_free_form_captions_says_why_the_judged_metrics_are_absent(tmp_path, monkeypatch):
    """On a user's own captions the digit and direction metrics were left out with notes: []."""
    examples = [dataclasses.replace(e, caption=f"a red ball rolling {i}") for i, e in enumerate(_examples({0: 2, 1: 2}))]
    ctx, metrics, _ = _evaluate(tmp_path, examples, 2, monkeypatch)
    assert "digit_accuracy" not in metrics
    assert [n for n in ctx.notes if n.startswith("no digit_accuracy") and "none of the 4 does" in n and "a red ball rolling 0" in n]
