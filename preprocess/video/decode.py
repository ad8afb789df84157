"""Decode and validate one video file with PyAV (FFmpeg): container, stream, frames, fps, duration.

Every expected failure is a ``VideoRejected`` with a stable kind and a detail free of paths and
addresses, so a rerun writes the same reason. Unreadable or truncated files are quarantined
(a person should look at them); a readable file that is simply not a usable video (no video
stream, too few frames) is rejected with a score and threshold.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".gif", ".webp", ".png", ".apng")
CONTAINERS = {"mov", "mp4", "matroska", "webm", "avi", "gif"}  # FFmpeg's demuxer names for those suffixes


@dataclass
class VideoRejected(Exception):
    kind: str
    detail: str
    status: str = "quarantined"  # quarantined: unreadable; rejected: readable but unusable
    score: float | None = None
    threshold: float | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass
class DecodedVideo:
    frames: np.ndarray  # [N, H, W, 3] uint8
    times: np.ndarray  # [N] seconds from the first frame
    fps: float  # the stream's average rate
    duration: float  # seconds covered: last frame time + one frame
    container: str
    codec: str

    @property
    def size(self) -> tuple[int, int]:
        return int(self.frames.shape[2]), int(self.frames.shape[1])  # (w, h)


def _clean(e: Exception) -> str:
    """FFmpeg's message without the errno prefix; stable across runs."""
    msg = getattr(e, "strerror", None) or str(e)
    return f"{type(e).__name__}: {msg}"


def upright(frame: np.ndarray, rotation: float | None) -> np.ndarray:
    """The frame as a player shows it: turned by the stream's display matrix (phone videos shot
    upright are stored sideways with a rotation tag). ``rotation`` is FFmpeg's counter-clockwise
    angle of the matrix; players turn the picture by it, as ``np.rot90`` does for positive turns."""
    turns = round((rotation or 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(frame, turns)) if turns else frame


def decode_video(data: bytes, max_frames: int = 20_000, max_pixels: int = 4096 * 4096, work_side: int | None = None) -> DecodedVideo:
    """All frames of the first video stream as RGB, scaled down (never up) so the long side is at
    most ``work_side`` (memory: curation never needs full HD). Raises VideoRejected for expected failures."""
    import av

    if not data:
        raise VideoRejected("empty_file", "0 bytes")
    if data[:8] == b"\x89PNG\r\n\x1a\n" or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return _decode_animated_image(data, max_frames, max_pixels, work_side)
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError, OSError) as e:
        raise VideoRejected("decode_error", _clean(e)) from None
    with container:
        if not set(container.format.name.split(",")) & CONTAINERS:  # FFmpeg reads e.g. text as CD+G graphics
            raise VideoRejected("decode_error", f"not a video container (FFmpeg guessed {container.format.name!r})")
        streams = container.streams
        if not streams.video:
            kinds = sorted({s.type for s in streams})
            raise VideoRejected("no_video_stream", f"streams: {', '.join(kinds) or 'none'}", "rejected", 0.0, 1.0)
        stream = streams.video[0]
        ctx = stream.codec_context
        if ctx.width * ctx.height > max_pixels:
            raise VideoRejected("too_many_pixels", f"{ctx.width}x{ctx.height}", "quarantined", float(ctx.width * ctx.height), float(max_pixels))
        rate = float(stream.average_rate or stream.guessed_rate or 0) or None
        declared = int(stream.frames or 0)  # from the container header; 0 when unknown (webm, some gifs)
        scale = 1.0 if not work_side else min(1.0, work_side / max(ctx.width, ctx.height))
        size = dict(width=max(2, round(ctx.width * scale)), height=max(2, round(ctx.height * scale))) if scale < 1 else {}
        frames, times = [], []
        try:
            for frame in container.decode(stream):
                # A stream that changes size mid-way (screen and WebRTC recordings) is scaled to the
                # first frame's size, so the clip stays one array.
                arr = frame.to_ndarray(format="rgb24", **size)
                if not size:
                    size = dict(width=arr.shape[1], height=arr.shape[0])
                frames.append(upright(arr, frame.rotation))
                times.append(frame.time)
                if len(frames) > max_frames:
                    raise VideoRejected("too_many_frames", f"more than {max_frames}", "rejected", float(len(frames)), float(max_frames))
        except av.FFmpegError as e:
            if declared > len(frames):  # the header promised more: the file was cut short
                raise VideoRejected("truncated", f"decoded {len(frames)} of {declared} frames: {_clean(e)}") from None
            raise VideoRejected("decode_error", f"after {len(frames)} frames: {_clean(e)}") from None
        if not frames:
            if declared:
                raise VideoRejected("truncated", f"no frame decoded (header declares {declared})")
            raise VideoRejected("no_frames", "the video stream holds no frame", "rejected", 0.0, 1.0)
        if declared and len(frames) < declared:
            raise VideoRejected("truncated", f"decoded {len(frames)} of {declared} frames")
        fps = rate or 1.0
        t = np.array([(i / fps) if v is None else float(v) for i, v in enumerate(times)], dtype=np.float64)
        t = t - t[0]
        if len(t) > 1 and np.any(np.diff(t) <= 0):  # broken timestamps: fall back to the nominal rate
            t = np.arange(len(t)) / fps
        return DecodedVideo(np.stack(frames), t, fps, float(t[-1] + 1.0 / fps), container.format.name, ctx.name)


def _decode_animated_image(data: bytes, max_frames: int, max_pixels: int, work_side: int | None) -> DecodedVideo:
    """Animated PNG and WebP through Pillow, which composes their frames (disposal, blending) and
    reads their per-frame durations; FFmpeg cannot decode animated WebP. A still one is an image."""
    from PIL import Image, ImageSequence

    try:
        img = Image.open(io.BytesIO(data))
        w, h = img.size
        if w * h > max_pixels:
            raise VideoRejected("too_many_pixels", f"{w}x{h}", "quarantined", float(w * h), float(max_pixels))
        n = getattr(img, "n_frames", 1)
        if n < 2:
            raise VideoRejected("still_image", f"1 frame of {img.format} (curate it as image)", "rejected", 1.0, 2.0)
        if n > max_frames:
            raise VideoRejected("too_many_frames", f"more than {max_frames}", "rejected", float(n), float(max_frames))
        scale = 1.0 if not work_side else min(1.0, work_side / max(w, h))
        size = (max(2, round(w * scale)), max(2, round(h * scale)))
        frames, durations = [], []
        for frame in ImageSequence.Iterator(img):
            rgb = frame.convert("RGBA")
            canvas = Image.new("RGB", rgb.size, (255, 255, 255))  # transparency on white, as for images
            canvas.paste(rgb, mask=rgb.getchannel("A"))
            frames.append(np.asarray(canvas.resize(size, Image.BILINEAR) if scale < 1 else canvas))
            durations.append(max(float(frame.info.get("duration") or 100.0), 10.0) / 1000.0)  # ms; 0 means "as fast as possible"
    except VideoRejected:
        raise
    except Exception as e:  # noqa: BLE001 - a corrupt file is quarantined with the decoder's message
        raise VideoRejected("decode_error", _clean(e)) from None
    times = np.concatenate([[0.0], np.cumsum(durations[:-1])])
    fps = 1.0 / float(np.median(durations))
    return DecodedVideo(np.stack(frames), times, fps, float(times[-1] + durations[-1]), img.format.lower(), img.format.lower())
