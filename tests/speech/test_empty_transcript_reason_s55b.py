"""A take whose transcript is empty was rejected 'caption_present: score 0 vs threshold 1': no unit,
nothing to act on. Its reason now says the transcript (the file, or the listing line) is empty; the
reason code, the verdict (rejected) and the verdict's score stay, and the reason is the same on
every run. Other modalities say 'caption'."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from catalog import Batch
from preprocess.curate import CurateConfig, curate

REASON = ("caption_present: the transcript in {} is empty (nothing but spaces or control characters): write it, or "
          "leave the input out")


def _take(path, pitch: float = 180.0) -> None:
    t = np.arange(int(1.5 * 22050)) / 22050
    env = np.clip(np.sin(2 * np.pi * 3 * t), 0, None)
    sf.write(path, (0.4 * env * np.sin(2 * np.pi * pitch * t)).astype(np.float32), 22050)


def _rows(root, home):
    result = curate(str(root), home, CurateConfig(modality="speech"), backend="local")
    samples = [s for p in result.batch_paths for s in Batch.read(p).samples]
    verdicts = [v for p in result.batch_paths for v in Batch.read(p).verdicts if v.filter == "caption_present"]
    return {s.source_uri.rsplit("/", 1)[-1]: (s.status, s.reason) for s in samples}, verdicts


def test_an_empty_or_blank_transcript_file_is_said_to_be_empty(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    for name, text, pitch in (("empty", "", 180.0), ("blank", " \t \n", 240.0)):
        _take(root / f"{name}.wav", pitch)  # not exact duplicates of each other
        (root / f"{name}.txt").write_text(text)
    rows, verdicts = _rows(root, tmp_path / "home")
    assert rows == {"empty.wav": ("rejected", REASON.format("empty.txt")), "blank.wav": ("rejected", REASON.format("blank.txt"))}
    assert sorted((v.score, v.threshold, v.passed) for v in verdicts) == [(0.0, 1.0, False)] * 2
    assert _rows(root, tmp_path / "again")[0] == rows  # the same reasons on another run


def test_an_empty_line_of_a_metadata_listing_names_the_line(tmp_path):
    root = tmp_path / "lj"
    (root / "wavs").mkdir(parents=True)
    _take(root / "wavs" / "LJ2.wav")
    (root / "metadata.csv").write_text("LJ2||\n")
    rows, _ = _rows(root, tmp_path / "home")
    assert rows == {"LJ2.wav": ("rejected", REASON.format("metadata.csv#take=wavs/LJ2"))}


def test_other_modalities_call_it_a_caption():
    from preprocess.curate import empty_caption_reason
    from preprocess.sources import Entry

    assert empty_caption_reason("caption", Entry("photos/cat.txt", "/x/photos/cat.txt", 0)) == (
        "caption_present: the caption in cat.txt is empty (nothing but spaces or control characters): write it, or "
        "leave the input out")
