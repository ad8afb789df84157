"""A Matroska/WebM file carries no frame count, and the duration check leaves room (2 frames or
5 %, more for a container an audio track may lengthen), so a file cut by less was accepted. Its
EBML structure shows every cut: a file muxer writes the Segment's size, a live writer (no seeking)
the Clusters' and blocks' sizes. Whole files of any rate, length, variable rate or live writing
are never flagged."""

from __future__ import annotations

import io
from fractions import Fraction

import numpy as np
import pytest

from preprocess.video.decode import VideoRejected, _ebml_vint, decode_video, matroska_truncation

CLUSTER = b"\x1f\x43\xb6\x75"
SEGMENT = b"\x18\x53\x80\x67"


class _Pipe(io.RawIOBase):
    """A write-only stream that cannot seek: the muxer writes as a live recorder does."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.data += bytes(b)
        return len(b)


def _mkv(fmt: str = "webm", n: int = 40, rate=8, pts=None, live: bool = False, audio: bool = False) -> bytes:
    import av

    target = _Pipe() if live else io.BytesIO()
    rng = np.random.default_rng(n)
    with av.open(target, "w", format=fmt) as c:
        s = c.add_stream("libvpx-vp9" if fmt == "webm" else "libx264", rate=rate)
        s.width = s.height = 32
        s.pix_fmt, s.thread_count = "yuv420p", 1
        if pts is not None:  # variable rate: frame times in ms
            s.time_base = s.codec_context.time_base = Fraction(1, 1000)
        a = c.add_stream("libopus" if fmt == "webm" else "aac", rate=48000, layout="mono") if audio else None
        for k in range(n):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8), format="rgb24")
            frame.pts = k if pts is None else pts[k]
            c.mux(s.encode(frame))
        c.mux(s.encode(None))
        if a is not None:
            size = a.codec_context.frame_size or 1024
            for k in range(0, int(48000 * n / float(rate)) - size + 1, size):
                af = av.AudioFrame.from_ndarray(np.zeros((1, size), np.float32), format="fltp", layout="mono")
                af.sample_rate, af.pts = 48000, k
                c.mux(a.encode(af))
            c.mux(a.encode(None))
    return bytes(target.data) if live else target.getvalue()


WHOLE = [("webm", 40, 8), ("matroska", 40, 8), ("webm", 3, 25), ("matroska", 13, Fraction(30000, 1001)),
         ("webm", 61, 60), ("matroska", 24, 24)]


@pytest.mark.parametrize("fmt,n,rate", WHOLE)
def test_whole_files_of_several_rates_and_lengths_are_not_flagged(fmt, n, rate):
    for live in (False, True):
        data = _mkv(fmt, n, rate, live=live)
        assert matroska_truncation(data) is None
        assert len(decode_video(data).frames) == n, (fmt, n, rate, live)


@pytest.mark.parametrize("fmt", ["webm", "matroska"])
def test_whole_files_with_audio_or_a_variable_rate_are_not_flagged(fmt):
    assert len(decode_video(_mkv(fmt, 24, audio=True)).frames) == 24
    pts = np.cumsum([0] + [40, 40, 200, 40, 500, 40, 40, 1000, 40, 40, 40]).tolist()  # ms: pauses of 0.2-1 s
    data = _mkv(fmt, len(pts), 25, pts=pts)
    assert matroska_truncation(data) is None and len(decode_video(data).frames) == len(pts)


@pytest.mark.parametrize("fmt", ["webm", "matroska"])
@pytest.mark.parametrize("live", [False, True])
def test_a_cut_inside_the_slack_is_truncated(fmt, live):
    """Cuts that lose the index, one frame or two: the duration check let these through."""
    data = _mkv(fmt, 40, live=live)
    for cut in (len(data) - 1, len(data) - 30, len(data) - 100, len(data) - 300):
        r = pytest.raises(VideoRejected, decode_video, data[:cut]).value
        assert r.kind == "truncated" and r.status == "quarantined" and "the file ends inside" in r.detail, (cut, r)
        assert str(r) == str(pytest.raises(VideoRejected, decode_video, data[:cut]).value)


def test_live_clusters_of_unknown_size_are_walked_block_by_block():
    """Browsers' MediaRecorder leaves each Cluster's size unknown: the blocks inside show the cut."""
    unknown = _unknown_cluster_sizes(_mkv("webm", 40, live=True))
    assert len(decode_video(unknown).frames) == 40 and matroska_truncation(unknown) is None
    assert "SimpleBlock" in matroska_truncation(unknown[:len(unknown) // 2 - 7])


def _unknown_cluster_sizes(data: bytes) -> bytes:
    """Every Cluster's size (of a live file: the Segment's is unknown already) set to unknown, in place."""
    out = bytearray(data)
    ident, length, _ = _ebml_vint(data, data.index(SEGMENT), True)
    pos = data.index(SEGMENT) + length + _ebml_vint(data, data.index(SEGMENT) + length, False)[1]  # the Segment's first child
    clusters = 0
    while pos < len(data):
        ident, length, _ = _ebml_vint(data, pos, True)
        size, size_length, _ = _ebml_vint(data, pos + length, False)
        if ident == int.from_bytes(CLUSTER, "big"):
            out[pos + length:pos + length + size_length] = bytes([0xFF >> (size_length - 1)]) + b"\xff" * (size_length - 1)
            clusters += 1
        pos += length + size_length + size
    assert clusters > 1
    return bytes(out)


def test_bytes_after_a_whole_segment_and_other_files_are_left_alone():
    data = _mkv("webm", 10)
    assert matroska_truncation(data + b"\0" * 64) is None and matroska_truncation(data + b"\x1f\x43\xb6\x75\x10\0\0\0") is None
    assert matroska_truncation(b"RIFF....AVI ") is None and matroska_truncation(b"") is None
    assert matroska_truncation(data[:3]) is None  # too short to say it is Matroska: the decoder's verdict
    assert matroska_truncation(data[:4]) == "the file ends inside an element header"
    assert matroska_truncation(data[:6]).startswith("the file ends inside its EBML header element")
