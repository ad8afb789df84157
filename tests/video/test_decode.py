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
