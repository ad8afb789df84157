"""Degrees and money with a scale word read as said. Before (TRANSCRIPT_VERSION 7), "50°C" read
"fifty c" (espeak-ng: "fifty see") and "$2.5 million" "two point five dollars million"."""

from __future__ import annotations

import pytest

from encoders.audio.transcript import normalise_transcript


@pytest.mark.parametrize("text, reading", [
    ("It is 50°C or 72 °F, 10° colder.", "it is fifty degrees celsius or seventy two degrees fahrenheit ten degrees colder"),
    ("-5\u2103 outside", "minus five degrees celsius outside"),  # ℃, one character
    ("a $2.5 million deal and £1 Billion", "a two point five million dollars deal and one billion pounds"),
    ("$5 millionaire, $5.50", "five dollars millionaire five dollars fifty cents"),  # no scale: as before
])
def test_degrees_and_money_with_a_scale_read_as_said(text, reading):
    assert normalise_transcript(text, "en-us") == reading
