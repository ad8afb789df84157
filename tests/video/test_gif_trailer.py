"""Many writers leave a GIF's trailer byte (0x3B) out: a GIF whose last frame is whole and that only
lacks the trailer decodes, with a note; one cut inside a frame, or after the control block that
announces the next frame, is still truncated."""

from __future__ import annotations

import pytest

from preprocess.video.decode import GIF_NO_TRAILER, VideoRejected, decode_video
from tests.video.test_edges import _analyse
from tests.video.test_truncated import _write


@pytest.fixture(scope="module")
def gif(tmp_path_factory) -> bytes:
    return _write(tmp_path_factory.mktemp("gif") / "full.gif", "gif", "gif")


def _last_control_block(data: bytes) -> int:
    """Offset of the last graphic control extension (21 F9 04 ... 00), which precedes the last frame."""
    return data.rindex(b"\x21\xf9\x04")


def test_a_gif_without_its_trailer_decodes_every_frame_with_a_note(gif):
    video = decode_video(gif[:-1])
    assert len(video.frames) == 16 and video.note == GIF_NO_TRAILER
    assert decode_video(gif).note is None


def test_a_gif_ending_in_a_comment_block_without_its_trailer_is_whole(gif):
    video = decode_video(gif[:-1] + b"\x21\xfe\x05hello\x00")
    assert len(video.frames) == 16 and video.note == GIF_NO_TRAILER


def test_a_gif_cut_after_the_control_block_of_a_frame_is_truncated(gif):
    at = _last_control_block(gif)
    cut = gif[:at + 8]  # the control block whole (8 bytes), its image gone
    with pytest.raises(VideoRejected) as e:
        decode_video(cut)
    assert e.value.kind == "truncated" and "after 15 frames and the control block of the next" in e.value.detail, e.value


@pytest.mark.parametrize("back", [2, 40])
def test_a_gif_cut_inside_its_last_frame_is_still_truncated(gif, back):
    with pytest.raises(VideoRejected) as e:
        decode_video(gif[:-back])
    assert e.value.kind == "truncated" and "ends inside frame 16" in e.value.detail, e.value


def test_the_note_reaches_the_sample_record(gif, tmp_path):
    path = tmp_path / "notrailer.gif"
    path.write_bytes(gif[:-1])
    (cand,) = _analyse(path)
    assert cand.record.status == "accepted", cand.record.reason
    assert cand.record.meta["decode_note"] == GIF_NO_TRAILER
    path.write_bytes(gif)
    assert "decode_note" not in _analyse(path)[0].record.meta


def test_a_gif_with_a_stray_byte_after_its_frames_has_no_trailer_note(gif):
    """Bytes that are no GIF block are the decoder's to judge: no claim about a missing trailer."""
    from preprocess.video.decode import gif_blocks

    assert gif_blocks(gif[:-1] + b"\x00") == (None, None)
    assert gif_blocks(gif[:-1]) == (None, GIF_NO_TRAILER)
