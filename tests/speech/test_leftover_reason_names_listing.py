"""A listing line's rejection names the listing and the take (`metadata_without_audio:
validated.tsv#take=clips/gone (...)`): the reason showed the part of the row's name after its last
'/', which since bb22065 is the take alone ('gone'), saying nothing of the listing (helper X)."""

from __future__ import annotations

from preprocess.curate import leftover_candidate
from preprocess.sources import Entry
from preprocess.speech.plugin import SpeechOptions, SpeechPlugin

from tests.speech.test_listing_leftovers_stable_s53 import _cv


def test_a_listing_lines_reason_names_the_listing_and_the_take():
    text = _cv(("a.mp3", "one"), ("gone.mp3", "no clip"))
    entries = [Entry("en/clips/a.mp3", "/cv/en/clips/a.mp3", 1, ("bytes", b"x")),
               Entry("en/validated.tsv", "/cv/en/validated.tsv", len(text), ("bytes", text.encode()))]
    _, leftovers = SpeechPlugin().group(entries, SpeechOptions())
    (line,) = [lo for lo in leftovers if lo.reason_kind == "metadata_without_audio"]
    reason = leftover_candidate(line, "speech", 0).record.reason
    assert reason.startswith("metadata_without_audio: validated.tsv#take=clips/gone ("), reason


def test_another_leftovers_reason_still_names_its_file():
    from preprocess.sources import Leftover

    lo = Leftover(Entry("photos/notes.xyz", "/src/photos/notes.xyz", 1, ("bytes", b"x")), "unsupported_type", "no image")
    assert leftover_candidate(lo, "speech", 0).record.reason == "unsupported_type: notes.xyz (no image)"
