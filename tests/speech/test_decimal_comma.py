"""Where the comma is the decimal mark, a transcript's "3,5" is three and a half, not thirty-five."""

import pytest

from encoders.audio.transcript import normalise_transcript


@pytest.mark.parametrize("text, language, reading", [
    ("3,5 Liter", "de", "drei komma fünf liter"),
    ("3,10 m", "de", "drei komma eins null m"),  # the zero kept, as English keeps it (num2words' float lost it)
    ("3,10", "ru", "три целых одна десятая"),  # read as a fraction: num2words' own reading
    ("1.000 Euro", "de", "eintausend euro"),
    ("12.345,6", "de", "zwölftausenddreihundertfünfundvierzig komma sechs"),
    ("il fait 3,5 degrés", "fr", "il fait trois virgule cinq degrés"),
    ("3,5", "pt-br", "três vírgula cinco"),
    ("1,000 and 3.5", "en-us", "one thousand and three point five"),  # English: the comma groups thousands
])
def test_the_decimal_comma_is_read_as_the_language_writes_it(text, language, reading):
    assert normalise_transcript(text, language) == reading
