"""A metadata.csv line's path is relative to the listing: ``wavs/spk1/x.wav`` is that file (as it was
before 7d45b6d; since, every such line was metadata_without_audio and its take missing_caption), and
``a/wavs/x.wav`` is no file of the listing's own ``wavs/`` (since 7d45b6d it captioned ``wavs/x.wav``, a
take the line does not name, with its transcript). An absolute path into a ``clips/`` or ``wavs/``
folder still names that file there (Common Voice exports). Grouping only: no audio is read."""

from __future__ import annotations

from preprocess.sources import Entry, read_caption
from preprocess.speech.plugin import SpeechOptions, SpeechPlugin


def _entry(name: str, data: bytes = b"audio") -> Entry:
    return Entry(name, f"/src/{name}", len(data), ("bytes", data))


def _group(metadata: str, audio: list[str]) -> tuple[dict[str, str | None], dict[str, tuple[str, str]]]:
    entries = [_entry(n) for n in audio] + [_entry("metadata.csv", metadata.encode())]
    inputs, leftovers = SpeechPlugin().group(sorted(entries, key=lambda e: e.name), SpeechOptions())
    captions = {i.name: read_caption(i.caption)[0] if i.caption else None for i in inputs}
    return captions, {lo.entry.name: (lo.reason_kind, lo.detail) for lo in leftovers}


def test_a_path_into_a_subfolder_of_wavs_captions_that_take():
    captions, _ = _group("wavs/spk1/t1.wav|one|one\nwavs/spk2/t1.wav|two|two\n", ["wavs/spk1/t1.wav", "wavs/spk2/t1.wav"])
    assert captions == {"wavs/spk1/t1.wav": "one", "wavs/spk2/t1.wav": "two"}


def test_a_path_into_another_wavs_folder_captions_no_take_of_its_own_wavs():
    captions, leftovers = _group("a/wavs/t1.wav|not this take|not this take\nt2|two|two\n", ["wavs/t1.wav", "wavs/t2.wav"])
    assert captions == {"wavs/t1.wav": None, "wavs/t2.wav": "two"}
    assert leftovers["metadata.csv#take=wavs/a/wavs/t1"] == ("metadata_without_audio", "no audio file a/wavs/t1.* in wavs/")


def test_an_absolute_path_names_the_file_in_wavs():
    captions, _ = _group("/data/lj/wavs/t1.wav|one|one\nC:/data/lj/wavs/t2.wav|two|two\n", ["wavs/t1.wav", "wavs/t2.wav"])
    assert captions == {"wavs/t1.wav": "one", "wavs/t2.wav": "two"}
