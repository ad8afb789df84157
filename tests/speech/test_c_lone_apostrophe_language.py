"""A spaced quote leaves an apostrophe standing alone in the normalised transcript ("she said '
hello ' and left"): it is no word of another script. Before, each one counted as a word in
"Apostrophe script", 2 of 7, and an English take was rejected wrong_language under en-us (and
lumina sample warned that the prompt was not English)."""

from __future__ import annotations

import pytest

from encoders.audio.language import check
from encoders.audio.transcript import normalise_transcript


@pytest.mark.parametrize("text", ["She said \u2018 hello \u2019 and left.", "He said ' yes ' to me.", "rock ' n ' roll"])
def test_lone_apostrophes_are_no_foreign_words(text):
    assert check(normalise_transcript(text, "en-us"), "en-us").share == 0.0


def test_another_script_is_still_foreign():
    found = check(normalise_transcript("Привет мир, hello", "en-us"), "en-us")
    assert found.share == pytest.approx(2 / 3) and found.detail == "transcript is in ru (Cyrillic script), 2 of 3 words"
