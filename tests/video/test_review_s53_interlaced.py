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
from tests.video.test_interlaced_s52 import W, _combing, _interlaced
from tests.video.test_interlaced_s52 import _progressive as _progressive_s52


def _progressive() -> bytes:
    return _progressive_s52(top=30, colour=(40, 240, 40))


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
