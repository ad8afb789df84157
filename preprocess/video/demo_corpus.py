"""The embedded text-to-video corpus of the demo, written as a user's folder would look.

scikit-learn's handwritten digits (8x8, upscaled to 16x16) move left, right, up or down across a
32x32 black canvas over two seconds at 8 fps, encoded as real files: H.264 MP4 for most, a few
animated GIFs and VP9 WebMs. Each file has a caption .txt beside it that says what is visible
("a thick 7 moving up"). Planted bad inputs sit in planted/. The output is deterministic (one
encoder thread, fixed settings): the same arguments write the same bytes, so keys are stable.
"""

from __future__ import annotations

import json
from fractions import Fraction
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image

CANVAS = 32
DIGIT = 16
FPS = 8
SECONDS = 2.0
DIRECTIONS = ("left", "right", "up", "down")


@dataclass
class VideoCorpus:
    root: Path
    num_clips: int
    planted: dict[str, str] = field(default_factory=dict)  # kind of bad input -> file (relative)


def digit_sprite(pixels8: np.ndarray) -> np.ndarray:
    """sklearn's 8x8 digit (0..16) -> [16, 16] uint8."""
    img = Image.fromarray((pixels8 / 16.0 * 255).astype(np.uint8), mode="L")
    return np.asarray(img.resize((DIGIT, DIGIT), Image.BICUBIC))


def thickness(sprite: np.ndarray) -> str:
    ink = (sprite > 127).mean()
    return "thin" if ink < 0.22 else "thick" if ink > 0.33 else ""


def caption_for(label: int, sprite: np.ndarray, direction: str) -> str:
    t = thickness(sprite)
    return f"a {t + ' ' if t else ''}{label} moving {direction}"


def path(direction: str, offset: int, n: int) -> list[tuple[int, int]]:
    """(x, y) top-left positions of the sprite for n frames, crossing the canvas once."""
    span = CANVAS - DIGIT
    lo, hi = 0, span
    out = []
    for k in range(n):
        p = round(lo + (hi - lo) * k / max(1, n - 1))
        out.append({"right": (p, offset), "left": (span - p, offset), "down": (offset, p), "up": (offset, span - p)}[direction])
    return out


def render(sprite: np.ndarray, positions: list[tuple[int, int]], brightness: int = 0) -> np.ndarray:
    """[N, CANVAS, CANVAS] uint8 frames."""
    frames = np.zeros((len(positions), CANVAS, CANVAS), np.uint8)
    s = np.clip(sprite.astype(np.int16) + brightness, 0, 255).astype(np.uint8)
    for k, (x, y) in enumerate(positions):
        frames[k, y : y + DIGIT, x : x + DIGIT] = np.maximum(frames[k, y : y + DIGIT, x : x + DIGIT], s)
    return frames


def write_video(p: Path, frames: np.ndarray, fps: int = FPS, fmt: str = "mp4", faststart: bool = False) -> None:
    """Grey frames [N, H, W] uint8 -> a real encoded file: mp4 (H.264), webm (VP9) or gif."""
    import av

    rgb = np.repeat(frames[..., None], 3, axis=-1)
    codec, pix = {"mp4": ("libx264", "yuv420p"), "webm": ("libvpx-vp9", "yuv420p"), "gif": ("gif", "rgb8")}[fmt]
    options = {"fflags": "+bitexact", **({"movflags": "+faststart"} if faststart else {})}  # bitexact: no dates
    with av.open(str(p), "w", format=fmt, options=options) as out:
        s = out.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], pix
        s.thread_count = 1  # deterministic bytes
        s.time_base = Fraction(1, fps)
        if fmt == "mp4":
            s.options = {"crf": "12", "preset": "veryfast", "x264-params": "threads=1:lookahead-threads=1:sliced-threads=0:rc-lookahead=0"}
        elif fmt == "webm":
            s.options = {"crf": "20", "b": "0", "threads": "1", "row-mt": "0", "deadline": "good", "cpu-used": "4"}
        for k, f in enumerate(rgb):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            frame.pts = k  # explicit timestamps (in 1/fps): nothing left for the muxer to guess
            out.mux(s.encode(frame))
        out.mux(s.encode(None))


def write_audio_only(p: Path, seconds: float = 1.0, rate: int = 16000) -> None:
    """An mp4 that holds one AAC audio stream and no video."""
    import av

    t = np.arange(int(seconds * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    with av.open(str(p), "w", format="mp4") as out:
        s = out.add_stream("aac", rate=rate)
        s.layout = "mono"
        for i in range(0, len(tone), 1024):
            frame = av.AudioFrame.from_ndarray(tone[None, i : i + 1024], format="fltp", layout="mono")
            frame.sample_rate = rate
            out.mux(s.encode(frame))
        out.mux(s.encode(None))


def _save(p: Path, frames: np.ndarray, caption: str | bytes | None, fmt: str = "mp4", **kw) -> None:
    write_video(p, frames, fmt=fmt, **kw)
    if caption is not None:
        p.with_suffix(".txt").write_bytes(caption if isinstance(caption, bytes) else caption.encode("utf-8"))


def _format(i: int) -> str:
    return "gif" if i % 20 == 7 else "webm" if i % 20 == 13 else "mp4"


def write_demo_corpus(root: str | Path, num_clips: int = 1000, seed: int = 0) -> VideoCorpus:
    """Write the corpus under ``root`` (same arguments, same bytes)."""
    from preprocess.digits import load_digit_images

    root = Path(root)
    readme = root / "README.json"
    if readme.exists():  # written last: a complete corpus of the same arguments is reused as it is
        done = json.loads(readme.read_text())
        if done.get("arguments") == {"num_clips": num_clips, "seed": seed}:
            return VideoCorpus(root, done["clips"], done["planted"])
    (root / "clips").mkdir(parents=True, exist_ok=True)
    (root / "planted").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images, target = load_digit_images()
    digits = SimpleNamespace(images=images, target=target)  # as load_digits' Bunch has them
    n = min(num_clips, len(digits.images) - 2)  # the last two digits are kept for the planted scene cut
    n_frames = int(FPS * SECONDS)
    first: tuple | None = None
    for i in range(n):
        sprite, label = digit_sprite(digits.images[i]), int(digits.target[i])
        direction = DIRECTIONS[int(rng.integers(4))]
        offset = (CANVAS - DIGIT) // 2 + int(rng.integers(-2, 3))
        fmt = _format(i)
        _save(root / "clips" / f"clip_{i:05d}.{fmt}", render(sprite, path(direction, offset, n_frames)), caption_for(label, sprite, direction), fmt)
        first = first or (direction, offset)
    planted = _write_planted(root / "planted", digits, n_frames, first)
    readme.write_text(json.dumps({"clips": n, "planted": planted, "arguments": {"num_clips": num_clips, "seed": seed}}, indent=1))
    return VideoCorpus(root, n, planted)


def _write_planted(folder: Path, digits, n_frames: int, first_clip: tuple[str, int] | None) -> dict[str, str]:
    """The bad inputs a real video folder has. kind -> path relative to the corpus root."""
    sprite0, label0 = digit_sprite(digits.images[0]), int(digits.target[0])
    mid = (CANVAS - DIGIT) // 2
    right = render(sprite0, path("right", mid, n_frames))
    planted: dict[str, str] = {}

    # An mp4 cut off after 60% of its bytes (moov first, so the header still promises every frame).
    p = folder / "truncated.mp4"
    _save(p, right, "a 0 moving right", faststart=True)
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * 0.6)])
    planted["truncated"] = "planted/truncated.mp4"

    p = folder / "empty.mp4"
    p.write_bytes(b"")
    p.with_suffix(".txt").write_text("a 0 moving right")
    planted["zero_bytes"] = "planted/empty.mp4"

    p = folder / "audio_only.mp4"
    write_audio_only(p)
    p.with_suffix(".txt").write_text("a 440 Hz tone")
    planted["no_video_stream"] = "planted/audio_only.mp4"

    _save(folder / "static.mp4", render(sprite0, [(mid, mid)] * n_frames), f"a {label0} standing still")
    planted["static"] = "planted/static.mp4"

    # Two shots of the same action joined by a hard cut: two handwritings of one digit, both moving
    # right, at different heights. The source becomes two clips, both true to the caption.
    a, b = len(digits.images) - 2, len(digits.images) - 1
    b = next(j for j in range(len(digits.images) - 1, 0, -1) if digits.target[j] == digits.target[a] and j != a)
    shot1 = render(digit_sprite(digits.images[a]), path("right", 2, n_frames))
    shot2 = render(digit_sprite(digits.images[b]), path("right", CANVAS - DIGIT - 2, n_frames))
    _save(folder / "scene_cut.mp4", np.concatenate([shot1, shot2]), f"a {int(digits.target[a])} moving right")
    planted["scene_cut"] = "planted/scene_cut.mp4"

    _save(folder / "too_short.mp4", right[: FPS // 2], "a 0 moving right")
    planted["too_short"] = "planted/too_short.mp4"

    _save(folder / "latin1_caption.mp4", render(sprite0, path("up", mid, n_frames)), "un z\xe9ro qui monte".encode("latin-1"))
    planted["non_utf8_caption"] = "planted/latin1_caption.mp4"

    # Camera shake: the digit jumps back and forth around the centre.
    shake = [(mid + dx, mid + dy) for dx, dy in [(-6, 0), (6, 3), (-6, -3), (6, 0)] * (n_frames // 4)]
    _save(folder / "jittery.mp4", render(sprite0, shake), f"a {label0} shaking")
    planted["jittery"] = "planted/jittery.mp4"

    # The same clip again (same bytes, same caption) and a brighter re-encode with another caption.
    first = folder.parent / "clips" / "clip_00000.mp4"
    if first_clip is not None:
        (folder / "exact_duplicate.mp4").write_bytes(first.read_bytes())
        (folder / "exact_duplicate.txt").write_bytes(first.with_suffix(".txt").read_bytes())
        planted["exact_duplicate"] = "planted/exact_duplicate.mp4"
        direction, offset = first_clip
        _save(folder / "near_duplicate.mp4", render(sprite0, path(direction, offset, n_frames), brightness=-6),
              f"a handwritten {label0} moving {direction}")
        planted["near_duplicate"] = "planted/near_duplicate.mp4"

    _save(folder / "missing_caption.mp4", render(sprite0, path("down", mid, n_frames)), None)
    planted["missing_caption"] = "planted/missing_caption.mp4"
    return planted

