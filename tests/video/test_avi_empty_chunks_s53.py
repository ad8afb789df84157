"""An AVI's 0-byte video chunks are dropped frames (the previous frame shown again), not missing ones.

FFmpeg's avi muxer writes one wherever a packet's time skips a frame (an mp3 track's encoder delay
shifts the video's times by one after its first packet), and capture tools (VirtualDub, OBS) write
them for the frames they drop. The header counts them, FFmpeg skips them: a whole 10-frame AVI with
mp3 audio was quarantined 'truncated: decoded 10 of 11 frames'. The files here are written by a
small AVI writer, so a dropped frame can sit at the start, in the middle or at the end, with the
legacy index (idx1), an OpenDML index or none."""

from __future__ import annotations

import io
import struct
from fractions import Fraction

import numpy as np
import pytest

from preprocess.video.clips import resample
from preprocess.video.decode import VideoRejected, decode_video

SIDE = 32
INDEXES = ["idx1", "odml", None]


def _picture(k: int) -> np.ndarray:
    f = np.full((SIDE, SIDE, 3), 40, np.uint8)
    f[8:16, k:k + 8] = 220
    f[20:28, :, 2] = 10 * k  # every frame differs
    return f


def _packets(n: int = 8) -> list[bytes]:
    """MPEG-4 Part 2 packets of n frames at 8 fps, a keyframe every 4."""
    import av

    cc = av.CodecContext.create("mpeg4", "w")
    cc.width = cc.height = SIDE
    cc.pix_fmt, cc.time_base, cc.framerate, cc.thread_count, cc.gop_size = "yuv420p", Fraction(1, 8), Fraction(8), 1, 4
    out = []
    for k in range(n):
        frame = av.VideoFrame.from_ndarray(_picture(k), format="rgb24")
        frame.pts = k
        out += [bytes(p) for p in cc.encode(frame)]
    return out + [bytes(p) for p in cc.encode(None)]


def _chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)


def _avi(slots: list[bytes], index: str | None) -> bytes:
    """A video-only AVI whose '00dc' chunks are ``slots`` (b"" a dropped frame), indexed by ``index``:
    'idx1', 'odml' (a super index in the stream header pointing at an ix00 chunk) or None."""
    n = len(slots)
    avih = struct.pack("<14I", 125000, 0, 0, 0x10 if index == "idx1" else 0, n, 0, 1, 0, SIDE, SIDE, 0, 0, 0, 0)
    strh = struct.pack("<4s4sIHHIIIIIIIIhhhh", b"vids", b"FMP4", 0, 0, 0, 0, 1, 8, 0, n, 0, 0xFFFFFFFF, 0, 0, 0, SIDE, SIDE)
    strf = struct.pack("<IiiHH4sIiiII", 40, SIDE, SIDE, 1, 24, b"FMP4", SIDE * SIDE * 3, 0, 0, 0, 0)
    super_index = b"\0" * 40  # filled in once the ix00 chunk's place is known
    strl = _chunk(b"strh", strh) + _chunk(b"strf", strf) + (_chunk(b"indx", super_index) if index == "odml" else b"")
    hdrl = _chunk(b"LIST", b"hdrl" + _chunk(b"avih", avih) + _chunk(b"LIST", b"strl" + strl))
    movi_at = 12 + len(hdrl)
    body, offsets = b"", []
    for payload in slots:
        offsets.append(movi_at + 12 + len(body))
        body += _chunk(b"00dc", payload)
    keyframe = [0 if i % 4 == 0 else 0x80000000 for i in range(n)]
    if index == "odml":
        entries = b"".join(struct.pack("<II", at + 8, len(p) | key) for at, p, key in zip(offsets, slots, keyframe))
        ix00 = _chunk(b"ix00", struct.pack("<HBBI4sQI", 2, 0, 1, n, b"00dc", 0, 0) + entries)
        filled = struct.pack("<HBBI4s3I", 4, 0, 0, 1, b"00dc", 0, 0, 0) + struct.pack("<QII", movi_at + 12 + len(body), len(ix00), n)
        body += ix00
        hdrl = hdrl.replace(b"indx" + struct.pack("<I", 40) + super_index, b"indx" + struct.pack("<I", 40) + filled)
    tail = b""
    if index == "idx1":
        tail = _chunk(b"idx1", b"".join(struct.pack("<4sIII", b"00dc", 0 if key else 0x10, at - movi_at - 8, len(p))
                                        for at, p, key in zip(offsets, slots, keyframe)))
    riff = b"AVI " + hdrl + _chunk(b"LIST", b"movi" + body) + tail
    return b"RIFF" + struct.pack("<I", len(riff)) + riff


PACKETS = _packets()
DROPPED_AT = {"start": [b""] + PACKETS, "middle": PACKETS[:3] + [b""] + PACKETS[3:], "end": PACKETS + [b""]}
# (times of the 8 decoded frames: the middle one leaves a gap where frame 2 is shown again; duration:
# a dropped frame at the end holds the last frame a tick longer; one at the start has no frame to show)
TIMING = {"start": (np.arange(8) / 8, 1.0), "middle": (np.r_[0:3, 4:9] / 8, 1.125), "end": (np.arange(8) / 8, 1.125)}


@pytest.mark.parametrize("index", INDEXES)
@pytest.mark.parametrize("where", list(DROPPED_AT))
def test_a_dropped_frame_chunk_leaves_the_avi_whole_and_timed(index, where):
    video = decode_video(_avi(DROPPED_AT[where], index))
    times, duration = TIMING[where]
    assert len(video.frames) == 8 and np.allclose(video.times, times) and video.duration == pytest.approx(duration)


@pytest.mark.parametrize("index", INDEXES)
def test_the_walk_counts_the_chunks_that_hold_frames(index):
    from preprocess.video.containers import AviVideoChunks, avi_video_chunks

    slots = [b""] + PACKETS[:2] + [b"", b""] + PACKETS[2:] + [b"", b""]
    assert avi_video_chunks(_avi(slots, index)) == AviVideoChunks(with_data=8, empty=5, trailing=2)
    assert avi_video_chunks(_avi(PACKETS, index)) == AviVideoChunks(with_data=8, empty=0, trailing=0)


@pytest.mark.parametrize("index", INDEXES)
def test_a_frame_that_fails_to_decode_beside_a_dropped_one_is_missing(index):
    """A chunk that decodes to nothing (a VOP start code and junk: FFmpeg drops it without an error)
    leaves a gap in the times as a dropped frame does, and the last frame is at the header's last
    tick all the same; only the chunk count tells them apart."""
    junk = b"\x00\x00\x01\xb6" + b"\xff" * 20
    data = _avi(PACKETS[:2] + [b""] + PACKETS[2:3] + [junk] + PACKETS[4:], index)  # the next frame is a keyframe
    with pytest.raises(VideoRejected) as e:
        decode_video(data)
    assert e.value.kind == "truncated" and e.value.detail.startswith("decoded 7 of 8 frames"), e.value


def _rejected(data: bytes) -> VideoRejected:
    with pytest.raises(VideoRejected) as e:
        decode_video(data)
    return e.value


def _unsized(data: bytes) -> bytes:
    """The AVI as a writer that cannot seek back leaves it: RIFF and movi sizes 0xFFFFFFFF."""
    movi = data.index(b"movi") - 8
    return b"RIFF\xff\xff\xff\xff" + data[8:movi] + b"LIST\xff\xff\xff\xff" + data[movi + 8:]


def test_a_cut_avi_with_dropped_frames_is_truncated():
    data = _avi(DROPPED_AT["middle"], None)
    e = _rejected(data[: int(len(data) * 0.6)])
    assert e.kind == "truncated" and "RIFF header declares" in e.detail
    unsized = _unsized(data)
    assert len(decode_video(unsized).frames) == 8
    between = unsized.index(b"00dc" + struct.pack("<I", len(PACKETS[5])))  # after 5 frames and the dropped one
    e = _rejected(unsized[:between])
    assert e.kind == "truncated" and e.detail == "decoded 5 of 8 frames", e  # the header's 9 less the dropped one
    e = _rejected(unsized[:between + 12])
    assert e.kind == "truncated" and e.detail.startswith("the file ends inside a '00dc' chunk"), e


def _piped() -> bytes:
    """10 frames through PyAV's avi muxer into a pipe (no seeking back): sizes 0xFFFFFFFF, a header
    count of 2^30, no index; frame 5's time skips one, so a dropped-frame chunk comes before it."""
    import av

    class Pipe(io.RawIOBase):
        def __init__(self):
            self.written = bytearray()

        def writable(self):
            return True

        def write(self, b):
            self.written += bytes(b)
            return len(b)

    pipe = Pipe()
    with av.open(pipe, "w", format="avi") as c:
        video = c.add_stream("mpeg4", rate=8)
        video.width = video.height = SIDE
        video.pix_fmt, video.thread_count = "yuv420p", 1
        for k in range(10):
            frame = av.VideoFrame.from_ndarray(_picture(k), format="rgb24")
            frame.pts = k + (k >= 5)
            c.mux(video.encode(frame))
        c.mux(video.encode(None))
    return bytes(pipe.written)


def test_an_avi_written_to_a_pipe_is_whole_and_a_cut_one_is_not():
    """FFmpeg writing an AVI to a pipe cannot fill in its sizes: a whole one was quarantined 'the file
    ends 4294965747 bytes before the end its RIFF header declares'."""
    data = _piped()
    assert data[4:8] == b"\xff\xff\xff\xff"
    video = decode_video(data)
    assert len(video.frames) == 10 and np.allclose(video.times, np.r_[0:5, 6:11] / 8)
    for fraction in (0.5, 0.8, 0.99):
        e = _rejected(data[: int(len(data) * fraction)])
        assert e.kind == "truncated" and e.detail.startswith("the file ends inside a "), e


def _muxed_with_mp3(audio_first: bool) -> bytes:
    """10 frames through PyAV's avi muxer beside an mp3 track: the muxer writes a 0-byte chunk after the first frame."""
    import av

    if "libmp3lame" not in av.codecs_available:
        pytest.skip("this FFmpeg has no mp3 encoder")
    out = io.BytesIO()
    with av.open(out, "w", format="avi") as c:
        audio = c.add_stream("libmp3lame", rate=44100) if audio_first else None
        video = c.add_stream("mpeg4", rate=8)
        video.width = video.height = SIDE
        video.pix_fmt, video.thread_count = "yuv420p", 1
        audio = audio or c.add_stream("libmp3lame", rate=44100)
        audio.layout = "mono"
        for k in range(10):
            frame = av.VideoFrame.from_ndarray(_picture(k), format="rgb24")
            frame.pts = k
            c.mux(video.encode(frame))
        c.mux(video.encode(None))
        pcm = (0.3 * np.sin(np.arange(44100 * 10 // 8) / 10)).astype(np.float32)
        for k in range(0, len(pcm) - 1152 + 1, 1152):
            sound = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[None, k:k + 1152]), format="fltp", layout="mono")
            sound.sample_rate, sound.pts = 44100, k
            c.mux(audio.encode(sound))
        c.mux(audio.encode(None))
    return out.getvalue()


@pytest.mark.parametrize("audio_first", [False, True])
def test_ffmpegs_avi_with_mp3_audio_is_whole_and_repeats_the_dropped_frame(audio_first):
    """The reviewer's file: header 11 frames, frames at 0, 2..10 ticks. Curated at its own 8 fps
    (frames 0) the clip keeps 11 ticks, the first frame twice, as a player shows it."""
    import av

    data = _muxed_with_mp3(audio_first)
    with av.open(io.BytesIO(data)) as c:
        assert c.streams.video[0].frames == 11  # the muxer still writes the dropped frame this test is about
    video = decode_video(data)
    assert len(video.frames) == 10 and video.fps == 8 and video.duration == pytest.approx(11 / 8)
    assert resample(video.times, 0.0, video.duration, 8).tolist() == [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]


def _opendml(first: list[bytes], second: list[bytes], idx1: bool) -> bytes:
    """A two-part OpenDML AVI, as a writer past 1 GiB leaves it: RIFF 'AVI ' (hdrl with a super index,
    movi, and with ``idx1`` a legacy index of that part alone) then RIFF 'AVIX' (movi); each movi ends
    in the ix00 index of its chunks."""
    n, entry = len(first) + len(second), 24 + 16 * 2
    avih = struct.pack("<14I", 125000, 0, 0, 0x10 if idx1 else 0, len(first), 0, 1, 0, SIDE, SIDE, 0, 0, 0, 0)
    strh = struct.pack("<4s4sIHHIIIIIIIIhhhh", b"vids", b"FMP4", 0, 0, 0, 0, 1, 8, 0, n, 0, 0xFFFFFFFF, 0, 0, 0, SIDE, SIDE)
    strf = struct.pack("<IiiHH4sIiiII", 40, SIDE, SIDE, 1, 24, b"FMP4", SIDE * SIDE * 3, 0, 0, 0, 0)
    strl = _chunk(b"strh", strh) + _chunk(b"strf", strf) + _chunk(b"indx", b"\0" * entry)
    hdrl = _chunk(b"LIST", b"hdrl" + _chunk(b"avih", avih) + _chunk(b"LIST", b"strl" + strl)
                  + _chunk(b"LIST", b"odml" + _chunk(b"dmlh", struct.pack("<I", n) + b"\0" * 244)))

    def movi(slots: list[bytes], at: int) -> tuple[bytes, list[int], bytes]:
        body, offsets = b"", []
        for payload in slots:
            offsets.append(at + 12 + len(body))
            body += _chunk(b"00dc", payload)
        entries = b"".join(struct.pack("<II", o + 8, len(p) | (0x80000000 if i else 0)) for i, (o, p) in enumerate(zip(offsets, slots)))
        ix00 = _chunk(b"ix00", struct.pack("<HBBI4sQI", 2, 0, 1, len(slots), b"00dc", 0, 0) + entries)
        return _chunk(b"LIST", b"movi" + body + ix00), offsets, struct.pack("<QII", at + 12 + len(body), len(ix00), len(slots))

    movi1, offsets, super1 = movi(first, 12 + len(hdrl))
    legacy = _chunk(b"idx1", b"".join(struct.pack("<4sIII", b"00dc", 0 if i else 0x10, o - len(hdrl) - 20, len(p))
                                      for i, (o, p) in enumerate(zip(offsets, first)))) if idx1 else b""
    part1 = b"AVI " + hdrl + movi1 + legacy
    part1 = b"RIFF" + struct.pack("<I", len(part1)) + part1
    movi2, _, super2 = movi(second, len(part1) + 12)
    data = part1 + b"RIFF" + struct.pack("<I", 4 + len(movi2)) + b"AVIX" + movi2
    filled = struct.pack("<HBBI4s3I", 4, 0, 0, 2, b"00dc", 0, 0, 0) + super1 + super2
    return data.replace(b"indx" + struct.pack("<I", entry) + b"\0" * entry, b"indx" + struct.pack("<I", entry) + filled, 1)


@pytest.mark.parametrize("idx1", [True, False])
def test_dropped_frames_past_the_first_riff_of_an_opendml_avi_count(idx1):
    """idx1 covers the first RIFF part only: the 'AVIX' part's dropped frames are counted from its movi list."""
    video = decode_video(_opendml(PACKETS[:2] + [b""] + PACKETS[2:4], PACKETS[4:6] + [b""] + PACKETS[6:] + [b""], idx1))
    assert len(video.frames) == 8 and np.allclose(video.times, np.r_[0:2, 3:7, 8:10] / 8) and video.duration == pytest.approx(11 / 8)
