"""Tests written from mutmut survivors of the byte-level truncation checks in preprocess/video/decode.py
(bench/mutation/modules.toml, module video_decode): each pins what a user sees, a cut file flagged with
its reason (the quarantine record's text, the same on every run) or a whole one left alone.

The files are built byte by byte where the case needs a layout real muxers rarely write: a GIF without
a global colour table, frames with local ones, 64-bit MP4 box sizes, transport packets of every shape."""

from __future__ import annotations

import struct

import pytest

from preprocess.video.decode import (GIF_NO_TRAILER, VideoRejected, _ebml_vint, decode_video, gif_blocks,
                                     matroska_truncation, mp4_truncation, png_truncation, riff_truncation,
                                     ts_last_frame_cut, ts_last_pes_pts, ts_layout, ts_truncation)

# ---------------------------------------------------------------- GIF


def _gif(blocks: bytes, flags: int = 0x81, background: int = 0, trailer: bool = False) -> bytes:
    """Header, logical screen descriptor (``flags``: bit 7 a global colour table of 3 << (bits 0-2 + 1)
    bytes), the table (all zero), ``blocks``, and the trailer when asked."""
    table = bytes(3 << ((flags & 7) + 1)) if flags & 0x80 else b""
    return b"GIF89a" + struct.pack("<HH", 300, 8) + bytes([flags, background, 0]) + table + blocks + (b";" if trailer else b"")


def _image(flags: int = 0, left: int = 0) -> bytes:
    """An image block: descriptor (10 bytes), a local colour table when ``flags`` bit 7 says so (all
    zero bytes), the LZW code size and one data sub-block."""
    table = bytes(3 << ((flags & 7) + 1)) if flags & 0x80 else b""
    return b"\x2c" + struct.pack("<HHHH", left, 0, 8, 8) + bytes([flags]) + table + b"\x02\x03\x4c\x01\x05\x00"


CONTROL = b"\x21\xf9\x04\x04\x0a\x00\x00\x00"  # graphic control extension: the next image's delay
COMMENT = b"\x21\xfe\x05hello\x00"


def test_a_13_byte_gif_is_a_header_without_frames_and_a_12_byte_one_is_cut_inside_the_header():
    head = _gif(b"", flags=0)
    assert len(head) == 13
    assert gif_blocks(head) == ("the GIF ends before its first frame", None)
    assert gif_blocks(head[:12]) == ("the GIF header is cut short", None)
    r = pytest.raises(VideoRejected, decode_video, head[:12]).value
    assert (r.kind, r.detail) == ("truncated", "the GIF header is cut short")


@pytest.mark.parametrize("flags, background", [(0x00, 0), (0x01, 0), (0x07, 3), (0x81, 2), (0x82, 7), (0x87, 0)])
def test_the_global_colour_table_is_skipped_by_the_size_its_flag_byte_gives(flags, background):
    """The screen descriptor's flag byte alone says whether a global table follows and its size;
    its size bits without the flag, or the background colour index, are no table."""
    frames = CONTROL + _image() + CONTROL + _image()
    data = _gif(frames, flags, background)
    assert gif_blocks(data) == (None, GIF_NO_TRAILER)
    assert gif_blocks(data + b";") == (None, None)
    assert gif_blocks(data[:-3]) == ("the GIF ends inside frame 2", None)


@pytest.mark.parametrize("flags", [0x80, 0x81, 0x82, 0x85, 0x07, 0x01, 0x40])
def test_a_local_colour_table_is_skipped_by_the_size_its_image_flags_give(flags):
    """Frames with their own colour table (many encoders write one per frame); size bits or the
    interlace bit without the table flag are no table."""
    data = _gif(_image(flags) + CONTROL + _image(flags) + COMMENT)
    assert gif_blocks(data) == (None, GIF_NO_TRAILER)
    assert gif_blocks(data[:-len(COMMENT) - 2]) == ("the GIF ends inside frame 2", None)


def test_a_gif_cut_inside_an_image_descriptor_is_cut_inside_that_frame():
    data = _gif(_image() + CONTROL + _image())
    second = data.rindex(b"\x2c")
    for keep in (1, 5, 9, 10, 11):  # inside the 10-byte descriptor, right after it, after the LZW code size
        assert gif_blocks(data[:second + keep]) == ("the GIF ends inside frame 2", None), keep


def test_a_gif_cut_inside_an_extension_says_so_with_the_frames_before_it():
    data = _gif(_image() + CONTROL + _image() + COMMENT)
    assert gif_blocks(data[:-3]) == ("the GIF ends inside a block after 2 frames", None)
    assert gif_blocks(data[:-len(COMMENT) + 1]) == ("the GIF ends inside a block after 2 frames", None)


def test_a_last_frame_placed_at_x_249_is_a_whole_frame_not_a_control_block():
    """0xF9 (249) is the graphic control label; a frame whose left offset is 249 ends the file whole."""
    data = _gif(CONTROL + _image() + CONTROL + _image(left=249))
    assert gif_blocks(data) == (None, GIF_NO_TRAILER)
    assert gif_blocks(data + CONTROL) == ("the GIF ends after 2 frames and the control block of the next, without its image", None)


# ---------------------------------------------------------------- Matroska / WebM

MAGIC, SEGMENT = b"\x1a\x45\xdf\xa3", b"\x18\x53\x80\x67"
HEADER = MAGIC + b"\x84\x42\x86\x81\x01"  # the EBML header element: EBMLVersion 1
UNKNOWN = b"\x01\xff\xff\xff\xff\xff\xff\xff"  # an 8-byte size of all ones: unknown (a live writer's Segment)


def _size(n: int) -> bytes:
    return b"\x01" + n.to_bytes(7, "big")


def test_a_size_whose_first_byte_is_zero_is_no_element():
    assert _ebml_vint(b"\x00\x81", 0, False) is None
    assert matroska_truncation(MAGIC + b"\x00\x00\x00\x00") is None  # not Matroska after all: the decoder's verdict
    assert _ebml_vint(b"\x42\x86", 0, True) == (0x4286, 2, False) and _ebml_vint(b"\x81", 0, False) == (1, 1, False)
    assert _ebml_vint(b"\xff", 0, False) == (127, 1, True)


def test_a_file_cut_inside_an_element_size_ends_inside_its_header():
    assert matroska_truncation(MAGIC + b"\x42") == "the file ends inside an element header"  # a 2-byte size, 1 there
    assert matroska_truncation(HEADER + SEGMENT + b"\x01\x00\x00") == "the file ends inside an element header"


def test_a_file_cut_right_after_the_segment_header_misses_the_whole_segment():
    data = HEADER + SEGMENT + _size(1000)
    assert matroska_truncation(data) == "the file ends inside its Segment element (1000 bytes missing)"
    assert matroska_truncation(data + bytes(400)) == "the file ends inside its Segment element (600 bytes missing)"
    assert matroska_truncation(data + bytes(1000)) is None


def test_a_cut_inside_an_element_without_a_name_gives_its_id():
    chapters = b"\x10\x43\xa7\x70" + _size(50) + bytes(50)
    data = HEADER + SEGMENT + UNKNOWN + chapters
    assert matroska_truncation(data) is None
    assert matroska_truncation(data[:-20]) == "the file ends inside its 0x1043A770 element (20 bytes missing)"


def test_bytes_that_stop_being_elements_are_left_to_the_decoder():
    assert matroska_truncation(HEADER + bytes(8)) is None  # an ID cannot begin with 0
    five_byte_id = b"\x08\x11\x22\x33\x44" + b"\x85" + b"ab"  # IDs are at most 4 bytes: this is no element
    assert matroska_truncation(HEADER + five_byte_id) is None
    assert matroska_truncation(HEADER + SEGMENT + UNKNOWN + five_byte_id) is None


def test_a_cut_element_after_a_whole_segment_is_ignored():
    data = HEADER + SEGMENT + _size(6) + b"\xec\x84\0\0\0\0"  # a Segment holding one Void element
    assert matroska_truncation(data) is None
    assert matroska_truncation(data + b"\x1f\x43\xb6\x75\x81") is None  # a Cluster header with its byte missing


# ---------------------------------------------------------------- MP4 / MOV


def _box(kind: bytes, payload: bytes = b"", size: int | None = None) -> bytes:
    return struct.pack(">I4s", 8 + len(payload) if size is None else size, kind) + payload


def _large(kind: bytes, payload: bytes = b"", size: int | None = None) -> bytes:
    """A box with a 64-bit size (size field 1, the size after the type), as files over 4 GiB write 'mdat'."""
    return struct.pack(">I4sQ", 1, kind, 16 + len(payload) if size is None else size) + payload


FTYP = _box(b"ftyp", b"isom\0\0\2\0isomiso2mp41")


@pytest.mark.parametrize("boxes", [
    [FTYP, _box(b"moov", bytes(40)), _box(b"mdat", bytes(100))],
    [FTYP, _box(b"mdat", bytes(100)), _box(b"moov", bytes(40))],
    [FTYP, _box(b"free"), _large(b"mdat", bytes(100)), _box(b"moov", bytes(40))],
    [FTYP, _box(b"moov", bytes(40)), _box(b"mdat", bytes(100), size=0)],  # the last box runs to the end of the file
    [_box(b"styp", b"msdh\0\0\0\0msdh"), _box(b"sidx", bytes(24)), _box(b"moof", bytes(40)), _box(b"mdat", bytes(100))],
])
def test_whole_box_chains_are_not_flagged(boxes):
    """Index first or last, a 64-bit size, a last box of size 0, and a fragment (a DASH/HLS segment: 'moof', no 'moov')."""
    assert mp4_truncation(b"".join(boxes)) is None


def test_a_file_cut_inside_a_box_header_says_so():
    data = FTYP + _box(b"moov", bytes(40)) + _box(b"mdat", bytes(100))
    assert mp4_truncation(data + b"\0\0\0") == "the file ends inside a top-level box header"
    assert mp4_truncation(data + _large(b"mdat")[:12]) == "the file ends inside a top-level box header"


def test_a_file_cut_right_after_a_box_header_misses_the_whole_box():
    assert mp4_truncation(FTYP + _box(b"mdat", size=1000)) == "the file ends inside its top-level 'mdat' box (992 bytes missing)"
    assert mp4_truncation(FTYP + _large(b"mdat", size=1000)) == "the file ends inside its top-level 'mdat' box (984 bytes missing)"


def test_a_cut_box_with_a_64_bit_size_is_flagged_with_what_is_missing():
    data = FTYP + _box(b"moov", bytes(40)) + _large(b"mdat", bytes(100), size=5_000_000_000)
    assert mp4_truncation(data) == f"the file ends inside its top-level 'mdat' box ({5_000_000_000 - 116} bytes missing)"
    empty = _large(b"free")  # a 64-bit box of exactly its 16-byte header
    assert mp4_truncation(FTYP + empty + _box(b"mdat", bytes(10), size=100)) == \
        "the file ends inside its top-level 'mdat' box (82 bytes missing)"


@pytest.mark.parametrize("size", [0x8000_0000, 0xFFFF_FFF0])
def test_a_cut_box_of_2_gib_or_more_is_flagged(size):
    """A 32-bit size is unsigned: a recording of 2 to 4 GiB cut short."""
    data = FTYP + _box(b"mdat", bytes(100), size=size)
    assert mp4_truncation(data) == f"the file ends inside its top-level 'mdat' box ({size - 108} bytes missing)"


def test_a_64_bit_size_with_its_top_bit_set_runs_past_any_file():
    assert mp4_truncation(FTYP + _large(b"mdat", bytes(8), size=1 << 63)).startswith("the file ends inside its top-level 'mdat' box")


def test_media_data_running_to_the_end_without_its_index_is_a_cut_recording():
    """A recorder writes 'mdat' with size 0 (to the end) and its index when it stops: a crash leaves no index."""
    data = FTYP + _box(b"free", bytes(8)) + _box(b"mdat", bytes(300), size=0)
    assert mp4_truncation(data) == "media data ('mdat') without its index ('moov'): the file was cut short"


def test_bytes_that_are_no_box_after_the_media_data_are_left_to_the_decoder():
    assert mp4_truncation(FTYP + _box(b"mdat", bytes(100)) + _box(b"\0\1\2\3", bytes(8))) is None


# ---------------------------------------------------------------- PNG / RIFF

PNG_SIG = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, payload: bytes = b"", length: int | None = None) -> bytes:
    return struct.pack(">I4s", len(payload) if length is None else length, kind) + payload + b"\0\0\0\0"  # (CRC unchecked)


PNG = PNG_SIG + _chunk(b"IHDR", bytes(13)) + _chunk(b"IDAT", bytes(100)) + _chunk(b"IEND")


def test_png_cuts_say_which_chunk_and_how_many_bytes_are_missing():
    assert png_truncation(PNG) is None
    idat = PNG.index(b"IDAT") - 4
    assert png_truncation(PNG[:idat + 8]) == "the file ends inside its 'IDAT' chunk (104 bytes missing)"  # only its header
    assert png_truncation(PNG[:idat + 50]) == "the file ends inside its 'IDAT' chunk (62 bytes missing)"
    assert png_truncation(PNG[:-4]) == "the file ends inside its 'IEND' chunk (4 bytes missing)"  # IEND's CRC cut
    assert png_truncation(PNG[:-12]) == "the file ends before its IEND chunk"
    assert png_truncation(PNG[:-9]) == "the file ends before its IEND chunk"  # 3 bytes: no chunk header


def test_a_png_chunk_claiming_2_gib_or_more_runs_past_the_file():
    data = PNG_SIG + _chunk(b"IHDR", bytes(13)) + _chunk(b"IDAT", bytes(100), length=0x8000_0000)
    assert png_truncation(data) == f"the file ends inside its 'IDAT' chunk ({0x8000_0000 - 100} bytes missing)"


def test_a_riff_header_alone_is_a_cut_file():
    header = b"RIFF" + struct.pack("<I", 1000) + b"AVI "
    assert riff_truncation(header) == "the file ends 996 bytes before the end its RIFF header declares (1008 bytes)"
    assert riff_truncation(header + bytes(996)) is None


def test_a_cut_riff_of_2_gib_or_more_is_flagged():
    data = b"RIFF" + struct.pack("<I", 0xF000_0000) + b"AVI LIST" + bytes(100)
    assert riff_truncation(data) == (f"the file ends {0xF000_0008 - len(data)} bytes before the end its RIFF header "
                                     f"declares ({0xF000_0008} bytes)")


# ---------------------------------------------------------------- MPEG transport streams

PID = 0x100


def _pts_bytes(pts: int) -> bytes:
    return bytes([0x21 | (pts >> 29 & 0x0E), pts >> 22 & 0xFF, (pts >> 14 & 0xFE) | 1, pts >> 7 & 0xFF, (pts << 1 & 0xFE) | 1])


def _pes(pts: int | None = 90000, flags: int = 0x80, start: bytes = b"\0\0\1") -> bytes:
    """A video PES header: start code, stream id, length, then the PTS flags byte and a 5-byte PTS."""
    return start + b"\xe0\0\0\x80" + bytes([flags, 5]) + (_pts_bytes(pts) if pts is not None else bytes(5))


def _packet(payload: bytes = b"", pid: int = PID, start: bool = True, control: int = 1, sync: int = 0x47,
            payload_len: int | None = None) -> bytes:
    """A 188-byte packet. ``payload_len``: stuff an adaptation field so the payload is exactly that long."""
    head = bytes([sync, (0x40 if start else 0) | pid >> 8, pid & 0xFF])
    if payload_len is not None:
        adapt = 183 - payload_len
        return head + bytes([0x30 | 1]) + bytes([adapt]) + b"\0" + b"\xff" * (adapt - 1) + payload[:payload_len].ljust(payload_len, b"\xff")
    if control == 2:  # adaptation field only
        return head + b"\x20" + b"\xb7" + b"\0" + b"\xff" * 182
    return head + bytes([control << 4]) + payload.ljust(184, b"\xff")[:184]


def test_a_pts_is_read_with_all_33_bits():
    for pts in (0, 90000, (1 << 33) - 1, 0x1_5A5A_5A5A, 0x0_A5A5_A5A5, 1 << 32, 0x1_FFC0_0000):
        assert ts_last_pes_pts(_packet(_pes(pts)), PID) == pts, hex(pts)


def test_the_last_pes_start_of_the_pid_is_the_last_frame():
    data = _packet(_pes(1000)) + _packet(b"\x11" * 184, start=False) + _packet(_pes(2000), pid=0x101) + _packet(_pes(3000))
    assert ts_last_pes_pts(data, PID) == 3000
    assert ts_last_pes_pts(data, 0x101) == 2000
    assert ts_last_pes_pts(data[:-188], PID) == 1000
    assert ts_last_pes_pts(data + b"\x47\x41\x00\x10" + bytes(60), PID) == 3000  # a partial packet after the last whole one


def test_a_packet_cut_short_is_not_read_even_when_its_188_ts_bytes_are_there():
    """204-byte packets (TS with 16 FEC bytes): a last packet that lost only FEC bytes is still a cut packet,
    which ts_truncation reports; the last frame is looked for in the whole packets before it."""
    fec = lambda p: p + bytes(16)  # noqa: E731
    data = fec(_packet(_pes(1000))) + fec(_packet(_pes(2000))) + fec(_packet(start=False)) + fec(_packet(_pes(3000)))[:195]
    assert ts_layout(data) == (204, 0)
    assert ts_last_pes_pts(data, PID) == 2000
    assert ts_truncation(data) == "the file ends 195 bytes into a 204-byte transport packet"


def test_m2ts_packets_are_read_past_their_4_byte_time_code():
    data = b"".join(b"\0\0\0\0" + p for p in (_packet(_pes(1000)), _packet(_pes(2000)), _packet(b"", start=False)))
    assert ts_layout(data) == (192, 4)
    assert ts_last_pes_pts(data, PID) == 2000


def test_a_packet_that_lost_its_sync_byte_or_has_no_payload_is_not_the_last_frame():
    cont = _packet(start=False)
    data = _packet(_pes(1000)) + cont + cont + _packet(_pes(2000), sync=0x00) + cont  # (the first three set the layout)
    assert ts_last_pes_pts(data, PID) == 1000
    assert ts_last_pes_pts(_packet(_pes(1000)) + _packet(control=2), PID) == 1000  # unit start flagged, adaptation only


@pytest.mark.parametrize("pes", [_pes(flags=0x00), _pes(flags=0x01), _pes(flags=0x40), _pes(start=b"\0\0\2"),
                                 _pes(start=b"\1\0\1")])
def test_a_last_pes_without_a_pts_or_without_its_start_code_gives_no_time(pes):
    assert ts_last_pes_pts(_packet(_pes(1000)) + _packet(pes), PID) is None


def test_a_pes_header_too_short_for_its_pts_gives_no_time():
    pes = _pes(123456)
    assert ts_last_pes_pts(_packet(pes, payload_len=14), PID) == 123456  # exactly the header with its PTS
    assert ts_last_pes_pts(_packet(pes, payload_len=13) + _packet(b"\x55" * 184, start=False), PID) is None


def test_a_frame_time_unwrapped_past_33_bits_still_matches_its_pes():
    """FFmpeg unwraps time stamps past the 33-bit wrap (26.5 h of 90 kHz): the PES still says the low 33 bits."""
    data = _packet(_pes(90000))
    assert ts_last_frame_cut(data, PID, [((1 << 33) + 86250, False), ((1 << 33) + 90000, False)]) is None
    assert ts_last_frame_cut(data, PID, [((2 << 33) + 90000, False)]) is None
    assert ts_last_frame_cut(data, PID, [((1 << 33) + 86250, False)]) == "the last frame did not decode: the file ends inside it"
    assert ts_last_frame_cut(data, PID, [((1 << 33) + 90000, True)]) == "the last frame decodes damaged: the file ends inside it"


def test_a_short_stream_whose_last_packet_lacks_its_sync_byte_is_cut():
    data = bytearray(_packet(_pes(1000)) + _packet(start=False) * 3)
    assert ts_truncation(bytes(data)) is None
    data[3 * 188] = 0
    assert ts_truncation(bytes(data)) == "its last transport packet lacks the sync byte (0x47)"


def test_a_stream_cut_inside_its_second_packet_is_cut():
    data = _packet(_pes(1000)) + _packet(start=False)
    assert ts_truncation(data[:282]) == "the file ends 94 bytes into a 188-byte transport packet"
    assert ts_truncation(data) is None


def test_an_m2ts_cut_inside_its_first_packet_is_cut():
    data = b"\0\0\0\0" + _packet(_pes(1000))
    assert ts_truncation(data[:190]) == "the file ends 190 bytes into a 192-byte transport packet"


def test_an_m2ts_cut_between_packets_inside_its_last_frame_is_truncated(tmp_path):
    from tests.video.test_transport_stream import _ts, _video_pes_starts

    data = _ts(tmp_path / "v.m2ts", m2ts=True)
    last = _video_pes_starts(data, 192, 4)[-1]
    r = pytest.raises(VideoRejected, decode_video, data[:(last + 2) * 192]).value
    assert r.kind == "truncated" and r.detail.startswith("the last frame"), r
    assert len(decode_video(data).frames) == 12
