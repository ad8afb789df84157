"""A LibriSpeech chapter (<spk>/<chapter>/<spk>-<chapter>.trans.txt, lines "<utt-id> TRANSCRIPT",
beside <utt-id>.flac) captions each take from its line, as LJSpeech's metadata.csv does. Before,
every take was quarantined missing_caption and the .trans.txt rejected orphan_caption."""

from __future__ import annotations

import hashlib

import numpy as np

from encoders.audio.transcript import normalise_transcript
from preprocess.sources import SourceSpec, list_entries, read_caption
from preprocess.speech.plugin import SpeechOptions, SpeechPlugin


def _tone(path) -> None:
    import soundfile as sf

    t = np.arange(4_410) / 22_050
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 22_050, format="FLAC")


def _chapter(root):
    chapter = root / "103" / "1240"
    chapter.mkdir(parents=True)
    for i in range(3):
        _tone(chapter / f"103-1240-000{i}.flac")
    (chapter / "103-1240-0002.txt").write_text("The file beside it wins.")
    (chapter / "103-1240.trans.txt").write_text(
        "103-1240-0000 CHAPTER ONE MISSUS RACHEL LYNDE IS SURPRISED\n"
        "103-1240-0001 THAT HAD ITS SOURCE AWAY BACK IN THE WOODS\n"
        "103-1240-0002 A LINE FOR A TAKE WITH ITS OWN CAPTION\n"
        "\n"
        "103-1240-0009 NO AUDIO OF THIS ID\n"
        "103-1240-0003\n")
    return root


def test_librispeech_lines_caption_the_takes_they_name(tmp_path):
    root = _chapter(tmp_path / "LibriSpeech")
    inputs, leftovers = SpeechPlugin().group(list_entries(SourceSpec(str(root))), SpeechOptions())
    captions = {i.name.rsplit("/", 1)[-1]: read_caption(i.caption)[0] for i in inputs}
    assert captions == {
        "103-1240-0000.flac": "CHAPTER ONE MISSUS RACHEL LYNDE IS SURPRISED",
        "103-1240-0001.flac": "THAT HAD ITS SOURCE AWAY BACK IN THE WOODS",
        "103-1240-0002.flac": "The file beside it wins.",
    }
    trans = "103/1240/103-1240.trans.txt"
    assert sorted((lo.entry.name, lo.reason_kind, lo.detail) for lo in leftovers) == [
        (f"{trans}#malformed={hashlib.sha256(b'103-1240-0003').hexdigest()[:12]}", "malformed_metadata_line",
         "expected <utterance id> <transcript>"),
        (f"{trans}#take=103-1240-0002", "metadata_line_unused", "the caption file beside 103-1240-0002 is used"),
        (f"{trans}#take=103-1240-0009", "metadata_without_audio", "no audio file 103-1240-0009.* beside it"),
    ]  # and no orphan_caption for the .trans.txt itself


def test_upper_case_lines_normalise_as_mixed_case():
    for caps, mixed in (("CHAPTER ONE MISSUS RACHEL LYNDE IS SURPRISED", "Chapter one Missus Rachel Lynde is surprised"),
                        ("I SAW HIM IN MAY AND HE SAID IT'S ALL RIGHT", "I saw him in May and he said it's all right")):
        assert normalise_transcript(caps) == normalise_transcript(mixed) == mixed.lower()
