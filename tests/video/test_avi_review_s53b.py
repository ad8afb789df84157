"""Review of 163a4f6 (avi_video_chunks): 'rec ' lists nested in a movi list are walked with a stack.
The walk recursed once per level: an AVI of 36 kB, 3,000 nested 'rec ' lists, ended it in a
RecursionError (the clip quarantined 'decode_error: RecursionError ...'); FFmpeg reads through them."""

from __future__ import annotations

import struct


def _chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)


def _avi(movi_body: bytes) -> bytes:
    strh = struct.pack("<4s4sIHHIIIIIIIIhhhh", b"vids", b"FMP4", 0, 0, 0, 0, 1, 8, 0, 3, 0, 0xFFFFFFFF, 0, 0, 0, 16, 16)
    hdrl = _chunk(b"LIST", b"hdrl" + _chunk(b"avih", b"\0" * 56) + _chunk(b"LIST", b"strl" + _chunk(b"strh", strh)))
    riff = b"AVI " + hdrl + _chunk(b"LIST", b"movi" + movi_body)
    return b"RIFF" + struct.pack("<I", len(riff)) + riff


def _nested(depth: int) -> bytes:
    inner = _chunk(b"00dc", b"abc") + _chunk(b"00dc", b"")  # a frame (odd size: padded) and a dropped one
    for _ in range(depth):
        inner = _chunk(b"LIST", b"rec " + inner)
    return inner + _chunk(b"01wb", b"pcm") + _chunk(b"00dc", b"defg")


def test_nested_rec_lists_count_as_flat_ones_however_deep():
    from preprocess.video.containers import AviVideoChunks, avi_video_chunks

    flat = avi_video_chunks(_avi(_nested(0)))
    assert flat == AviVideoChunks(with_data=2, empty=1, trailing=0)
    assert avi_video_chunks(_avi(_nested(2))) == flat
    assert avi_video_chunks(_avi(_nested(3000))) == flat  # was: RecursionError
