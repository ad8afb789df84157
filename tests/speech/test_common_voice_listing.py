"""A Common Voice locale folder (validated.tsv: a header line, then client_id, path, sentence, ...
per take; the takes in clips/) is read as it comes: each validated line captions the clip its
``path`` names. Before, every clip was quarantined missing_caption and each .tsv unsupported_type."""

from __future__ import annotations

import hashlib
import numpy as np

from preprocess.sources import SourceSpec, list_entries, read_caption
from preprocess.speech.plugin import SpeechOptions, SpeechPlugin

HEADER = "client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\tage\tgender\taccents\tvariant\tlocale\tsegment\n"


def _clip(path) -> None:
    import soundfile as sf

    t = np.arange(4_800) / 48_000
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 48_000, format="MP3")


def _row(n: int, sentence: str) -> str:
    return f"c{n}\tcommon_voice_en_{n}.mp3\ts{n}\t{sentence}\t\t2\t0\t\t\t\t\ten\t\n"


def _locale(root, header: str = HEADER):
    (root / "clips").mkdir(parents=True)
    for n in (1, 2, 3, 4):
        _clip(root / "clips" / f"common_voice_en_{n}.mp3")
    (root / "validated.tsv").write_text(header + _row(1, "The birch canoe slid on the smooth planks.") + "\n"
                                        + _row(2, "Glue the sheet to the dark blue background.")
                                        + _row(9, "A take that is not in clips.") + "c5\tcommon_voice_en_5.mp3\n")
    (root / "train.tsv").write_text(header + _row(1, "The birch canoe slid on the smooth planks."))
    (root / "invalidated.tsv").write_text(header + _row(3, "Mumbled."))
    return root


def _group(root):
    return SpeechPlugin().group(list_entries(SourceSpec(str(root))), SpeechOptions())


def test_validated_lines_caption_the_clips_they_name(tmp_path):
    inputs, leftovers = _group(_locale(tmp_path / "en"))
    captions = {i.name: read_caption(i.caption)[0] if i.caption else None for i in inputs}
    assert captions == {"clips/common_voice_en_1.mp3": "The birch canoe slid on the smooth planks.",
                        "clips/common_voice_en_2.mp3": "Glue the sheet to the dark blue background."}
    said = "validated.tsv beside it gives the validated takes their transcripts"
    assert sorted((lo.entry.name, lo.reason_kind, lo.detail) for lo in leftovers) == [
        # not validated: rejected with the listing that names it, not quarantined missing_caption (each clip was copied)
        ("clips/common_voice_en_3.mp3", "not_validated", "invalidated.tsv lists it: its listeners voted it down"),
        ("clips/common_voice_en_4.mp3", "not_validated", "no line of validated.tsv names it"),
        ("invalidated.tsv", "metadata_not_read", said), ("train.tsv", "metadata_not_read", said),
        ("validated.tsv#malformed=" + hashlib.sha256(b"c5\tcommon_voice_en_5.mp3").hexdigest()[:12], "malformed_metadata_line", "expected the path and sentence columns its header names"),
        ("validated.tsv#take=clips/common_voice_en_9", "metadata_without_audio", "no audio file common_voice_en_9.* in clips/"),
    ]


def test_a_listing_without_its_columns_is_said_unreadable(tmp_path):
    inputs, leftovers = _group(_locale(tmp_path / "en", header="client_id\tfile\ttext\n"))
    assert ("validated.tsv", "unreadable_metadata", "its first line names no path and sentence columns") in [
        (lo.entry.name, lo.reason_kind, lo.detail) for lo in leftovers]
    assert all(i.caption is None for i in inputs) and len(inputs) == 4  # missing_caption: not known to be unvalidated


def test_a_tsv_without_validated_beside_it_stays_unsupported(tmp_path):
    (tmp_path / "notes.tsv").write_text("a\tb\n")
    _clip(tmp_path / "x.mp3")
    _, leftovers = _group(tmp_path)
    assert [(lo.entry.name, lo.reason_kind) for lo in leftovers] == [("notes.tsv", "unsupported_type")]
