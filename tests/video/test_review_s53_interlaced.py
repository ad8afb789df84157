"""Session 53 review (helper S). Interlaced frames after progressive ones (a broadcast recording or a
DVD that opens progressive) are made whole too: whether to deinterlace was decided on the first frame
alone (12f6adc), so such a clip's interlaced frames were curated combed (combing 3.23 as stored and
after curation; 1.46 for the same frames without the intro). Frames before the first interlaced one
pass as decoded."""

from __future__ import annotations

import io

import av
import numpy as np

from preprocess.video.decode import decode_video
from tests.video.test_interlaced_s52 import FRAMES, H, W, _combing, _interlaced


def _progressive() -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="vob") as c:
        s = c.add_stream("mpeg2video", rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        for i in range(FRAMES):
            f = np.full((H, W, 3), 60, np.uint8)
            f[30:42, 6 + 4 * i:22 + 4 * i] = (40, 240, 40)
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return buf.getvalue()


def test_interlaced_frames_after_a_progressive_opening_are_made_whole():
    data = _progressive() + _interlaced("vob")
    with av.open(io.BytesIO(data)) as c:
        decoded = list(c.decode(video=0))
        stored = np.stack([f.to_ndarray(format="rgb24") for f in decoded])
        flags = [f.interlaced_frame for f in decoded]
    first = flags.index(True)
    assert 0 < first and len(stored) > first + 3  # progressive, then interlaced
    video = decode_video(data, work_side=W)
    assert video.deinterlaced and len(video.frames) == len(stored)
    np.testing.assert_array_equal(video.frames[:first], stored[:first])  # the progressive ones as decoded
    tail = slice(first + 1, -1)
    assert _combing(video.frames[tail]) < 0.6 * _combing(stored[tail])
