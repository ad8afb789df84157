"""Fault-suite findings in image decoding."""

from __future__ import annotations

import struct
import zlib

import pytest

from preprocess.image.decode import ImageRejected, decode_image


def _png_header_claiming(w: int, h: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("w,h", [(15000, 15000), (100_000, 100_000)])  # past PIL's own warning and error limits
def test_bombs_beyond_pils_own_limit_are_refused_by_our_cap_with_their_size(w, h):
    with pytest.raises(ImageRejected) as e:
        decode_image(_png_header_claiming(w, h), max_pixels=40_000_000)
    assert e.value.kind == "too_many_pixels" and e.value.score == float(w * h)
    assert e.value.detail.startswith(f"{w}x{h} = ")
