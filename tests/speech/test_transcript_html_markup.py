"""Subtitle-derived transcripts carry HTML formatting ("<i>never</i>", "<font color=...>", "<br/>"):
how the text was shown, not a sound. Before (TRANSCRIPT_VERSION 9, transcript_tags version 1), "<i>"
counted as a markup tag, so the take was rejected transcript_tags, and "</i>" stayed: "never i again"."""

from __future__ import annotations

import pytest

from encoders.audio.transcript import asr_tags, normalise_transcript


@pytest.mark.parametrize("text, reading", [
    ("He said <i>never</i> again.", "he said never again"),
    ('A <b>bold</b> move, <font color="red">red</font>', "a bold move red"),
    ("<I>LOUD</I>", "loud"),
    ("un<i>believ</i>able", "unbelievable"),  # inline formatting inside a word keeps it one word
    ("first line<br/>second<p class='x'>third</p>", "first line second third"),  # breaks stand between words
])
def test_html_formatting_is_dropped_and_is_no_tag(text, reading):
    assert normalise_transcript(text) == reading
    assert asr_tags(text) == []


def test_sound_tags_beside_html_are_still_found():
    text = "<i>Yes</i> [laughter] <unk> sure"
    assert asr_tags(text) == ["[laughter]", "<unk>"]
    assert normalise_transcript(text) == "yes sure"
