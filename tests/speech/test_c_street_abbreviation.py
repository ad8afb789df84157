""""St." is a saint before a name and a street elsewhere; "the '80s" is "the eighties"; an
abbreviation written against the next word is two words. Before (TRANSCRIPT_VERSION 6), "Dr. Smith
lives on St. James St. with 3 cats" read "... on saint james saint with three cats", "the '80s"
"the ' eighty s" (espeak-ng: "eighty ess") and "Dr.Smith" "doctorsmith"."""

from __future__ import annotations

import pytest

from encoders.audio.transcript import normalise_transcript


@pytest.mark.parametrize("text, reading", [
    ("Dr. Smith lives on St. James St. with 3 cats.", "doctor smith lives on saint james street with three cats"),
    ("Turn left at Main St.", "turn left at main street"),
    ("Visit St. Louis on 5th St. today", "visit saint louis on fifth street today"),
    ("music of the '80s and \u201990s", "music of the eighties and nineties"),
    ("Dr.Smith and St.Paul", "doctor smith and saint paul"),
    ("the 1990s", "the nineteen nineties"),
])
def test_english_abbreviations_and_decades_read_as_said(text, reading):
    assert normalise_transcript(text, "en-us") == reading
