"""Tiny test clips: a slow pan over a picture, written as a real MP4 (x264) or lossless MKV (FFV1)."""

from __future__ import annotations

import numpy as np


def slow_pan(image: np.ndarray) -> np.ndarray:
    """16 frames, 64x64: a slow pan (1 px every 4 frames) over the picture resized to 96x96."""
    from PIL import Image

    base = np.asarray(Image.fromarray(image).resize((96, 96), Image.LANCZOS).convert("RGB"))
    return np.stack([base[t // 4: t // 4 + 64, t // 4: t // 4 + 64] for t in range(16)])


def write_clip(p, frames: np.ndarray, fps: int = 8, codec: str = "libx264", crf: int = 12) -> None:
    """``frames`` [T, H, W, 3] uint8 as a clip: x264 at ``crf`` in MP4, or FFV1 in Matroska; bit-exact."""
    import av

    with av.open(str(p), "w", format="matroska" if codec == "ffv1" else "mp4", options={"fflags": "+bitexact"}) as out:
        s = out.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        if codec == "libx264":
            s.options = {"crf": str(crf), "preset": "veryfast", "x264-params": "threads=1:lookahead-threads=1:rc-lookahead=0"}
        for f in frames:
            out.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(s.encode())
