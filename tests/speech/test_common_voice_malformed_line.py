"""A Common Voice clip whose validated.tsv line is malformed (a tab inside its sentence, an empty
sentence) is validated all the same: its row names that line and what is wrong with it. It was
rejected not_validated, "no line of validated.tsv names it" (since 9f45448), which sent the user
looking in other.tsv for a take the corpus validates. Grouping only: no audio is read."""

from __future__ import annotations

from preprocess.sources import Entry
from preprocess.speech.plugin import SpeechOptions, SpeechPlugin

HEADER = "client_id\tpath\tsentence_id\tsentence\tup_votes\tdown_votes\tlocale\n"


def _entry(name: str, data: bytes = b"audio") -> Entry:
    return Entry(name, f"/src/{name}", len(data), ("bytes", data))


def _reasons(validated: str) -> dict[str, tuple[str, str]]:
    names = ["en/clips/a.mp3", "en/clips/b.mp3", "en/clips/c.mp3", "en/clips/d.mp3"]
    entries = [_entry(n) for n in names] + [_entry("en/validated.tsv", (HEADER + validated).encode())]
    inputs, leftovers = SpeechPlugin().group(sorted(entries, key=lambda e: e.name), SpeechOptions())
    out = {i.name: ("input", i.caption.name if i.caption else "") for i in inputs}
    out |= {lo.entry.name: (lo.reason_kind, lo.detail) for lo in leftovers}
    return out


def test_a_clip_named_by_a_malformed_validated_line_says_that_line():
    reasons = _reasons("c\ta.mp3\ts\tHello there.\t2\t0\ten\n"
                       "c\tb.mp3\ts\tHello\tthere.\t2\t0\ten\n"  # an unquoted tab in the sentence
                       "c\tc.mp3\ts\t\t2\t0\ten\n")  # no sentence
    assert reasons["en/clips/a.mp3"] == ("input", "en/validated.tsv#take=clips/a")
    kind, detail = reasons["en/clips/b.mp3"]
    assert kind == "malformed_metadata_line" and detail.startswith("a malformed line of validated.tsv names it") and "a tab inside a field" in detail
    kind, detail = reasons["en/clips/c.mp3"]
    assert kind == "malformed_metadata_line" and detail.startswith("a malformed line of validated.tsv names it")
    assert reasons["en/clips/d.mp3"] == ("not_validated", "no line of validated.tsv names it")


def test_a_good_line_of_the_take_still_captions_it():
    reasons = _reasons("c\tb.mp3\ts\tHello\tthere.\t2\t0\ten\n"
                       "c\tb.mp3\ts\tHello there.\t2\t0\ten\n")
    assert reasons["en/clips/b.mp3"] == ("input", "en/validated.tsv#take=clips/b")
