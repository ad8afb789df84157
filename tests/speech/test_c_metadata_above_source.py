"""`lumina curate LJSpeech-1.1/wavs` (the audio folder, not the corpus folder) quarantines every
take missing_caption: their metadata.csv is outside the source. One warning now names it and the
folder to curate; before, nothing said why."""

from __future__ import annotations

import logging

import numpy as np

from preprocess.sources import SourceSpec, list_entries
from preprocess.speech.plugin import SpeechOptions, SpeechPlugin


def _lj(root):
    import soundfile as sf

    (root / "wavs").mkdir(parents=True)
    for name in ("LJ001-0001", "LJ001-0002"):
        sf.write(root / "wavs" / f"{name}.wav", np.zeros(2205, np.float32), 22_050)
    (root / "metadata.csv").write_text("LJ001-0001|one\nLJ001-0002|two\n")
    return root


def _said(source, caplog) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="preprocess.speech.plugin"):
        SpeechPlugin().group(list_entries(SourceSpec(str(source))), SpeechOptions())
    return [r.getMessage() for r in caplog.records]


def test_curating_the_wavs_folder_names_the_metadata_above_it(tmp_path, caplog):
    root = _lj(tmp_path / "LJSpeech-1.1")
    assert _said(root / "wavs", caplog) == [
        f"no take has a transcript, and {root / 'metadata.csv'}, which captions the takes in wavs/, is outside the source: "
        f"curate {root} instead"]


def test_nothing_is_said_when_the_corpus_folder_is_curated_or_there_is_no_listing(tmp_path, caplog):
    root = _lj(tmp_path / "LJSpeech-1.1")
    assert _said(root, caplog) == []
    (root / "metadata.csv").unlink()
    assert _said(root / "wavs", caplog) == []
