"""Decode and validate one video file with PyAV (FFmpeg): container, stream, frames, fps, duration.

Every expected failure is a ``VideoRejected`` with a stable kind and a detail free of paths and
addresses, so a rerun writes the same reason. Unreadable or truncated files are quarantined
(a person should look at them); a readable file that is simply not a usable video (no video
stream, too few frames) is rejected with a score and threshold.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from preprocess.video.containers import (UNSET_RIFF_SIZES, AviVideoChunks, asf_truncation, avi_video_chunks, flv_truncation, ogg_truncation,
                                         ps_truncation)
from preprocess.video.deinterlace import Pictures

# MPEG program streams (.mpg/.mpeg, a DVD's .vob), Flash (.flv), Windows Media (.wmv/.asf) and Ogg (.ogv):
# refused as unsupported_type until session 52, though FFmpeg decodes them
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".3gp", ".3g2", ".webm", ".mkv", ".avi", ".gif", ".webp", ".png", ".apng", ".ts", ".m2ts", ".mts",
                  ".mpg", ".mpeg", ".vob", ".flv", ".wmv", ".asf", ".ogv")
# FFmpeg's demuxer names for those suffixes
CONTAINERS = {"mov", "mp4", "matroska", "webm", "avi", "gif", "mpegts", "mpeg", "flv", "asf", "ogg"}
# Containers whose length FFmpeg reads off their last timestamps, not a header: it says nothing of a cut
LENGTH_FROM_TIMESTAMPS = frozenset({"mpegts", "mpeg", "ogg"})
# FFmpeg's decoders of lossless-only codecs (a GIF's palette is not: it quantises the colours of video)
LOSSLESS_CODECS = frozenset({"ffv1", "huffyuv", "ffvhuff", "rawvideo", "png", "apng", "utvideo", "magicyuv", "qtrle",
                             "zlib", "zmbv", "r210", "v210", "v410", "ayuv", "yuv4"})


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
    note: str | None = None  # something odd but harmless about the file (a GIF without its trailer)
    source_size: tuple[int, int] | None = None  # (w, h) of the first frame as stored, upright, before work_side
    stream_bytes: int | None = None  # bytes of the video stream's packets (the file's for Pillow's formats)
    lossless: bool = False  # a lossless codec (LOSSLESS_CODECS, animated PNG, lossless WebP)
    deinterlaced: bool = False  # interlaced fields made whole frames (deinterlace.py)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.frames.shape[2]), int(self.frames.shape[1])  # (w, h)

    @property
    def native_size(self) -> tuple[int, int]:
        """(w, h) before any scaling to ``work_side``: the source's own resolution."""
        return self.source_size or self.size

    @property
    def bitrate(self) -> float:
        """Bits per second of the video stream (0 when unknown)."""
        return 8.0 * self.stream_bytes / self.duration if self.stream_bytes and self.duration > 0 else 0.0


def _stream_bytes(data: bytes, index: int) -> int | None:
    """The summed packet sizes of stream ``index`` (demuxed only, not decoded): the video's share of
    the file, without audio tracks or container overhead. None when the file cannot be demuxed again."""
    import av

    try:
        with av.open(io.BytesIO(data), mode="r") as c:
            return int(sum(p.size or 0 for p in c.demux(c.streams[index])))
    except Exception:  # noqa: BLE001 - the file decoded once already; a second pass is only for ranking copies
        return None


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


def pixel_aspect(stream) -> float:
    """A pixel's width over its height as players show it: the container's sample aspect ratio, else
    the codec's (FFmpeg's own order), 1 when neither says or the ratio is beyond 1/4..4 (no camera or
    disc format comes near; a damaged header should not blow a frame up 100 times)."""
    sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
    ratio = float(sar) if sar else 1.0
    return ratio if 0.25 <= ratio <= 4 else 1.0


def decode_video(data: bytes, max_frames: int = 20_000, max_pixels: int = 4096 * 4096, work_side: int | None = None) -> DecodedVideo:
    """All frames of the first video stream as RGB, as a player shows them (non-square pixels widened
    or narrowed to their aspect, turned upright), scaled down so the long side is at most
    ``work_side`` (memory: curation never needs full HD). Raises VideoRejected for expected failures."""
    import av

    if not data:
        raise VideoRejected("empty_file", "0 bytes")
    chunks = avi_video_chunks(data)  # None for any other kind of file; a streamed AVI's cut shows here alone
    if cut := (png_truncation(data) or riff_truncation(data) or matroska_truncation(data)  # decoders read a cut file as far as it goes
               or (chunks and chunks.cut) or ps_truncation(data) or asf_truncation(data) or flv_truncation(data) or ogg_truncation(data)):
        raise VideoRejected("truncated", cut)
    if data[:8] == b"\x89PNG\r\n\x1a\n" or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return _decode_animated_image(data, max_frames, max_pixels, work_side)
    cut, note = gif_blocks(data) if data[:6] in (b"GIF87a", b"GIF89a") else (None, None)
    if cut:
        raise VideoRejected("truncated", cut)  # FFmpeg counts a cut GIF's frames from what is there
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError, OSError) as e:
        raise VideoRejected(*_mp4_failure(data, "decode_error", _clean(e))) from None
    with container:
        if not set(container.format.name.split(",")) & CONTAINERS:  # FFmpeg reads e.g. text as CD+G graphics
            raise VideoRejected("decode_error", f"not a video container (FFmpeg guessed {container.format.name!r})")
        transport = container.format.name == "mpegts"
        if transport and (cut := ts_truncation(data)):
            raise VideoRejected("truncated", cut)
        streams = container.streams
        if not streams.video:
            kinds = sorted({s.type for s in streams})
            raise VideoRejected("no_video_stream", f"streams: {', '.join(kinds) or 'none'}", "rejected", 0.0, 1.0)
        stream = streams.video[0]
        ctx = stream.codec_context
        if ctx.width <= 0 or ctx.height <= 0:  # a GIF whose screen is over FFmpeg's limit (65535x65535) reads as 0x0
            raise VideoRejected("decode_error", f"the video stream declares no frame size (FFmpeg reads it as {ctx.width}x{ctx.height})")
        header = f"{ctx.width}x{ctx.height}"  # (the codec context follows the frames as they decode)
        if ctx.width * ctx.height > max_pixels:
            raise VideoRejected("too_many_pixels", header, "quarantined", float(ctx.width * ctx.height), float(max_pixels))
        rate = float(stream.average_rate or stream.guessed_rate or 0) or None
        declared = int(stream.frames or 0)  # from the container header; 0 when unknown (webm, some gifs)
        declared = frames_promised(declared, chunks if container.format.name == "avi" else None, len(data))
        shown_width = ctx.width * pixel_aspect(stream)  # anamorphic (DV, DVD, HDV) pixels are not square
        scale = 1.0 if not work_side else min(1.0, work_side / max(shown_width, ctx.height))
        size = (dict(width=max(2, round(shown_width * scale)), height=max(2, round(ctx.height * scale)))
                if scale < 1 or shown_width != ctx.width else {})
        frames, times, stamps = [], [], []
        native = None
        pictures = Pictures(stream)  # interlaced frames made whole (deinterlace.py); timing from the decoded ones
        try:
            for frame, source in pictures(decoded_frames(container, stream)):
                if frame.width * frame.height > max_pixels:  # the header's size is not the frames' (or they grow mid-way)
                    raise VideoRejected("too_many_pixels", f"frame {len(frames) + 1} is {frame.width}x{frame.height} (the stream "
                                        f"declares {header})", "quarantined",
                                        float(frame.width * frame.height), float(max_pixels))
                # A stream that changes size mid-way (screen and WebRTC recordings) is scaled to the
                # first frame's size, so the clip stays one array.
                arr = rgb_on_white(frame, size)
                if not size:
                    size = dict(width=arr.shape[1], height=arr.shape[0])
                if native is None:  # (w, h) as a player shows the first frame, before work_side
                    native = (frame.width, frame.height)[:: 1 if round((source.rotation or 0) / 90) % 2 == 0 else -1]
                frames.append(upright(arr, source.rotation))
                times.append(source.time)
                stamps.append((source.pts, source.is_corrupt))
                if len(frames) > max_frames:
                    raise VideoRejected("too_many_frames", f"more than {max_frames}", "rejected", float(len(frames)), float(max_frames))
        except av.FFmpegError as e:
            if declared > len(frames):  # the header promised more: the file was cut short
                raise VideoRejected("truncated", f"decoded {len(frames)} of {declared} frames: {_clean(e)}") from None
            raise VideoRejected(*_mp4_failure(data, "decode_error", f"after {len(frames)} frames: {_clean(e)}")) from None
        # a transport or program stream, or an Ogg file, declares no length: FFmpeg estimates one from the
        # file's own last timestamps (a cut copy's too), which an audio track running past the video sets
        promised = None if declared or container.format.name in LENGTH_FROM_TIMESTAMPS else declared_seconds(container, stream)
        if not frames:
            if declared:
                raise VideoRejected("truncated", f"no frame decoded (header declares {declared})")
            if promised and promised[1] == "stream":  # (a container's length may be its other tracks')
                raise VideoRejected("truncated", f"no frame decoded (the {promised[1]} declares {promised[0]:g} s)")
            raise VideoRejected("no_frames", "the video stream holds no frame", "rejected", 0.0, 1.0)
        if declared and len(frames) < declared:
            raise VideoRejected("truncated", f"decoded {len(frames)} of {declared} frames")
        if transport and (cut := ts_last_frame_cut(data, stream.id, stamps)):
            raise VideoRejected("truncated", cut)
        fps = rate or 1.0
        t = np.array([(i / fps) if v is None else float(v) for i, v in enumerate(times)], dtype=np.float64)
        t = t - t[0]
        if len(t) > 1 and np.any(np.diff(t) <= 0):  # broken timestamps: fall back to the nominal rate
            t = np.arange(len(t)) / fps
        duration = float(t[-1] + (1 + (chunks.trailing if chunks else 0)) / fps)  # an AVI's trailing dropped frames hold the last one
        if container.format.name == "gif":  # frames of 0 or 1 cs: as browsers show them, not FFmpeg's 100 fps
            t, fps, duration = browser_gif_timing(gif_delays(data), t, fps, duration)
        # no frame count in the header (Matroska/WebM): the decoded span must reach the declared length,
        # give or take 2 frames or 5 %; a container's length may be an audio track's, which can run longer
        slack = (max(2.0 / fps, 0.05 * promised[0]) if promised[1] == "stream" else max(1.0, 0.25 * promised[0])) if promised else 0.0
        if promised and promised[0] - duration > slack and not _another_track_reaches(data, stream.index, promised, slack):
            raise VideoRejected("truncated", f"decoded {len(frames)} frames, {duration:.3f} s of the {promised[0]:g} s the {promised[1]} declares")
        if len(frames) == 1:  # a one-frame GIF (or any video) is an image, as a one-frame PNG is
            label = "GIF" if container.format.name == "gif" else f"{ctx.name} video"
            raise VideoRejected("still_image", f"1 frame of {label} (curate it as image)", "rejected", 1.0, 2.0)
        return DecodedVideo(np.stack(frames), t, fps, duration, container.format.name, ctx.name, note, native,
                            _stream_bytes(data, stream.index), ctx.name in LOSSLESS_CODECS, pictures.used)


def decoded_frames(container, stream) -> Iterator:
    """The video stream's decoded frames. A VP8/VP9 WebM whose track says ``alpha_mode: 1`` (a
    sticker, a motion-graphics overlay) keeps its alpha in each block's additions, which only libvpx
    reads: FFmpeg's own decoder returned the colour alone, the transparent background black. Where
    this FFmpeg has no libvpx, FFmpeg's decoder as before; libvpx's errors are the decoder's errors."""
    import av

    name = {"vp9": "libvpx-vp9", "vp8": "libvpx"}.get(stream.codec_context.name)
    if not name or str((stream.metadata or {}).get("alpha_mode", "")) != "1":
        return container.decode(stream)
    try:
        ctx = av.CodecContext.create(name, "r")
    except (av.FFmpegError, ValueError):
        return container.decode(stream)
    return _libvpx_frames(ctx, container.demux(stream), stream.time_base)


def _libvpx_frames(ctx, packets, time_base) -> Iterator:
    for packet in packets:
        for frame in ctx.decode(packet if packet.size else None):
            frame.time_base = time_base  # a context made by hand counts in none: the stream's, as demuxed
            yield frame
        if not packet.size:  # the demuxer's last, empty packet flushed the decoder
            return


def rgb_on_white(frame, size: dict) -> np.ndarray:
    """[H, W, 3] uint8 of a decoded frame at ``size``; a frame with an alpha channel (ProRes 4444, PNG or
    QuickTime RLE in MOV, a GIF's transparency) over white, as animated PNG and WebP and images are.
    Until session 54 the alpha was dropped: a sticker's transparent background came out black in a MOV
    (and was kept) and white as an animated PNG (and was rejected highlight_clip), or a GIF's transparent
    palette colour, whatever that was."""
    if not any(c.is_alpha for c in frame.format.components):
        return frame.to_ndarray(format="rgb24", **size)
    rgba = frame.to_ndarray(format="rgba", **size).astype(np.uint32)
    alpha = rgba[..., 3:]
    return ((rgba[..., :3] * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def frames_promised(declared: int, chunks: AviVideoChunks | None, file_size: int) -> int:
    """How many frames an AVI must decode to: its header's count less the dropped-frame (0-byte)
    chunks it counts, which hold none, and at least as many as its chunks hold. A whole AVI of 10
    frames and one such chunk (FFmpeg's muxer with an mp3 track) was quarantined 'decoded 10 of 11
    frames'; a frame that fails to decode still leaves one missing, and a file cut between chunks
    (its RIFF size unset, as a streaming writer leaves it) still falls short of the header's count,
    unless that count is more chunks than the file has room for (8 bytes each): a placeholder, as
    the 2^30 FFmpeg writes to a pipe."""
    if chunks is None:
        return declared
    if chunks.streamed and declared * 8 > file_size:
        declared = 0
    return max(chunks.with_data, declared - chunks.empty)


_HMS = re.compile(r"^(\d+):(\d\d):(\d\d(?:\.\d+)?)$")


def _another_track_reaches(data: bytes, video_index: int, promised: tuple[float, str], slack: float) -> bool:
    """Whether the container's length (``promised``, of kind "container") is another track's: its
    packets run to within ``slack`` of it, so the file is whole and its video simply ends earlier. A
    cut copy's tracks all stop at the cut. An FLV's or WMV's declared length covers every track: a
    whole clip whose audio outlasted its video by over 1 s and 25 % was quarantined truncated (10
    frames, 0.4 s, with 3 s of AAC: 'decoded 10 frames, 0.400 s of the 3.018 s the container declares')."""
    import av

    seconds, kind = promised
    if kind != "container":
        return False
    end = 0.0
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            others = [s for s in container.streams if s.index != video_index]
            start = (container.start_time or 0) / 1_000_000
            for packet in container.demux(*others):
                if packet.pts is not None and packet.time_base is not None:
                    end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base) - start)
    except (av.FFmpegError, ValueError, OSError):
        return False  # damaged past the video: not shown whole
    return seconds - end <= slack


def declared_seconds(container, stream) -> tuple[float, str] | None:
    """The length the file says its video has, for containers without a frame count (Matroska,
    WebM), and what declares it: the muxer's per-track DURATION tag, else the container's duration,
    which also covers other streams (an audio track may run longer). Not ``stream.duration``:
    for Matroska FFmpeg fills it in from the container's when the track's own is unknown."""
    m = _HMS.match(str((stream.metadata or {}).get("DURATION", "")).strip())
    if m:
        seconds = round(int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]), 3)
        return (seconds, "stream") if seconds > 0 else None
    if container.duration and container.duration > 0:
        return round(container.duration / 1_000_000, 3), "container" if len(container.streams) > 1 else "stream"
    return None


GIF_NO_TRAILER = "the GIF has no trailer (0x3B), but its last frame is whole"
# Browsers (Firefox, Chrome, Safari) show a GIF frame whose delay is under 2 cs (0 or 10 ms) for 10 cs, as
# GIF writers meant "as fast as possible" by it; FFmpeg kept a delay of 1 cs, so a 20-frame GIF every browser
# plays in 2 s was curated as 0.2 s at 100 fps and rejected clip_too_short (helper D, session 54).
GIF_MIN_DELAY_CS, GIF_SHOWN_DELAY_CS = 2, 10


def gif_delays(data: bytes) -> list[int] | None:
    """Each image's delay in centiseconds, from the graphic control block before it (0 without one),
    in file order; None where the block walk does not reach the trailer or the end cleanly."""
    n = len(data)
    if n < 13:
        return None
    pos = 13 + ((3 << ((data[10] & 7) + 1)) if data[10] & 0x80 else 0)
    delays, pending = [], 0
    while pos < n and data[pos] != 0x3B:
        tag = data[pos]
        if tag == 0x21 and pos + 2 <= n:  # extension: label, sub-blocks (a control block's first holds the delay)
            if data[pos + 1] == 0xF9 and pos + 6 <= n and data[pos + 2] >= 4:
                pending = int.from_bytes(data[pos + 4:pos + 6], "little")
            p = pos + 2
        elif tag == 0x2C and pos + 10 <= n:  # image: descriptor, local colour table, LZW code size, sub-blocks
            p = pos + 10 + ((3 << ((data[pos + 9] & 7) + 1)) if data[pos + 9] & 0x80 else 0) + 1
            delays.append(pending)
            pending = 0
        else:
            return None
        while p < n and data[p]:
            p += data[p] + 1
        if p >= n:
            return None
        pos = p + 1
    return delays


def shown_ms(delay_ms: float) -> float:
    """An animated PNG's or WebP's frame delay as browsers show it: 10 ms and under (0: "as fast as
    possible") for 100 ms, as a GIF's 0 and 1 cs. Until session 54 10 ms stood (0 was 100 ms already)."""
    return delay_ms if delay_ms > 10 else 100.0


def browser_gif_timing(delays: list[int] | None, t: np.ndarray, fps: float, duration: float) -> tuple[np.ndarray, float, float]:
    """(times, fps, duration) of a GIF's frames as browsers show them, where a frame's delay is under
    GIF_MIN_DELAY_CS; FFmpeg's own otherwise (and when the delays do not match the decoded frames)."""
    if not delays or len(delays) != len(t) or min(delays) >= GIF_MIN_DELAY_CS:
        return t, fps, duration
    shown = np.array([d if d >= GIF_MIN_DELAY_CS else GIF_SHOWN_DELAY_CS for d in delays], dtype=np.float64) / 100
    times = np.concatenate([[0.0], np.cumsum(shown[:-1])])
    return times, len(shown) / float(shown.sum()), float(shown.sum())


def gif_blocks(data: bytes) -> tuple[str | None, str | None]:
    """(why the GIF is cut short, a note on a whole one), each or both None. Walks the block
    structure (GIF89a spec): header, screen descriptor, colour table, then extensions and images
    until the trailer; bytes after the trailer are ignored. Many writers leave the trailer out: a
    GIF that ends right after a whole image (or a comment or application block) is whole; one that
    ends inside a block, or after a frame's graphic control block without its image, is cut."""
    n, pos, frames, last = len(data), 13, 0, None
    if n < 13:
        return "the GIF header is cut short", None
    if data[10] & 0x80:
        pos += 3 << ((data[10] & 7) + 1)

    def sub_blocks(p: int) -> int | None:  # past the data sub-blocks at p, None when cut
        while p < n:
            if data[p] == 0:
                return p + 1
            p += data[p] + 1
        return None

    while pos < n:
        tag = data[pos]
        if tag == 0x3B:
            return None, None
        if tag == 0x21:  # extension: label, sub-blocks
            end = sub_blocks(pos + 2) if pos + 2 <= n else None
        elif tag == 0x2C:  # image: descriptor, local colour table, LZW code size, sub-blocks
            end = None
            if pos + 10 <= n:
                p = pos + 10 + ((3 << ((data[pos + 9] & 7) + 1)) if data[pos + 9] & 0x80 else 0)
                end = sub_blocks(p + 1) if p + 1 <= n else None
        else:
            return None, None  # not a block FFmpeg's reader would be at: leave the verdict to the decoder
        if end is None:
            return (f"the GIF ends inside frame {frames + 1}" if tag == 0x2C else f"the GIF ends inside a block after {frames} frames"), None
        frames += tag == 0x2C
        last = data[pos + 1] if tag == 0x21 else tag
        pos = end
    if last == 0xF9:  # a graphic control block announces an image that never came
        return f"the GIF ends after {frames} frames and the control block of the next, without its image", None
    if not frames:
        return "the GIF ends before its first frame", None
    return None, GIF_NO_TRAILER


TS_SYNC = 0x47
_TS_LAYOUTS = ((188, 0), (192, 4), (204, 0))  # (packet size, offset of the sync byte): TS, M2TS (.m2ts/.mts), TS with FEC


def ts_layout(data: bytes) -> tuple[int, int] | None:
    """(packet size, sync byte offset) of an MPEG transport stream: the sync byte 0x47 recurs every
    packet over the first three. None when the bytes are no transport stream."""
    for size, at in _TS_LAYOUTS:
        marks = [at + k * size for k in range(3) if at + k * size < len(data)]
        if all(data[m] == TS_SYNC for m in marks) and (len(marks) > 1 or len(data) <= size + at):
            return size, at
    return None


def ts_truncation(data: bytes) -> str | None:
    """Why a transport stream is cut short from its packets: the file ends inside one (its length is
    no whole number of packets), or its last packet lacks the sync byte. None when the packets are
    whole; a cut exactly between packets shows only in the last frame (``ts_last_frame_cut``)."""
    layout = ts_layout(data)
    if layout is None:
        return None
    size, at = layout
    if part := len(data) % size:
        return f"the file ends {part} bytes into a {size}-byte transport packet"
    if data[len(data) - size + at] != TS_SYNC:
        return "its last transport packet lacks the sync byte (0x47)"
    return None


def ts_last_pes_pts(data: bytes, pid: int) -> int | None:
    """The presentation time stamp (90 kHz, 33 bits) of the last PES packet that starts on ``pid``:
    the last frame the file holds. None when there is none or it carries no PTS."""
    layout = ts_layout(data)
    if layout is None:
        return None
    size, at = layout
    for start in range(len(data) - len(data) % size - size + at, -1, -size):
        pkt = data[start:start + 188]
        if len(pkt) < 188 or pkt[0] != TS_SYNC or not pkt[1] & 0x40 or ((pkt[1] & 0x1F) << 8 | pkt[2]) != pid:
            continue  # another stream's packet, or the middle of a PES
        control = pkt[3] >> 4 & 3
        if not control & 1:
            continue  # adaptation field only, no payload
        pes = pkt[4 + (1 + pkt[4] if control & 2 else 0):]
        if pes[:3] != b"\0\0\1" or len(pes) < 14 or not pes[7] & 0x80:
            return None
        b = pes[9:14]
        return (b[0] >> 1 & 7) << 30 | b[1] << 22 | b[2] >> 1 << 15 | b[3] << 7 | b[4] >> 1
    return None


def ts_last_frame_cut(data: bytes, pid: int, stamps: list[tuple[int | None, bool]]) -> str | None:
    """Why a transport stream whose packets are whole was cut inside its last frame: the frame of
    the last PES (by its PTS) did not decode, or decoded damaged. ``stamps``: (pts, corrupt) of every
    decoded frame. A cut exactly between two frames leaves a whole, shorter stream: None. FFmpeg's
    H.264, MPEG-2 and MPEG-4 decoders flag a frame they had to conceal; its HEVC decoder does not,
    so an HEVC stream cut between packets inside its last frame passes (the modulo check catches
    187 of 188 random cuts)."""
    last = ts_last_pes_pts(data, pid)
    if last is None or all(pts is None for pts, _ in stamps):
        return None
    mine = [corrupt for pts, corrupt in stamps if pts is not None and pts % (1 << 33) == last]
    if not mine:
        return "the last frame did not decode: the file ends inside it"
    if any(mine):
        return "the last frame decodes damaged: the file ends inside it"
    return None


_MP4_TOP = {b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"meta", b"moof", b"mfra", b"sidx", b"pdin"}


def mp4_truncation(data: bytes) -> str | None:
    """Why an MP4/MOV is cut short, from its top-level boxes: one that runs past the end of the
    file, or media data ('mdat') with no index ('moov'): the index comes last unless the file was
    written with faststart, so a file cut anywhere loses it. None when the boxes are whole, or the
    bytes are no box chain."""
    if data[4:8] not in _MP4_TOP:
        return None
    n, pos, seen = len(data), 0, set()
    while pos < n:
        if pos + 8 > n:
            return "the file ends inside a top-level box header"
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        head = 8
        if size == 1:
            if pos + 16 > n:
                return "the file ends inside a top-level box header"
            size, head = struct.unpack(">Q", data[pos + 8:pos + 16])[0], 16
        elif size == 0:  # runs to the end of the file
            size = n - pos
        if size < head or not re.fullmatch(rb"[ -~]{4}", kind):
            return None
        seen.add(kind)
        if pos + size > n:
            return f"the file ends inside its top-level {kind.decode()!r} box ({pos + size - n} bytes missing)"
        pos += size
    if b"mdat" in seen and b"moov" not in seen and b"moof" not in seen:
        return "media data ('mdat') without its index ('moov'): the file was cut short"
    return None


_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_NAMES = {0x1A45DFA3: "EBML header", 0x18538067: "Segment", 0x1F43B675: "Cluster", 0x1C53BB6B: "Cues",
               0x114D9B74: "SeekHead", 0x1549A966: "Info", 0x1654AE6B: "Tracks", 0x1254C367: "Tags",
               0xA3: "SimpleBlock", 0xA0: "BlockGroup"}
_SEGMENT = 0x18538067
_EBML_UNKNOWN_SIZE_OPENS = {_SEGMENT, 0x1F43B675}  # Segment and Cluster: a live writer leaves their size unknown


def _ebml_vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int, bool] | None:
    """(value, length, all value bits set) of the EBML variable-length integer at ``pos``, None when
    invalid (a first byte of 0). IDs keep their length marker, sizes drop it. The caller checks that
    ``pos + length`` lies within the file."""
    length = 9 - data[pos].bit_length()
    if length > 8:
        return None
    value = int.from_bytes(data[pos:pos + length].ljust(length, b"\0"), "big")
    marker = 1 << (7 * length)
    return (value if keep_marker else value - marker), length, value - marker == marker - 1


def matroska_truncation(data: bytes) -> str | None:
    """Why a Matroska/WebM file is cut short from its EBML structure: an element that runs past the
    end of the file, or a file that ends inside an element's header. A writer that could seek back
    (every file muxer) wrote the Segment's size, so any cut shows; a live writer leaves the Segment's
    and Clusters' sizes unknown, and the walk goes into them, element by element. None when whole,
    not Matroska, or the bytes stop being elements (left to the decoder); bytes after a whole
    Segment are ignored."""
    if data[:4] != _EBML_MAGIC:
        return None
    n, pos = len(data), 0
    while pos < n:
        ident = _ebml_vint(data, pos, keep_marker=True)
        if ident is None or ident[1] > 4:
            return None  # no element here
        if pos + ident[1] >= n:
            return "the file ends inside an element header"
        size = _ebml_vint(data, pos + ident[1], keep_marker=False)
        if size is None:
            return None
        start = pos + ident[1] + size[1]
        if start > n:
            return "the file ends inside an element header"
        if size[2] and ident[0] in _EBML_UNKNOWN_SIZE_OPENS:
            pos = start  # unknown size: its children follow, up to the next Cluster or the end
            continue
        if start + size[0] > n:
            name = _EBML_NAMES.get(ident[0], f"0x{ident[0]:X}")
            return f"the file ends inside its {name} element ({start + size[0] - n} bytes missing)"
        if ident[0] == _SEGMENT:
            return None
        pos = start + size[0]
    return None


def riff_truncation(data: bytes) -> str | None:
    """Why a RIFF file (AVI, WebP) is cut short: fewer bytes than its header declares. None when
    whole, not RIFF, or the size is unset (0, or 0xFFFFFFFF as FFmpeg writing an AVI to a pipe leaves
    it: such a whole AVI was quarantined 'the file ends 4294965747 bytes before the end its RIFF
    header declares'; its chunks show a cut, containers.avi_video_chunks)."""
    if data[:4] != b"RIFF" or len(data) < 12:
        return None
    size = struct.unpack("<I", data[4:8])[0]
    declared = size + 8
    if size not in UNSET_RIFF_SIZES and len(data) < declared:
        return f"the file ends {declared - len(data)} bytes before the end its RIFF header declares ({declared} bytes)"
    return None


def png_truncation(data: bytes) -> str | None:
    """Why a PNG (an animated one here) is cut short: its chunk chain runs past the end of the file,
    or ends before the IEND chunk. None when whole or not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos, n = 8, len(data)
    while pos + 8 <= n:
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if pos + 12 + length > n:
            return f"the file ends inside its {kind.decode('latin-1')!r} chunk ({pos + 12 + length - n} bytes missing)"
        if kind == b"IEND":
            return None
        pos += 12 + length
    return "the file ends before its IEND chunk"


def _mp4_failure(data: bytes, kind: str, detail: str) -> tuple[str, str]:
    """(kind, detail) of a decoding failure: ``truncated`` when the MP4/MOV box chain shows the cut."""
    cut = mp4_truncation(data)
    return ("truncated", cut) if cut else (kind, detail)


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
            durations.append(shown_ms(float(frame.info.get("duration") or 0.0)) / 1000.0)
    except VideoRejected:
        raise
    except Exception as e:  # noqa: BLE001 - a corrupt file is quarantined with the decoder's message
        raise VideoRejected("decode_error", _clean(e)) from None
    times = np.concatenate([[0.0], np.cumsum(durations[:-1])])
    fps = 1.0 / float(np.median(durations))
    # an animated WebP is lossless when every frame is VP8L (no lossy VP8 bitstream in it)
    lossless = img.format == "PNG" or (b"VP8L" in data and b"VP8 " not in data)
    return DecodedVideo(np.stack(frames), times, fps, float(times[-1] + durations[-1]), img.format.lower(), img.format.lower(),
                        source_size=(w, h), stream_bytes=len(data), lossless=lossless)
