"""Renders of generated clips: an animated GIF grid, one MP4 per clip, a PNG frame strip to look at."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

OUT_SUFFIXES = (".mp4", ".gif")  # what lumina sample can write (the first: the default)


def to_frames(pixels: np.ndarray) -> np.ndarray:
    """[C, T, H, W] floats in [-1, 1] (C = 1 or 3) -> [T, H, W, 3] uint8."""
    x = np.clip((np.asarray(pixels, dtype=np.float32) + 1.0) * 127.5, 0, 255).round().astype(np.uint8)
    x = x.transpose(1, 2, 3, 0)
    return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x[..., :3]


def _upscale(frames: np.ndarray, k: int | None) -> np.ndarray:
    """Nearest-neighbour upscale of [T, H, W, 3] by k."""
    return frames.repeat(k, axis=1).repeat(k, axis=2) if k > 1 else frames


def auto_scale(h: int, w: int) -> int:
    return int(min(8, max(1, 128 // max(h, w))))


def grid_frames(clips: list[np.ndarray], cols: int = 4, upscale: int | None = None) -> np.ndarray:
    """clips: [T_i, H, W, 3] uint8 -> [T, rows*(H+2)*k, cols*(W+2)*k, 3]; shorter clips hold their last frame."""
    t = max(c.shape[0] for c in clips)
    h, w = max(c.shape[1] for c in clips), max(c.shape[2] for c in clips)
    rows = (len(clips) + cols - 1) // cols
    out = np.full((t, rows * (h + 2), cols * (w + 2), 3), 64, np.uint8)
    for i, c in enumerate(clips):
        r, col = divmod(i, cols)
        c = np.concatenate([c, np.repeat(c[-1:], t - c.shape[0], axis=0)]) if c.shape[0] < t else c
        out[:, r * (h + 2) + 1 : r * (h + 2) + 1 + c.shape[1], col * (w + 2) + 1 : col * (w + 2) + 1 + c.shape[2]] = c
    return _upscale(out, upscale or auto_scale(h, w))


DEFAULT_FPS = 4.0  # when the training clips' frame rate is unknown (a catalog that cannot be reached)


def save_gif(frames: np.ndarray, path: Path, fps: float = DEFAULT_FPS) -> Path:
    """GIF frame durations are whole centiseconds: 1.6 fps (625 ms) is written as 620 ms (1.61 fps).
    Rounded here: Pillow truncates milliseconds to centiseconds (247 ms, 4.04 fps, became 240)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    imgs = [Image.fromarray(f) for f in frames]
    imgs[0].save(path, save_all=True, append_images=imgs[1:], duration=10 * round(100 / fps), loop=0)
    return path


def _rate(fps: float) -> Fraction:
    """fps as the exact fraction a stream's rate and time base take (1.6 -> 8/5)."""
    return Fraction(fps).limit_denominator(1001)


def save_mp4(frames: np.ndarray, path: Path, fps: float = DEFAULT_FPS, upscale: int | None = None) -> Path:
    """H.264 in yuv420p (players need even sizes: frames are upscaled, then an odd side gets a copy of
    its last row or column, not a black line)."""
    import av

    f = _upscale(frames, upscale or auto_scale(*frames.shape[1:3]))
    h, w = f.shape[1] + f.shape[1] % 2, f.shape[2] + f.shape[2] % 2
    f = np.pad(f, ((0, 0), (0, h - f.shape[1]), (0, w - f.shape[2]), (0, 0)), mode="edge")
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as out:
        rate = _rate(fps)
        s = out.add_stream("libx264", rate=rate)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.time_base = 1 / rate
        s.options = {"crf": "12", "x264-params": "threads=1:lookahead-threads=1"}
        for k, frame in enumerate(f):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            vf.pts = k
            out.mux(s.encode(vf))
        out.mux(s.encode(None))
    return path


STRIP_MAX_FRAMES = 32  # a longer clip's strip shows every k-th frame, at most this many
STRIP_MAX_WIDTH = 8192  # px: and no more than fit in this width (a 500-frame strip of 32 px frames was 68,000 px wide)


def strip_frames(t: int, cell_width: int) -> np.ndarray:
    """Which of ``t`` frames a strip shows: all of them, or every k-th from the first (one time step
    between cells, so the motion reads as it plays), the fewest k that leaves at most STRIP_MAX_FRAMES
    cells and at most STRIP_MAX_WIDTH px of cells ``cell_width`` px wide (never under 2 cells)."""
    n = min(STRIP_MAX_FRAMES, max(2, STRIP_MAX_WIDTH // max(1, cell_width)))
    return np.arange(0, t, -(-t // n))


def save_strip(clips: list[np.ndarray], path: Path, upscale: int | None = None) -> Path:
    """One row per clip, its frames left to right: the whole motion in one PNG. A clip longer than
    the strip holds (strip_frames) shows evenly spaced frames: said in a line and in the PNG's text
    chunk ``frames`` (the frame numbers shown, from 0)."""
    t = max(c.shape[0] for c in clips)
    h, w = max(c.shape[1] for c in clips), max(c.shape[2] for c in clips)
    k = upscale or auto_scale(h, w)
    shown = strip_frames(t, (w + 2) * k)
    canvas = np.full((len(clips) * (h + 2), len(shown) * (w + 2), 3), 64, np.uint8)
    for i, c in enumerate(clips):
        for j, f in enumerate(c[shown[shown < len(c)]]):
            canvas[i * (h + 2) + 1 : i * (h + 2) + 1 + f.shape[0], j * (w + 2) + 1 : j * (w + 2) + 1 + f.shape[1]] = f
    path.parent.mkdir(parents=True, exist_ok=True)
    info = None
    if len(shown) < t:
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_text("frames", " ".join(str(int(i)) for i in shown))
        logging.getLogger(__name__).warning("%s shows every %s of the clip's %d frames: %d of them (frames %s)", path.name,
                                            _ordinal(int(shown[1] - shown[0])), t, len(shown), _numbers(shown))
    Image.fromarray(_upscale(canvas[None], k)[0]).save(path, pnginfo=info)
    return path


def _ordinal(k: int) -> str:
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def _numbers(idx: np.ndarray) -> str:
    """'0, 16, 32, ..., 499': the first three and the last of the frame numbers."""
    nums = [str(int(i)) for i in idx]
    return ", ".join(nums) if len(nums) <= 5 else ", ".join([*nums[:3], "...", nums[-1]])


def save_clips(clips: list[np.ndarray], folder: Path, fps: float) -> dict[str, str]:
    """One MP4 per clip ([T, H, W, 3] uint8), ``folder/sample_NN.mp4``, as renders ``mp4_N``. A former
    evaluation's are removed first: one with a larger --grid-size left its later clips beside this
    one's (other settings, or another checkpoint's out-dir)."""
    for stale in folder.glob("sample_[0-9][0-9].mp4"):
        stale.unlink()
    return {f"mp4_{i}": str(save_mp4(clip, folder / f"sample_{i:02d}.mp4", fps)) for i, clip in enumerate(clips)}


def strip_path(out: Path) -> Path:
    """Where the frame strip of ``out`` goes: its whole name (suffix included) + ``.frames.png``."""
    return out.with_name(out.name + ".frames.png")


def save_samples(decoded: list[np.ndarray], out: Path, fps: float | None = None) -> list[Path]:
    """`lumina sample`: one clip per sample as MP4 (or GIF when ``out`` ends in .gif), and a PNG
    frame strip of all of them beside the first, named after the whole output name:
    ``clip.mp4`` -> ``clip.mp4.frames.png``, ``clip.gif`` -> ``clip.gif.frames.png``, so an MP4 and a
    GIF of the same name each keep their own strip. ``fps``: the frame rate of the training clips
    (their meta ``sample_fps``), so motion plays at the speed it was learnt; None: DEFAULT_FPS, said
    in a warning."""
    out = Path(out)
    if out.suffix.lower() not in (".mp4", ".gif"):
        out = out.with_suffix(".mp4")
    if not fps or fps <= 0:
        logging.getLogger(__name__).warning(
            "the training clips' frame rate is unknown (their catalog is not reachable: --home or --catalog); "
            "writing at %g fps, which may play the motion faster or slower than it was learnt", DEFAULT_FPS)
        fps = DEFAULT_FPS
    clips = [to_frames(x) for x in decoded]
    paths = []
    for i, c in enumerate(clips):
        p = out if len(clips) == 1 else out.with_name(f"{out.stem}_{i + 1}{out.suffix}")
        paths.append(save_gif(_upscale(c, auto_scale(*c.shape[1:3])), p, fps) if p.suffix.lower() == ".gif" else save_mp4(c, p, fps))
    paths.append(save_strip(clips, strip_path(out)))
    return paths
