"""MPEG transport streams (.ts, and .m2ts/.mts with 192-byte packets) curate through the PyAV
path. A TS has no header that declares its length, so a cut shows in its packets (the file ends
inside one, or the last lacks the sync byte 0x47) or in its last frame (cut between packets: the
frame of the last PES decodes damaged). A cut exactly between two frames leaves a whole, shorter
stream, and whole streams of any codec, rate or length are never flagged."""

from __future__ import annotations

import numpy as np
import pytest

from preprocess.video.decode import decode_video, ts_last_frame_cut
from tests.video.test_edges import _analyse
from tests.video.test_truncated import _rejected


def _ts(path, codec: str = "libx264", n: int = 12, rate=8, side: int = 64, m2ts: bool = False, audio: bool = False) -> bytes:
    """A real transport stream of ``n`` noisy frames: each frame spans many 188-byte packets."""
    import av

    rng = np.random.default_rng(n)
    with av.open(str(path), "w", format="mpegts", options={"mpegts_m2ts_mode": "1"} if m2ts else {}) as c:
        s = c.add_stream(codec, rate=rate)
        s.width = s.height = side
        s.pix_fmt, s.thread_count = "yuv420p", 1
        a = c.add_stream("mp2", rate=48000, layout="mono") if audio else None
        for k in range(n):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8), format="rgb24")
            frame.pts = k
            c.mux(s.encode(frame))
        c.mux(s.encode(None))
        if a is not None:  # half a second more sound than picture: the last packets are audio
            pcm = np.zeros((1, 1152), np.float32)
            for k in range(int((n / float(rate) + 0.5) * 48000 / 1152)):
                af = av.AudioFrame.from_ndarray(pcm, format="fltp", layout="mono")
                af.sample_rate, af.pts = 48000, k * 1152
                c.mux(a.encode(af))
            c.mux(a.encode(None))
    return path.read_bytes()


def _video_pes_starts(data: bytes, size: int = 188, at: int = 0) -> list[int]:
    """Packet indices where a video PES (PID 0x100, FFmpeg's default) begins."""
    starts = []
    for i in range(len(data) // size):
        p = data[i * size + at:i * size + at + 188]
        if p[1] & 0x40 and ((p[1] & 0x1F) << 8 | p[2]) == 0x100:
            starts.append(i)
    return starts


@pytest.mark.parametrize("codec,n,rate,m2ts,audio", [
    ("libx264", 12, 8, False, False), ("libx264", 7, 25, False, True), ("mpeg2video", 10, 25, False, False),
    ("mpeg4", 9, 30, False, False), ("libx264", 11, 8, True, False), ("libx264", 13, 24, False, False),
])
def test_whole_transport_streams_decode_every_frame(tmp_path, codec, n, rate, m2ts, audio):
    data = _ts(tmp_path / "v.ts", codec, n, rate, m2ts=m2ts, audio=audio)
    video = decode_video(data)
    assert len(video.frames) == n and video.container == "mpegts", (codec, n, rate)
    assert video.duration == pytest.approx(n / rate, abs=1e-3) and video.fps == pytest.approx(rate)


@pytest.mark.parametrize("fraction", [0.3, 0.7, 0.99])
def test_a_ts_cut_inside_a_packet_is_truncated(tmp_path, fraction):
    data = _ts(tmp_path / "v.ts")
    cut = data[:int(len(data) * fraction)]
    assert len(cut) % 188  # (these fractions fall inside a packet)
    r = _rejected(cut)
    assert r.kind == "truncated" and r.status == "quarantined" and "bytes into a 188-byte transport packet" in r.detail, r
    assert str(r) == str(_rejected(cut))  # the same reason every run


def test_an_m2ts_cut_inside_a_packet_is_truncated(tmp_path):
    data = _ts(tmp_path / "v.m2ts", m2ts=True)
    r = _rejected(data[:len(data) // 2 + 100])
    assert r.kind == "truncated" and "192-byte transport packet" in r.detail, r


def test_a_ts_whose_last_packet_lacks_the_sync_byte_is_truncated(tmp_path):
    data = bytearray(_ts(tmp_path / "v.ts"))
    data[-188] = 0
    r = _rejected(bytes(data))
    assert r.kind == "truncated" and "lacks the sync byte" in r.detail, r


@pytest.mark.parametrize("codec", ["libx264", "mpeg2video"])
def test_a_ts_cut_between_packets_inside_its_last_frame_is_truncated(tmp_path, codec):
    data = _ts(tmp_path / "v.ts", codec)
    last = _video_pes_starts(data)[-1]
    for packets in (last + 1, last + 3, len(data) // 188 - 1):  # the last frame's first packets only, or all but one
        r = _rejected(data[:packets * 188])
        assert r.kind == "truncated" and "the last frame" in r.detail, (packets, r)


def test_a_ts_cut_exactly_between_two_frames_is_a_whole_shorter_stream(tmp_path):
    data = _ts(tmp_path / "v.ts", "mpeg2video")  # no B-frames: the PES before the cut holds the last frame shown
    last = _video_pes_starts(data)[-1]
    assert len(decode_video(data[:last * 188]).frames) == 11


def test_a_last_frame_that_did_not_decode_is_a_cut():
    """The frame of the last PES (by its PTS) missing from what the decoder gave: the file ends inside it."""
    header = bytes([0x47, 0x41, 0x00, 0x10]) + b"\0\0\1\xe0\0\0\x80\x80\x05" + bytes([0x21, 0x00, 0x05, 0xBF, 0x21])  # PTS 90,000
    packet = header + b"\xff" * (188 - len(header))
    assert ts_last_frame_cut(packet, 0x100, [(86250, False), (90000, False)]) is None
    assert "did not decode" in ts_last_frame_cut(packet, 0x100, [(82500, False), (86250, False)])
    assert "decodes damaged" in ts_last_frame_cut(packet, 0x100, [(86250, False), (90000, True)])
    assert ts_last_frame_cut(packet, 0x100, [(None, False)]) is None  # a decoder that gives no time stamps


@pytest.mark.parametrize("name", ["clip.ts", "clip.m2ts", "clip.mts"])
def test_a_ts_in_a_folder_is_curated_as_video_not_unsupported(tmp_path, name):
    from preprocess.modality import get_plugin
    from preprocess.sources import SourceSpec, list_entries

    data = _ts(tmp_path / "v.ts", m2ts=name != "clip.ts")
    src = tmp_path / "src"
    src.mkdir()
    (src / name).write_bytes(data)
    (src / "clip.txt").write_text("noise")
    inputs, leftovers = get_plugin("video").group(list_entries(SourceSpec(str(src))), None)
    assert [i.name for i in inputs] == [name] and leftovers == []
    (cand,) = _analyse(src / name, min_motion=0.0, quality=False)
    assert cand.record.status == "accepted", cand.record.reason
    assert cand.record.meta["container"] == "mpegts" and cand.record.meta["source_frames"] == 12
    (src / name).write_bytes(data[:len(data) // 2 + 7])
    (cut,) = _analyse(src / name)
    assert cut.record.status == "quarantined" and cut.record.reason.startswith("truncated: "), cut.record.reason
