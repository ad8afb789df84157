"""Whether an MPEG program stream, an ASF (Windows Media) file, an FLV or an Ogg file was cut short,
from its own structure. FFmpeg decodes such a file as far as it goes and its header's frame count is unknown
(0), so without these a copy cut in the middle was curated as a shorter clip (helper H's walkthrough,
session 52: .mpg and .ogv cut at 60 % were accepted with 66 of 75 and 9 of 24 frames). Each returns
why the file is cut, or None when it is whole, is not of its kind, or stops being one (left to the
decoder). Also which of an AVI's video chunks hold a frame (``avi_video_chunks``): its header counts
the empty ones, dropped frames, too."""

from __future__ import annotations

import struct
from dataclasses import dataclass

_START = b"\x00\x00\x01"
_PS_END, _PS_PACK, _PS_SYSTEM = 0xB9, 0xBA, 0xBB


def _ps_pack_length(data: bytes, pos: int) -> int | None:
    """Bytes of the pack header at ``pos``: MPEG-2's 14 plus its stuffing, MPEG-1's 12; None when
    the bytes after the start code are neither (or the header is cut: the caller checks the length)."""
    if pos + 5 > len(data):
        return 14  # cut before the marker byte: past the end whichever it is
    if data[pos + 4] >> 6 == 1:  # MPEG-2: '01' marker bits
        return 14 + (data[pos + 13] & 7) if pos + 14 <= len(data) else 14
    if data[pos + 4] >> 4 == 2:  # MPEG-1: '0010'
        return 12
    return None


def _past_zero_padding(data: bytes, pos: int) -> int:
    """Where the next start code begins when zero bytes fill the space before it, else ``pos``. A
    VCD's program stream (FFmpeg's -f vcd) holds whole sectors of zeros between its packs, and a
    file may end in zeros: the walk stopped at them and a VCD cut past its first padding passed."""
    end = pos
    while end < len(data) and data[end] == 0:
        end += 1
    if end == len(data):
        return end if end - pos > 3 else pos  # a run that could be a start code cut short is left to the walk
    return end - 2 if end - pos > 2 and data[end] == 1 else pos


def ps_truncation(data: bytes) -> str | None:
    """Why an MPEG program stream (.mpg, .mpeg, .vob) is cut short: it ends inside a pack header or a
    packet (each packet after its start code says its length). A cut exactly between packets leaves
    a whole, shorter stream and is not seen: the end code (0x000001B9) is optional and a DVD's
    VOB_01 ends without one, so its absence is no cut."""
    if data[:4] != _START + bytes([_PS_PACK]):
        return None
    n, pos = len(data), 0
    while pos < n:
        pos = _past_zero_padding(data, pos)
        if pos == n:
            return None  # the stream ends in zero padding after a whole packet
        if data[pos:pos + 3] != _START[: n - pos][:3]:
            return None  # no start code here: not a structure this walk knows
        if pos + 4 > n:
            return "the file ends inside a start code"
        code = data[pos + 3]
        if code == _PS_END:
            return None
        if code == _PS_PACK:
            length = _ps_pack_length(data, pos)
            if length is None:
                return None
            what = "a pack header"
        elif code >= _PS_SYSTEM:
            if pos + 6 > n:
                return f"the file ends inside the header of a packet of stream 0x{code:02X}"
            length = 6 + struct.unpack(">H", data[pos + 4:pos + 6])[0]
            what = f"a packet of stream 0x{code:02X}"
        else:
            return None  # an elementary stream's own start code: no program stream after all
        if pos + length > n:
            return f"the file ends inside {what} ({pos + length - n} bytes missing)"
        pos += length
    return None


_ASF_HEADER = bytes.fromhex("3026B2758E66CF11A6D900AA0062CE6C")
_ASF_FILE_PROPERTIES = bytes.fromhex("A1DCAB8C47A9CF118EE400C00C205365")
_ASF_DATA = bytes.fromhex("3626B2758E66CF11A6D900AA0062CE6C")
_ASF_OBJECTS = {_ASF_HEADER: "Header", _ASF_DATA: "Data",
                bytes.fromhex("90080033B1E5CF1189F400A0C90349CB"): "Simple Index",
                bytes.fromhex("D329E2D6DA35D111903400A0C90349BE"): "Index"}


def _asf_file_properties(data: bytes) -> tuple[int, bool] | None:
    """(the file size the File Properties object declares, whether the broadcast flag is set), None
    when the object is absent. A broadcast file's writer (a live stream's dump, FFmpeg writing to a
    pipe) knows neither the file's size nor its Data object's: ASF says both fields are then invalid."""
    header_end = min(len(data), struct.unpack("<Q", data[16:24])[0]) if len(data) >= 24 else 0
    pos = 30  # the Header object's GUID, size, object count and 2 reserved bytes, then its objects
    while pos + 24 <= header_end:
        guid, size = data[pos:pos + 16], struct.unpack("<Q", data[pos + 16:pos + 24])[0]
        if guid == _ASF_FILE_PROPERTIES and pos + 92 <= len(data):
            broadcast = bool(struct.unpack("<I", data[pos + 88:pos + 92])[0] & 1)
            return struct.unpack("<Q", data[pos + 40:pos + 48])[0], broadcast
        if size < 24:
            return None
        pos += size
    return None


def asf_truncation(data: bytes) -> str | None:
    """Why an ASF file (.wmv, .asf) is cut short: fewer bytes than its File Properties declare, or
    a top-level object (Header, Data, Index) that runs past the end of the file. Bytes past the size
    it declares, or where no object this walk knows begins, are left to the decoder (128 bytes
    appended to a whole WMV were read as an object '755828109848995896 bytes' long: truncated)."""
    if data[:16] != _ASF_HEADER:
        return None
    n = len(data)
    declared, broadcast = _asf_file_properties(data) or (0, False)
    if declared and not broadcast and n < declared:
        return f"the file ends {declared - n} bytes before the end its header declares ({declared} bytes)"
    end = declared if declared and not broadcast else n
    pos = 0
    while pos < end:
        if pos + 24 > n:
            return "the file ends inside a top-level object header"
        guid, size = data[pos:pos + 16], struct.unpack("<Q", data[pos + 16:pos + 24])[0]
        if size < 24 or guid not in _ASF_OBJECTS or (broadcast and guid == _ASF_DATA):
            return None  # no object here; a broadcast file's Data object says its header's size alone (FFmpeg: 50 bytes)
        if pos + size > n:
            return f"the file ends inside its {_ASF_OBJECTS.get(guid, 'top-level')} object ({pos + size - n} bytes missing)"
        pos += size
    return None


_FLV_TAG_TYPES = {8: "an audio", 9: "a video", 18: "a script data"}


def flv_truncation(data: bytes) -> str | None:
    """Why an FLV (.flv) is cut short: it ends inside a tag (each says its size). A recorder that
    never wrote the duration (a live stream's dump) leaves this the only sign; a cut between tags is
    a whole, shorter stream."""
    if data[:3] != b"FLV" or len(data) < 9:
        return None
    n, pos = len(data), struct.unpack(">I", data[5:9])[0] + 4  # the header, then the first PreviousTagSize (0)
    while pos < n:
        if pos + 11 > n:
            return "the file ends inside a tag header"
        kind = data[pos] & 0x1F
        if kind not in _FLV_TAG_TYPES or data[pos] & 0xC0 or data[pos + 8:pos + 11] != b"\0\0\0":
            return None  # not at a tag (reserved bits and StreamID are 0): leave it to the decoder
        end = pos + 11 + int.from_bytes(data[pos + 1:pos + 4], "big") + 4  # header, data, PreviousTagSize
        if end > n:
            return f"the file ends inside {_FLV_TAG_TYPES[kind]} tag ({end - n} bytes missing)"
        pos = end
    return None


_OGG_PAGE = b"OggS"
_OGG_EOS = 0x04  # header type flag: the last page of a logical stream


def ogg_truncation(data: bytes) -> str | None:
    """Why an Ogg file (.ogv) is cut short: it ends inside a page, or a logical stream has no page
    flagged end-of-stream (cut exactly between pages: every writer flags each stream's last page)."""
    if data[:4] != _OGG_PAGE:
        return None
    n, pos, open_streams = len(data), 0, {}
    while pos < n:
        if data[pos:pos + 4] != _OGG_PAGE[: n - pos][:4]:
            return None  # not at a page: leave it to the decoder
        if pos + 27 > n:
            return "the file ends inside a page header"
        flags, serial, segments = data[pos + 5], struct.unpack("<I", data[pos + 14:pos + 18])[0], data[pos + 26]
        if pos + 27 + segments > n:
            return "the file ends inside a page header"
        end = pos + 27 + segments + sum(data[pos + 27:pos + 27 + segments])
        if end > n:
            return f"the file ends inside a page of stream {serial} ({end - n} bytes missing)"
        open_streams[serial] = not flags & _OGG_EOS
        pos = end
    unfinished = sorted(s for s, still_open in open_streams.items() if still_open)
    if unfinished:
        return f"stream {unfinished[0]} has no end-of-stream page: the file was cut between pages"
    return None


@dataclass(frozen=True)
class AviVideoChunks:
    """The first video stream's chunks in an AVI. A 0-byte chunk is a dropped frame: the previous one
    is shown again (VirtualDub, OBS and FFmpeg write them: FFmpeg's muxer wherever a packet's time
    skips a frame, as an mp3 track's encoder delay makes its second one do). The header's frame count
    counts them; FFmpeg skips them, leaving a gap in the decoded frames' times."""
    with_data: int
    empty: int
    trailing: int  # of the empty ones, those after the last frame: the last frame is shown that much longer
    streamed: bool = False  # written where the writer could not seek back (a pipe): no sizes, no frame count, no index
    cut: str | None = None  # why a streamed file is cut short: it ends inside a chunk


# A writer that cannot seek back to fill in a RIFF or LIST size leaves 0, or 0xFFFFFFFF as FFmpeg's
# avi muxer writing to a pipe does (with 2^30 for the frame count)
UNSET_RIFF_SIZES = (0, 0xFFFFFFFF)


def _riff_chunks(data: bytes, pos: int, end: int, cuts: list[str] | None = None):
    """(fourcc, LIST/RIFF type or b"", payload start, payload size) of each chunk in data[pos:end],
    up to one that runs past ``end`` (a cut: the RIFF size and the header's count say so). A list of
    unset size runs to the end of the file; with ``cuts`` (a streamed file, whose sizes say nothing)
    a chunk that runs past the end is noted there."""
    while pos + 8 <= end:
        fourcc, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        start = pos + 8
        if fourcc in (b"RIFF", b"LIST") and size in UNSET_RIFF_SIZES and end == len(data):
            size = end - start
        if start + size > end:
            if cuts is not None:
                cuts.append(f"the file ends inside a {fourcc.decode('latin-1')!r} chunk ({start + size - end} bytes missing)")
            return
        yield fourcc, data[start:start + 4] if fourcc in (b"RIFF", b"LIST") else b"", start, size
        pos = start + size + (size & 1)  # chunks are padded to an even size
    if cuts is not None and pos < end:
        cuts.append("the file ends inside a chunk header")


def _avi_video_ids(data: bytes, start: int, size: int) -> tuple[bytes, bytes] | None:
    """The chunk ids of the first video stream ('00dc', '00db'), from the header list's stream
    headers: a stream's number is its place among them. None when there is no video stream."""
    strls = [(s, n) for c, kind, s, n in _riff_chunks(data, start + 4, start + size) if kind == b"strl"]
    for number, (s, n) in enumerate(strls):
        strh = next(((p, m) for c, _, p, m in _riff_chunks(data, s + 4, s + n) if c == b"strh"), None)
        if strh and data[strh[0]:strh[0] + 4] == b"vids":
            return f"{number:02d}dc".encode(), f"{number:02d}db".encode()
    return None


def _movi_chunk_sizes(data: bytes, start: int, size: int, ids: tuple[bytes, bytes], cuts: list[str] | None):
    """The sizes of the video chunks in a movi list, in order, through its 'rec ' lists, nested ones
    too (FFmpeg reads through them all). A stack of walks, not recursion: a 36 kB file of 3,000
    nested 'rec ' lists ended the walk in a RecursionError, quarantined as a decode_error."""
    walks = [_riff_chunks(data, start + 4, start + size, cuts)]
    while walks:
        for fourcc, kind, s, n in walks[-1]:
            if kind == b"rec ":
                walks.append(_riff_chunks(data, s + 4, s + n, cuts))
                break
            if fourcc in ids:
                yield n
        else:
            walks.pop()


def _idx1_chunk_sizes(data: bytes, start: int, size: int, ids: tuple[bytes, bytes]):
    """The sizes the legacy index (idx1: id, flags, offset, size per chunk) gives the video chunks."""
    for ckid, _, _, n in struct.iter_unpack("<4sIII", data[start:start + size - size % 16]):
        if ckid in ids:
            yield n


def avi_video_chunks(data: bytes) -> AviVideoChunks | None:
    """How many of the first video stream's chunks hold a frame and how many are empty: from the
    legacy index (idx1), which FFmpeg times the frames by, in a file of one RIFF; else (no idx1, or
    an OpenDML file, whose further RIFF 'AVIX' parts idx1 does not cover) from the movi lists
    themselves; in a streamed file (its RIFF size unset), up to where it is cut. None when the bytes are
    no AVI or it holds no video chunk (left to the header)."""
    if data[:4] != b"RIFF" or data[8:12] != b"AVI ":
        return None
    streamed = struct.unpack_from("<I", data, 4)[0] in UNSET_RIFF_SIZES
    cuts: list[str] | None = [] if streamed else None  # a sized file's cut shows in its RIFF size
    ids, movis, idx1, riffs = None, [], None, 0
    for fourcc, kind, start, size in _riff_chunks(data, 0, len(data)):
        if fourcc != b"RIFF" or kind not in (b"AVI ", b"AVIX"):
            break  # bytes after the RIFF parts: none of the walk's
        riffs += 1
        for c, k, s, n in _riff_chunks(data, start + 4, start + size, cuts):
            if k == b"hdrl" and ids is None:
                ids = _avi_video_ids(data, s, n)
            elif k == b"movi":
                movis.append((s, n))
            elif c == b"idx1" and riffs == 1:
                idx1 = (s, n)
    if ids is None:
        return None
    sizes = list(_idx1_chunk_sizes(data, *idx1, ids) if idx1 and riffs == 1
                 else (n for s, size in movis for n in _movi_chunk_sizes(data, s, size, ids, cuts)))
    with_data, cut = sum(1 for n in sizes if n), (cuts or [None])[0]
    if not with_data and not cut:
        return None
    trailing = len(sizes) - 1 - max((i for i, n in enumerate(sizes) if n), default=-1)
    return AviVideoChunks(with_data, len(sizes) - with_data, trailing, streamed, cut)
