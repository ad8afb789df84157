"""A metadata.csv line may name its audio as LJSpeech does (``LJ001-0001``), by its file name
(``LJ001-0001.wav``) or by its path (``wavs/LJ001-0001.wav``), as other tools' LJSpeech-style files
do. Before, the last two named no audio (``metadata_without_audio: no audio file LJ001-0001.wav.* in
wavs/``) and their takes were quarantined missing_caption."""

from __future__ import annotations

import numpy as np

from preprocess.sources import SourceSpec, list_entries, read_caption
from preprocess.speech.plugin import SpeechOptions, SpeechPlugin


def test_a_line_naming_the_file_or_its_path_captions_the_audio(tmp_path):
    import soundfile as sf

    (tmp_path / "wavs").mkdir()
    for name in ("a", "b", "c", "d.v2"):
        sf.write(tmp_path / "wavs" / f"{name}.wav", np.zeros(2205, np.float32), 22_050)
    (tmp_path / "metadata.csv").write_text("a|one\nb.WAV|two\nwavs/c.wav|three\nd.v2|four\nid|text\n")
    inputs, leftovers = SpeechPlugin().group(list_entries(SourceSpec(str(tmp_path))), SpeechOptions())
    assert {i.name: read_caption(i.caption)[0] for i in inputs} == {
        "wavs/a.wav": "one", "wavs/b.wav": "two", "wavs/c.wav": "three", "wavs/d.v2.wav": "four"}
    assert [(lo.entry.name, lo.reason_kind, lo.detail) for lo in leftovers] == [
        ("metadata.csv#take=wavs/id", "metadata_without_audio", "no audio file id.* in wavs/")]  # a header line
