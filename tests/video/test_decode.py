"""decode_video: what FFmpeg would read as some other kind of media is no video."""

import numpy as np
import pytest

from preprocess.video.decode import VideoRejected, decode_video


def test_text_named_like_a_video_is_a_decode_error_not_a_short_clip():
    # FFmpeg probes these bytes as CD+G karaoke graphics: one 'video' stream of 300 x 216
    with pytest.raises(VideoRejected) as e:
        decode_video(b"I am a text file with an mp4 name")
    assert e.value.kind == "decode_error" and "not a video container" in str(e.value), e.value


@pytest.mark.parametrize("fmt", ["mp4", "webm", "gif"])
def test_the_corpus_formats_decode(tmp_path, fmt):
    from preprocess.video.demo_corpus import write_video

    frames = (np.random.default_rng(0).random((6, 32, 32)) * 255).astype(np.uint8)
    write_video(tmp_path / f"clip.{fmt}", frames, fmt=fmt)
    assert len(decode_video((tmp_path / f"clip.{fmt}").read_bytes()).frames) == 6


def _h264(path, frames_by_size, fps=8):
    """An H.264 MP4/MKV of RGB frames; frames of another size start a new (in-band) sequence header."""
    import fractions

    import av

    packets = []
    for frames in frames_by_size:
        cc = av.CodecContext.create("libx264", "w")
        cc.height, cc.width = frames[0].shape[:2]
        cc.pix_fmt, cc.time_base, cc.framerate = "yuv420p", fractions.Fraction(1, fps), fps
        cc.options = {"x264-params": "repeat-headers=1:bframes=0"}
        for f in frames:
            packets += cc.encode(av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p"))
        packets += cc.encode(None)
    with av.open(str(path), "w") as c:
        s = c.add_stream("h264", rate=fps)
        s.height, s.width = frames_by_size[0][0].shape[:2]
        s.time_base = fractions.Fraction(1, fps)
        for i, p in enumerate(packets):
            p.stream, p.pts, p.dts, p.time_base = s, i, i, fractions.Fraction(1, fps)
            c.mux(p)
    return path


def _marked(n, h, w):
    """Dark frames with a bright block in the top-left corner."""
    frames = np.full((n, h, w, 3), 30, np.uint8)
    frames[:, : h // 4, : w // 4] = 230
    return list(frames)


def test_a_phone_video_tagged_as_rotated_is_turned_upright(tmp_path):
    """Phones store an upright shot sideways with a display matrix of 90 degrees (tkhd
    [0 1 -1 0]); a player turns it clockwise, so the stored top-left corner shows top-right."""
    import struct

    path = _h264(tmp_path / "portrait.mp4", [_marked(8, 64, 96)])
    data = bytearray(path.read_bytes())
    i = data.find(b"tkhd")
    assert data[i + 4] == 0  # version 0: 4+4 (flags, times) + 4 (track) + 4 + 4 (duration) + 8 + 2 + 2 + 2 + 2
    at = i + 4 + 4 + 4 + 4 + 4 + 4 + 4 + 8 + 2 + 2 + 2 + 2
    data[at:at + 36] = struct.pack(">9i", 0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30)
    video = decode_video(bytes(data))
    assert video.size == (64, 96) and video.frames.shape[1:] == (96, 64, 3)
    corner = video.frames[0, :20, -14:].mean(), video.frames[0, :20, :14].mean(), video.frames[0, -20:, -14:].mean()
    assert corner[0] > 180 and corner[1] < 80 and corner[2] < 80, corner
    plain = decode_video(path.read_bytes())
    assert plain.size == (96, 64) and plain.frames[0, :12, :20].mean() > 180


def test_a_stream_that_changes_size_midway_is_scaled_to_its_first_size(tmp_path):
    path = _h264(tmp_path / "resize.mkv", [_marked(8, 64, 96), _marked(8, 96, 128)])
    video = decode_video(path.read_bytes())
    assert video.frames.shape == (16, 64, 96, 3)
    assert video.frames[-1, :12, :20].mean() > 180 and video.frames[-1, -12:, -20:].mean() < 80


def test_a_video_stream_without_frames_is_rejected_as_such_not_called_truncated(tmp_path):
    import av

    path = tmp_path / "no_frames.mkv"  # a video track with no packets beside a second of audio
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=8)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        a = c.add_stream("aac", rate=44100)
        a.layout = "mono"
        pcm = (0.3 * np.sin(np.arange(44100) / 10)).astype(np.float32)[None]
        for k in range(0, 44100, 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, k:k + 1024]), format="fltp", layout="mono")
            frame.sample_rate = 44100
            for packet in a.encode(frame):
                c.mux(packet)
        for packet in a.encode():
            c.mux(packet)
    with pytest.raises(VideoRejected) as e:
        decode_video(path.read_bytes())
    assert e.value.kind == "no_frames" and e.value.status == "rejected", e.value


@pytest.mark.parametrize("fmt", ["WEBP", "PNG"])
def test_animated_webp_and_png_decode_as_clips_with_their_frame_times(tmp_path, fmt):
    """FFmpeg cannot decode animated WebP; both go through Pillow, frames composed, times from
    each frame's duration; a still one is an image, not a clip."""
    import io

    from PIL import Image

    frames = []
    for i in range(6):
        a = np.full((32, 48, 3), 20, np.uint8)
        a[8:24, 4 * i:4 * i + 8] = 240  # a block moving right
        frames.append(Image.fromarray(a))
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], duration=125, loop=0, lossless=True)
    video = decode_video(buf.getvalue())
    assert video.frames.shape == (6, 32, 48, 3) and video.fps == pytest.approx(8.0)
    assert np.allclose(video.times, np.arange(6) / 8) and video.duration == pytest.approx(0.75)
    columns = [int(np.argmax(f[16, :, 0] > 128)) for f in video.frames]
    assert columns == [0, 4, 8, 12, 16, 20], columns
    still = io.BytesIO()
    frames[0].save(still, format=fmt)
    with pytest.raises(VideoRejected) as e:
        decode_video(still.getvalue())
    assert e.value.kind == "still_image" and e.value.status == "rejected", e.value
