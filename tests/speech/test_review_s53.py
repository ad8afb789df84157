"""Session 53 review of the speech listings (helper S). A metadata.csv or validated.tsv path written by
a Windows tool (``wavs\\t1.wav``, ``C:\\data\\lj\\wavs\\t2.wav``) or with a leading ``./`` names the take
as its '/' form does: since ea95f25 only ``C:/...`` was read, and each of these lines was
metadata_without_audio ("no audio file C:\\data\\lj\\wavs\\t1.* in wavs/") with its take missing_caption.
Grouping only: no audio is read."""

from __future__ import annotations

from preprocess.sources import Entry, read_caption
from preprocess.speech.plugin import SpeechOptions, SpeechPlugin

CV_HEADER = "client_id\tpath\tsentence_id\tsentence\tup_votes\tdown_votes\tlocale\n"


def _entry(name: str, data: bytes = b"audio") -> Entry:
    return Entry(name, f"/src/{name}", len(data), ("bytes", data))


def _captions(listing: str, text: str, audio: list[str]) -> tuple[dict[str, str | None], list[str]]:
    entries = [_entry(n) for n in audio] + [_entry(listing, text.encode())]
    inputs, leftovers = SpeechPlugin().group(sorted(entries, key=lambda e: e.name), SpeechOptions())
    return ({i.name: read_caption(i.caption)[0] if i.caption else None for i in inputs},
            sorted(lo.reason_kind for lo in leftovers))


def test_windows_and_dot_slash_paths_in_metadata_csv_caption_their_takes():
    lines = ["wavs\\t1.wav|one|one", "C:\\data\\lj\\wavs\\t2.wav|two|two", "./wavs/t3.wav|three|three"]
    captions, leftovers = _captions("metadata.csv", "\n".join(lines) + "\n", ["wavs/t1.wav", "wavs/t2.wav", "wavs/t3.wav"])
    assert captions == {"wavs/t1.wav": "one", "wavs/t2.wav": "two", "wavs/t3.wav": "three"}
    assert leftovers == []


def test_a_windows_path_in_common_voice_names_the_clip_in_clips():
    text = CV_HEADER + "c\tclips\\a.mp3\ts\tHello there.\t2\t0\ten\nc\tD:\\cv\\en\\clips\\b.mp3\ts\tGood day.\t2\t0\ten\n"
    captions, _ = _captions("en/validated.tsv", text, ["en/clips/a.mp3", "en/clips/b.mp3"])
    assert captions == {"en/clips/a.mp3": "Hello there.", "en/clips/b.mp3": "Good day."}


def test_a_quoted_field_past_the_csv_limit_is_one_malformed_line_not_a_crash():
    """A validated.tsv line with more columns than its header is read as CSV-quoted; a quoted field
    over csv's 128 KiB limit raised _csv.Error out of the grouping, ending the whole curation."""
    huge = '"' + "x" * 140_000 + '\tmore"'
    text = CV_HEADER + "c\ta.mp3\ts\tHello there.\t2\t0\ten\n" + f"c\tb.mp3\ts\t{huge}\t2\t0\ten\n"
    entries = [_entry("en/clips/a.mp3"), _entry("en/clips/b.mp3"), _entry("en/validated.tsv", text.encode())]
    inputs, leftovers = SpeechPlugin().group(entries, SpeechOptions())
    assert [i.name for i in inputs] == ["en/clips/a.mp3"]
    reasons = {lo.entry.name: (lo.reason_kind, lo.detail) for lo in leftovers}
    line = next(name for name in reasons if name.startswith("en/validated.tsv#malformed="))
    assert reasons[line][0] == "malformed_metadata_line"
    assert "field larger than field limit" in reasons[line][1]
    assert reasons["en/clips/b.mp3"][0] == "malformed_metadata_line"
