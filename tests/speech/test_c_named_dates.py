"""Dates with the month's name read as a speaker says them, as the ISO ones already were: the day an
ordinal, the year as a year. "December 12" read "december twelve" while "2026-09-23" read "september
twenty third twenty twenty six" (TRANSCRIPT_VERSION 6)."""

from __future__ import annotations

import pytest

from encoders.audio.transcript import normalise_transcript


@pytest.mark.parametrize("written,said", [
    ("December 12", "december twelfth"),  # was "december twelve"
    ("Dec 12", "december twelfth"),  # was "dec twelve"
    ("Dec. 12th, 2026", "december twelfth twenty twenty six"),
    ("SEPT. 15", "september fifteenth"),
    ("June 30 2005", "june thirtieth two thousand and five"),  # the year as the ISO date reads it
    ("September 23, 2026", "september twenty third twenty twenty six"),
    ("12 December", "the twelfth of december"),  # was "twelve december"
    ("12 DEC 2026", "the twelfth of december twenty twenty six"),
    ("on the 26th May in the evening", "on the twenty sixth of may in the evening"),  # one "the"
    ("Monday, 3 June", "monday the third of june"),
])
def test_a_named_date_reads_its_day_as_an_ordinal(written, said):
    assert normalise_transcript(written) == said


def test_named_and_iso_dates_read_alike():
    assert normalise_transcript("September 23, 2026") == normalise_transcript("2026-09-23")
    assert normalise_transcript("Sep 23 2026") == normalise_transcript("2026-09-23")


NO_DATES = [
    ("question 5 may be skipped", "question five may be skipped"),  # "may" the verb: only "May" is a month
    ("in March. 5 people came", "in march five people came"),  # a full name's dot ends its sentence
    ("Dec 12:30", "dec twelve thirty"), ("Dec 12.5", "dec twelve point five"), ("Dec 32", "dec thirty two"),
    ("$12 March", "twelve dollars march"), ("12 Marches", "twelve marches"),
    ("December 2026", "december twenty twenty six"),  # a month and a year, no day
    ("December 12-14", "december twelve to fourteen"),  # a range stays a range
    ("12/03/2026", "twelve three twenty twenty six"),  # day/month or month/day: its numbers, as written
]


def test_the_date_reading_takes_dates_and_leaves_what_is_no_date_as_before():
    assert normalise_transcript("Question 5 May 12 be") == "question five may twelfth be"
    for written, said in NO_DATES:
        assert normalise_transcript(written) == said, written


def test_named_dates_are_read_in_english_only():
    assert normalise_transcript("am 12 December", "en-us") == "am the twelfth of december"
    assert normalise_transcript("am 12 December", "de") == "am zwölf december"  # num2words' German number, no English ordinal
    assert normalise_transcript("am 12 Dezember", "en-us") == "am twelve dezember"  # no English month
