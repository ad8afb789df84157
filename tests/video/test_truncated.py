"""A video file cut short is quarantined as ``truncated``, whatever its container: Matroska/WebM
hold no frame count (their EBML element sizes show a cut; where a live writer left them unknown,
the decoded span is checked against the declared duration), FFmpeg counts a
GIF's frames from what is there (its block chain must reach the trailer), and an MP4 written
without faststart keeps its index ('moov') at the end, so a cut one cannot be opened at all."""

from __future__ import annotations

import io

import numpy as np
import pytest

from preprocess.video.decode import VideoRejected, decode_video


def _frames(n: int = 16, side: int = 32) -> np.ndarray:
    f = np.full((n, side, side, 3), 40, np.uint8)
    for i in range(n):
        f[i, 8:16, i:i + 8] = 220
        f[i, 20:28, :, 2] = (10 * i) % 250  # every frame differs: nothing for the encoder to drop
    return f


def _write(path, fmt: str, codec: str, n: int = 16, audio_seconds: float | None = None, options=None):
    import av

    with av.open(str(path), "w", format=fmt, options=options or {}) as c:
        s = c.add_stream(codec, rate=8)
        s.width = s.height = 32
        s.pix_fmt = "rgb8" if codec == "gif" else "yuv420p"
        s.thread_count = 1
        a = None
        if audio_seconds:  # an audio track that runs on after the video ends
            a = c.add_stream("libopus" if fmt == "webm" else "aac", rate=48000)
            a.layout = "mono"
        for k, f in enumerate(_frames(n)):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            frame.pts = k
            c.mux(s.encode(frame))
        c.mux(s.encode(None))
        if a is not None:
            size = a.codec_context.frame_size or 960
            pcm = (0.3 * np.sin(np.arange(int(48000 * audio_seconds)) / 10)).astype(np.float32)
            for k in range(0, len(pcm) - size + 1, size):
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[None, k:k + size]), format="fltp", layout="mono")
                af.sample_rate, af.pts = 48000, k
                c.mux(a.encode(af))
            c.mux(a.encode(None))
    return path.read_bytes()


def _rejected(data: bytes) -> VideoRejected:
    with pytest.raises(VideoRejected) as e:
        decode_video(data)
    return e.value


MATROSKA = [("webm", "libvpx-vp9"), ("matroska", "libx264")]


def _cut_between_blocks(data: bytes, fraction: float) -> bytes:
    """The file as a live writer leaves it (Segment and Cluster sizes unknown), cut exactly between
    two blocks near ``fraction`` of its length: its structure looks whole, only the duration it
    declares shows the cut."""
    from preprocess.video.decode import _ebml_vint

    out, ends = bytearray(data), []

    def unknown_size(pos: int) -> int:  # the element's size set to unknown in place; its first child
        length = _ebml_vint(data, pos, True)[1]
        size_length = _ebml_vint(data, pos + length, False)[1]
        out[pos + length:pos + length + size_length] = bytes([0xFF >> (size_length - 1)]) + b"\xff" * (size_length - 1)
        return pos + length + size_length

    def children(pos: int, end: int):
        while pos < end:
            ident, length, _ = _ebml_vint(data, pos, True)
            size, size_length, _ = _ebml_vint(data, pos + length, False)
            yield ident, pos, pos + length + size_length + size
            pos += length + size_length + size

    for ident, pos, end in children(unknown_size(data.index(b"\x18\x53\x80\x67")), len(data)):
        if ident == 0x1F43B675:  # a Cluster: its blocks
            ends += [e for _, _, e in children(unknown_size(pos), end)]
    return bytes(out[:max(e for e in ends if e <= len(data) * fraction)])


@pytest.mark.parametrize("fmt,codec", MATROSKA)
def test_a_cut_matroska_or_webm_is_truncated_not_a_shorter_clip(tmp_path, fmt, codec):
    data = _write(tmp_path / "full", fmt, codec)
    assert len(decode_video(data).frames) == 16  # whole: no verdict
    for frac in (0.6, 0.85):
        r = _rejected(data[: int(len(data) * frac)])
        assert r.kind == "truncated" and r.status == "quarantined", (frac, r)
        assert "the file ends inside its Segment element" in r.detail, r  # the muxer wrote its size
        assert str(r) == str(_rejected(data[: int(len(data) * frac)]))  # the same reason every run
        r = _rejected(_cut_between_blocks(data, frac))  # no size to show it: the declared duration does
        assert r.kind == "truncated" and ("of the 2 s the stream declares" in r.detail or "no frame decoded" in r.detail), r


@pytest.mark.parametrize("fmt,codec", MATROSKA)
def test_a_whole_matroska_with_a_longer_audio_track_is_not_truncated(tmp_path, fmt, codec):
    data = _write(tmp_path / "av", fmt, codec, audio_seconds=3.0)  # container: 3 s, video: 2 s
    video = decode_video(data)
    assert len(video.frames) == 16 and video.duration == pytest.approx(2.0)


@pytest.mark.parametrize("fmt,codec", MATROSKA)
def test_without_track_durations_the_container_duration_is_checked_with_room_for_audio(tmp_path, fmt, codec):
    """Muxers other than FFmpeg's may write no per-track DURATION tag (renamed away here): the
    container's duration is then the longest track's, and a longer audio track is no cut."""
    alone = _write(tmp_path / "v", fmt, codec, n=32).replace(b"DURATION", b"DURATIOX")
    assert len(decode_video(alone).frames) == 32
    r = _rejected(_cut_between_blocks(alone, 0.6))
    assert r.kind == "truncated" and ("the 4 s the stream declares" in r.detail or "no frame decoded" in r.detail), r
    both = _write(tmp_path / "av", fmt, codec, n=32, audio_seconds=4.8).replace(b"DURATION", b"DURATIOX")
    assert len(decode_video(both).frames) == 32  # 4 s of video in a container of about 4.8 s
    r = _rejected(_cut_between_blocks(both, 0.4))
    assert r.kind == "truncated" and "s the container declares" in r.detail, r


def test_a_cut_gif_is_truncated_and_a_whole_one_is_not(tmp_path):
    data = _write(tmp_path / "full.gif", "gif", "gif")
    assert data[-1:] == b";" and len(decode_video(data).frames) == 16
    assert len(decode_video(data + b"\0junk").frames) == 16  # bytes after the trailer are ignored
    inside = _rejected(data[: int(len(data) * 0.6)])
    assert inside.kind == "truncated" and inside.status == "quarantined" and "ends inside frame" in inside.detail, inside
    assert decode_video(data).note is None


@pytest.mark.parametrize("frac", [0.4, 0.95])
def test_a_cut_mp4_without_faststart_is_truncated_not_a_decode_error(tmp_path, frac):
    data = _write(tmp_path / "full.mp4", "mp4", "libx264", n=32)
    assert data.find(b"mdat") < data.find(b"moov")  # PyAV's default: the index comes last
    r = _rejected(data[: int(len(data) * frac)])
    assert r.kind == "truncated" and r.status == "quarantined", r
    assert str(r) == str(_rejected(data[: int(len(data) * frac)]))


def test_an_mp4_cut_where_its_index_begins_is_truncated(tmp_path):
    data = _write(tmp_path / "full.mp4", "mp4", "libx264", n=32)
    at = data.find(b"moov") - 4  # every box before it whole
    r = _rejected(data[:at])
    assert r.kind == "truncated" and "without its index ('moov')" in r.detail, r


def test_a_faststart_mp4_cut_short_still_counts_its_frames(tmp_path):
    data = _write(tmp_path / "fs.mp4", "mp4", "libx264", n=32, options={"movflags": "+faststart"})
    r = _rejected(data[: int(len(data) * 0.6)])
    assert r.kind == "truncated" and r.detail.startswith("decoded "), r


def _apng(n: int = 6) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    frames = [Image.fromarray(f) for f in _frames(n)]
    frames[0].save(out, format="PNG", save_all=True, append_images=frames[1:], duration=125, loop=0)
    return out.getvalue()


def test_a_cut_avi_is_truncated_and_a_whole_one_decodes(tmp_path):
    """AVI read as far as it went gave decode_error (or fewer frames); its RIFF header declares the size."""
    data = _write(tmp_path / "a.avi", "avi", "mpeg4")
    assert len(decode_video(data).frames) == 16
    for fraction in (0.6, 0.95):
        e = _rejected(data[: int(len(data) * fraction)])
        assert e.kind == "truncated" and "before the end its RIFF header declares" in e.detail, e
    assert _rejected(data[: int(len(data) * 0.6)]).detail == _rejected(data[: int(len(data) * 0.6)]).detail


def test_a_cut_animated_png_is_truncated_and_a_whole_one_decodes():
    """A cut APNG was decode_error ('image file is truncated') or fewer frames; its chunk chain shows the cut."""
    data = _apng()
    assert len(decode_video(data).frames) == 6
    e = _rejected(data[: int(len(data) * 0.6)])
    assert e.kind == "truncated" and "chunk" in e.detail, e
    e = _rejected(data[:-12])  # only the IEND chunk missing
    assert e.kind == "truncated" and e.detail == "the file ends before its IEND chunk", e
