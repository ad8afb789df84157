"""Clock times, phone numbers and ranges in a transcript are read as people say them (English):
"7:00" was "seven zero", "555-0199" was "five hundred and fifty five one hundred and ninety nine"
(its 0 lost), "1-3" was "one three". Everything else reads as before, the demo corpus's transcripts
included (their captions are what the demo trains and evaluates on)."""

from __future__ import annotations

import pytest

from encoders.audio.transcript import normalise_transcript
from preprocess.speech.demo_corpus import DIGIT_WORDS, LJ_PHRASES, PHRASES


def _check(text: str, expected: str, language: str = "en-us") -> None:
    assert normalise_transcript(text, language) == expected
    assert normalise_transcript(expected, language) == expected  # idempotent: the phone encoder normalises again


@pytest.mark.parametrize("text,expected", [
    ("Meet at 7:00.", "meet at seven o'clock"),
    ("It's 12:05 pm.", "it's twelve oh five p m"),
    ("at 10:00 am", "at ten eh m"),  # "a": the article to espeak-ng
    ("at 7:00 P.M.", "at seven p m"),
    ("at 5:30am", "at five thirty eh m"),
    ("It's 10:30.", "it's ten thirty"),
    ("It's 5:30.", "it's five thirty"),
    ("at 5:07", "at five oh seven"),
    ("at 07:00", "at seven o'clock"),
    ("at 14:00", "at fourteen hundred"),  # 24-hour: not "fourteen o'clock"
    ("at 23:59", "at twenty three fifty nine"),
    ("5:30 amazing", "five thirty amazing"),  # "am" only as a word of its own
])
def test_clock_times_read_as_said(text, expected):
    _check(text, expected)


@pytest.mark.parametrize("text,expected", [
    ("call 555-0199", "call five five five oh one nine nine"),  # the 0 is said
    ("call 555-0199, then 555-0200", "call five five five oh one nine nine then five five five oh two oh oh"),
    ("555-123-4567", "five five five one two three four five six seven"),
    ("(555) 123-4567", "five five five one two three four five six seven"),
    ("1-800-555-0199", "one eight oh oh five five five oh one nine nine"),
])
def test_phone_numbers_read_digit_by_digit(text, expected):
    _check(text, expected)


@pytest.mark.parametrize("text,expected", [
    ("Read chapters 1-3 by Friday.", "read chapters one to three by friday"),
    ("ages 3\u20135", "ages three to five"),  # en dash
    ("won 3-1", "won three to one"),
    ("10-15%", "ten to fifteen percent"),
    ("$5-10", "five dollars to ten"),  # was "five dollars minus ten"
    ("1990-1995", "nineteen ninety to nineteen ninety five"),
    ("the 2020-21 season", "the twenty twenty to twenty one season"),  # was "minus twenty one"
    ("500-1000 words", "five hundred to one thousand words"),  # round hundreds first: a range, not a phone number
    ("1,000-2,000", "one thousand to two thousand"),
    ("open 10:00-11:00", "open ten o'clock to eleven o'clock"),
])
def test_ranges_read_with_to(text, expected):
    _check(text, expected)


@pytest.mark.parametrize("text,language,expected", [
    ("ratio 3:1", "en-us", "ratio three one"),  # one digit after the colon: no clock time
    ("1:30:15", "en-us", "one thirty fifteen"),  # h:mm:ss is not read as a clock time
    ("24:00 and 7:60", "en-us", "twenty four zero and seven sixty"),  # no such hour or minute
    ("12-25-2020", "en-us", "twelve twenty five twenty twenty"),  # a chain of three is no range
    ("1.5-2.5", "en-us", "one point five two point five"),
    ("A1-3 and COVID-19", "en-us", "a one three and covid nineteen"),
    ("It was -5 degrees, 5 - 3", "en-us", "it was minus five degrees five three"),
    ("Es ist 7:00 Uhr, 1-3", "de", "es ist sieben null uhr eins drei"),  # English rules only
])
def test_other_numbers_read_as_before(text, language, expected):
    assert normalise_transcript(text, language) == expected


DEMO_CAPTIONS = {  # the demo corpus's transcripts and their captions before times, phones and ranges were read
    "Call me at 7.": "call me at seven", "Dr. Smith has 2 cats.": "doctor smith has two cats",
    "The train leaves at 9.": "the train leaves at nine", "Turn left at the 3rd light.": "turn left at the third light",
    "She paid $5 for tea.": "she paid five dollars for tea", "Open the door, please.": "open the door please",
    "It is cold today.": "it is cold today", "We need 4 more chairs.": "we need four more chairs",
    "Mr. Brown reads books.": "mister brown reads books", "Six birds sat on a wire.": "six birds sat on a wire",
    "Good morning.": "good morning", "The sky is blue.": "the sky is blue", "Bring 8 apples.": "bring eight apples",
    "Thank you very much.": "thank you very much",
    **{word: word for word in DIGIT_WORDS},
}


def test_the_demo_corpus_transcripts_normalise_as_before():
    """Their captions are the demo's prompts and its judge's labels: its figures must not move."""
    assert set(DEMO_CAPTIONS) == {*DIGIT_WORDS, *PHRASES, *LJ_PHRASES}  # a new phrase is added here too
    assert {text: normalise_transcript(text) for text in DEMO_CAPTIONS} == DEMO_CAPTIONS
