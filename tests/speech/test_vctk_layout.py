"""VCTK is read as it comes: ``txt/<spk>/<utt>.txt`` captions ``wav48_silence_trimmed/<spk>/<utt>_mic1.flac``
(0.92; ``options.vctk_mic`` picks the microphone) or ``wav48/<spk>/<utt>.wav`` (0.80). Before, every take was
missing_caption and every transcript orphan_caption until the user copied the transcripts beside the takes.
Grouping only lists the files, so the takes here are a few bytes each."""

from __future__ import annotations

import logging

import pytest

from contracts.config import OutOfRange
from preprocess.sources import SourceSpec, list_entries, read_caption
from preprocess.speech.plugin import SpeechOptions, SpeechPlugin


def _write(root, name: str, data: str = "x") -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)


def _vctk_092(root):
    for spk in ("p225", "p315"):
        for n in (1, 2):
            _write(root, f"wav48_silence_trimmed/{spk}/{spk}_00{n}_mic1.flac")
            _write(root, f"wav48_silence_trimmed/{spk}/{spk}_00{n}_mic2.flac")
    _write(root, "txt/p225/p225_001.txt", "Please call Stella.\n")
    _write(root, "txt/p225/p225_002.txt", "Ask her to bring these things.\n")
    _write(root, "txt/p225/p225_003.txt", "A transcript with no take.\n")
    _write(root, "wav48_silence_trimmed/p225/p225_004_mic1.flac")  # a take with no transcript
    _write(root, "speaker-info.txt", "ID AGE GENDER\n")
    return root


def _group(root, **options):
    inputs, leftovers = SpeechPlugin().group(list_entries(SourceSpec(str(root))), SpeechOptions(**options))
    captions = {i.name: read_caption(i.caption)[0] for i in inputs}
    return captions, sorted((lo.entry.name, lo.reason_kind, lo.detail) for lo in leftovers)


def test_vctk_092_transcripts_caption_the_mic1_takes(tmp_path):
    captions, leftovers = _group(_vctk_092(tmp_path / "VCTK-Corpus-0.92"))
    assert captions == {"wav48_silence_trimmed/p225/p225_001_mic1.flac": "Please call Stella.",
                        "wav48_silence_trimmed/p225/p225_002_mic1.flac": "Ask her to bring these things."}
    no_p315 = "the corpus has no transcripts of speaker p315: no txt/p315/; VCTK 0.92 ships none for p315"
    assert leftovers == [
        ("speaker-info.txt", "metadata_not_read", "the corpus's notes beside txt/, no transcript"),
        ("txt/p225/p225_003.txt", "orphan_caption", "no take of p225_003 in wav48_silence_trimmed/p225/ or wav48/p225/"),
        ("wav48_silence_trimmed/p225/p225_001_mic2.flac", "other_microphone", "options.vctk_mic is mic1; its mic1 take is curated"),
        ("wav48_silence_trimmed/p225/p225_002_mic2.flac", "other_microphone", "options.vctk_mic is mic1; its mic1 take is curated"),
        ("wav48_silence_trimmed/p225/p225_004_mic1.flac", "no_transcript", "no txt/p225/p225_004.txt"),
        *[(f"wav48_silence_trimmed/p315/p315_00{n}_mic{m}.flac", "no_transcript", no_p315) for n in (1, 2) for m in (1, 2)],
    ]


def test_vctk_mic2_and_a_take_only_the_other_microphone_has(tmp_path):
    root = _vctk_092(tmp_path / "VCTK-Corpus-0.92")
    (root / "wav48_silence_trimmed/p225/p225_002_mic2.flac").unlink()
    captions, leftovers = _group(root, vctk_mic="mic2")
    assert captions == {"wav48_silence_trimmed/p225/p225_001_mic2.flac": "Please call Stella."}
    said = {name: (kind, detail) for name, kind, detail in leftovers}
    assert said["wav48_silence_trimmed/p225/p225_002_mic1.flac"] == (
        "other_microphone", "options.vctk_mic is mic2; there is no mic2 take of p225_002: --set options.vctk_mic=mic1 curates this microphone")
    assert said["txt/p225/p225_002.txt"] == (
        "orphan_caption", "no mic2 take of it (options.vctk_mic); its mic1 take is in wav48_silence_trimmed/p225/")
    with pytest.raises(OutOfRange, match="vctk_mic"):
        SpeechOptions(vctk_mic="mic3")


def test_vctk_080_layout_and_a_parent_folder(tmp_path):
    root = tmp_path / "corpora" / "VCTK-Corpus"
    _write(root, "wav48/p225/p225_001.wav")
    _write(root, "txt/p225/p225_001.txt", "We also need a small plastic snake.\n")
    captions, leftovers = _group(tmp_path / "corpora")
    assert captions == {"VCTK-Corpus/wav48/p225/p225_001.wav": "We also need a small plastic snake."}
    assert leftovers == []


def test_a_caption_copied_beside_the_take_still_wins(tmp_path):
    root = _vctk_092(tmp_path / "VCTK-Corpus-0.92")
    _write(root, "wav48_silence_trimmed/p225/p225_001_mic1.txt", "Please call Stella, copied.\n")
    captions, leftovers = _group(root)
    assert captions["wav48_silence_trimmed/p225/p225_001_mic1.flac"] == "Please call Stella, copied."
    assert ("txt/p225/p225_001.txt", "orphan_caption", "the caption file beside p225_001_mic1.flac is used") in leftovers


def test_curating_the_audio_folder_alone_says_where_the_transcripts_are(tmp_path, caplog):
    root = _vctk_092(tmp_path / "VCTK-Corpus-0.92")
    with caplog.at_level(logging.WARNING):
        captions, _ = _group(root / "wav48_silence_trimmed")
    assert set(captions.values()) == {None}
    assert f"curate {root} instead" in caplog.text
