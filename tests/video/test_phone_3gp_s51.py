"""A phone's .3gp clip (3GPP: the MP4 family, which FFmpeg reads with the MP4 demuxer) is a video
input. Until session 51 a folder of them curated as `unsupported_type: phone.3gp (.3gp)` with each
caption an `orphan_caption`, though the decoder reads them as it reads .mp4."""

import numpy as np

from preprocess.modality import get_plugin
from preprocess.sources import SourceSpec, group_by_stem, list_entries
from preprocess.video.decode import VideoRejected, decode_video


def _write_3gp(path, frames: int = 12) -> bytes:
    import av

    with av.open(str(path), "w", format="3gp") as out:
        s = out.add_stream("libx264", rate=8)
        s.width, s.height, s.pix_fmt = 32, 24, "yuv420p"
        for k in range(frames):
            arr = np.zeros((24, 32, 3), np.uint8)
            arr[4:12, k * 2 : k * 2 + 8] = 255
            for p in s.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path.read_bytes()


def test_a_3gp_clip_is_a_video_input_and_decodes(tmp_path):
    data = _write_3gp(tmp_path / "phone.3gp")
    (tmp_path / "phone.txt").write_text("a white block moving right")
    inputs, leftovers = group_by_stem(list_entries(SourceSpec(str(tmp_path))), get_plugin("video").media_suffixes)
    assert [i.name for i in inputs] == ["phone.3gp"] and leftovers == []
    assert len(decode_video(data).frames) == 12


def test_a_cut_3gp_is_truncated(tmp_path):
    data = _write_3gp(tmp_path / "phone.3gp")
    try:
        decode_video(data[: len(data) // 2])
    except VideoRejected as e:
        assert e.kind == "truncated", e
    else:
        raise AssertionError("a 3gp cut in half decoded")
