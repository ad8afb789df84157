"""Is a transcript in the run's language? ``options.language`` applies to the whole curation: espeak-ng
phonemises every transcript with that one voice. A transcript in another script is read letter by
letter by name (en-us says "Chinese letter" for every Han character, 4 x 9 phones for "你好世界"),
and a voice whose language does not read Latin letters switches to English and marks it (``(en)``
flags): neither gives the phones of what was said. Such a transcript is rejected as
``wrong_language`` before the speaking-rate filters (which it would otherwise fail with a reason
that points at the audio).

A word is foreign when most of its letters are in a script ``options.language`` is not written in
(``SCRIPTS``; a language missing from the table skips this check) or when espeak-ng switches
language to read it. Latin-script languages cannot be told apart this way: German under en-us is
read as English words, not caught; curate one language per run.

Han is written in Chinese, Japanese (kanji, with kana) and Korean (hanja, with hangul). A word with
kana is Japanese whatever its share of kanji ("東京大学の学生" is not Chinese); Han alone is left to
the voice. espeak-ng's ja and ko voices have no readings for Han: Japanese kanji are read in kana
before phonemising (``encoders.audio.transcript.kanji_as_kana``), and a Han word still left (Korean
hanja, a kanji missing from the dictionary, simplified Chinese) is one espeak-ng reads as "Chinese
letter" in English: foreign, with a reason that says so.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from encoders.audio.transcript import Reading, read_transcript

# curation's default wrong_language threshold (options.max_foreign_word_share), which lumina sample's
# warning uses too: words in a script the language lacks, or read by espeak-ng in another language
MAX_FOREIGN_WORD_SHARE = 0.25

# espeak-ng languages (``phonemizer`` ``EspeakBackend.supported_languages()``) not written in the
# Latin script, by code or base code; the full code wins ("fa-latn" over "fa")
SCRIPTS: dict[str, tuple[str, ...]] = {
    "am": ("Ethiopic",), "ti": ("Ethiopic",), "ar": ("Arabic",), "fa": ("Arabic",), "ur": ("Arabic",),
    "sd": ("Arabic",), "ug": ("Arabic",), "fa-latn": ("Latin",), "as": ("Bengali",), "bn": ("Bengali",),
    "bpy": ("Bengali",), "ba": ("Cyrillic",), "be": ("Cyrillic",), "bg": ("Cyrillic",), "cv": ("Cyrillic",),
    "kk": ("Cyrillic",), "ky": ("Cyrillic",), "mk": ("Cyrillic",), "nog": ("Cyrillic",), "ru": ("Cyrillic",),
    "tt": ("Cyrillic",), "uk": ("Cyrillic",), "sr": ("Cyrillic", "Latin"), "uz": ("Latin", "Cyrillic"),
    "kaa": ("Latin", "Cyrillic"), "chr": ("Cherokee",), "cmn": ("Han",), "yue": ("Han",), "hak": ("Han",),
    "cmn-latn-pinyin": ("Han", "Latin"), "el": ("Greek",), "grc": ("Greek",), "en-shaw": ("Shavian", "Latin"),
    "gu": ("Gujarati",), "he": ("Hebrew",), "hi": ("Devanagari",), "mr": ("Devanagari",), "ne": ("Devanagari",),
    "kok": ("Devanagari",), "hy": ("Armenian",), "hyw": ("Armenian",), "ja": ("Han", "Hiragana", "Katakana"),
    "ka": ("Georgian",), "kn": ("Kannada",), "ko": ("Hangul", "Han"), "ml": ("Malayalam",), "my": ("Myanmar",),
    "shn": ("Myanmar",), "or": ("Oriya",), "pa": ("Gurmukhi",), "si": ("Sinhala",), "ta": ("Tamil",),
    "te": ("Telugu",), "th": ("Thai",), "zh": ("Han",),
}
LATIN = frozenset(
    "af an az bs ca cs cy da de en eo es et eu fi fo fr ga gd gn haw hr ht hu ia id io is it jbo kl ku la lb lfn lt "
    "ltg lv mi ms mt mto nb nci nl om pap piqd pl pt py qdb qu quc qya ro sjn sk sl smj sq sv sw tk tn tr vi xex".split())
# a script's usual language, for the message only ("transcript is in zh (Han script)")
SCRIPT_LANGUAGE = {"Han": "zh", "Hiragana": "ja", "Katakana": "ja", "Hangul": "ko", "Cyrillic": "ru", "Greek": "el",
                   "Arabic": "ar", "Hebrew": "he", "Devanagari": "hi", "Thai": "th", "Georgian": "ka", "Armenian": "hy"}
_NAME_SCRIPTS = {"CJK": "Han", "HANGUL": "Hangul", "HIRAGANA": "Hiragana", "KATAKANA": "Katakana", "KATAKANA-HIRAGANA": "Katakana"}
_FLAG = re.compile(r"\(([a-z][a-z0-9-]*)\)")


# codes people reach for that name no espeak-ng voice, and the voice they mean
VOICE_FOR = {"zh": "cmn", "zh-cn": "cmn", "zh-hans": "cmn", "zh-sg": "cmn", "zh-tw": "cmn", "zh-hant": "cmn",
             "zh-hk": "yue", "en": "en-us", "jp": "ja", "kr": "ko", "cn": "cmn"}


def check_voice(language: str) -> None:
    """``options.language`` is a voice espeak-ng has: else one error before any work (a run with
    language zh quarantined every take as analysis_error: 'language "zh" is not supported')."""
    from difflib import get_close_matches

    from encoders.audio.transcript import espeak_voices

    voices = espeak_voices()
    if voices is None or language in voices:
        return
    code = language.lower().replace("_", "-")
    meant = VOICE_FOR.get(code)
    regional = sorted(v for v in voices if v.split("-")[0] == code)  # fr: fr-fr, fr-be, fr-ch
    hint = f"{meant!r}" if meant in voices else " or ".join(repr(v) for v in regional[:3] or get_close_matches(code, sorted(voices), 3, 0.6))
    raise ValueError(f"options.language {language!r} is no espeak-ng voice" + (f": did you mean {hint}?" if hint else "")
                     + f" ({len(voices)} voices, e.g. en-us, cmn, ja, de, fr-fr: phonemizer's EspeakBackend.supported_languages())")


def allowed_scripts(language: str) -> tuple[str, ...] | None:
    """The scripts ``language`` (an espeak-ng code) is written in; None when not known."""
    code = language.lower().replace("_", "-")
    base = code.split("-")[0]
    if code in SCRIPTS:
        return SCRIPTS[code]
    if base in SCRIPTS:
        return SCRIPTS[base]
    return ("Latin",) if base in LATIN else None


def script_of(ch: str) -> str | None:
    """Unicode script of a letter from its name ("LATIN SMALL LETTER A" -> Latin); None for marks and
    for what is no letter: an apostrophe a spaced quote leaves alone ("she said ' hello '") was a word
    in "Apostrophe script", 2 of 7, and the take was rejected wrong_language."""
    if not unicodedata.category(ch).startswith("L"):
        return None
    first = unicodedata.name(ch, "UNKNOWN").split()[0]
    return _NAME_SCRIPTS.get(first, first.title())


KANA = ("Hiragana", "Katakana")
# voices written with Han but without readings for it: what a Han word left in a transcript is, and what to do
HAN_UNREAD = {"ja": "kanji pykakasi has no reading for, or Chinese", "ko": "hanja, which need a hangul transcript"}


def _word_script(word: str) -> str | None:
    """The script of most of the word's letters (ties by name); kana outvote any number of kanji:
    a word with kana is Japanese, Han alone may be any of Chinese, Japanese, Korean."""
    scripts = Counter(s for s in map(script_of, word) if s is not None and s != "Unknown")
    pool = Counter({s: n for s, n in scripts.items() if s in KANA}) or scripts
    return min(pool, key=lambda s: (-pool[s], s)) if pool else None


def switched_words(flagged: str | None, language: str) -> list[str | None]:
    """Per word espeak-ng read in ``flagged`` (``encoders.audio.transcript.Reading.flagged``; its
    word breaks, not always the text's: it reads "世界" as two): the language it switched to for
    that word, else None. Empty without espeak-ng (no flagged line)."""
    if not flagged:
        return []
    home = language.lower().split("-")[0]
    current: str | None = None
    out: list[str | None] = []
    for chunk in flagged.split("|"):
        foreign, spoken = None, False
        for token in chunk.split():
            m = _FLAG.fullmatch(token)
            if m:
                current = None if m.group(1).split("-")[0] == home else m.group(1)
            else:
                spoken = True
                foreign = foreign or current
        if spoken:
            out.append(foreign)
    return out


@dataclass(frozen=True)
class LanguageCheck:
    share: float  # of the transcript's words that are foreign
    detail: str = ""  # "transcript is in zh (Han script), 4 of 4 words"

    def reason(self, language: str) -> str:
        return f"wrong_language: {self.detail}; the run's options.language is {language} (one language per curation)"


def _most(items: list[str]) -> str:
    counts = Counter(items)
    return min(counts, key=lambda c: (-counts[c], c))  # the most; ties by name: deterministic


def check(transcript: str, language: str, reading: Reading | None = None) -> LanguageCheck:
    """The share of ``transcript``'s words (normalised: letters and spaces) that are not in
    ``language``: the larger of the words in a script it is not written in and the words espeak-ng
    read in another language. ``reading``: espeak-ng's reading of ``transcript`` when the caller
    has it (curation phonemises each transcript once); read here otherwise."""
    words = transcript.split()
    if not words:
        return LanguageCheck(0.0)
    allowed = allowed_scripts(language)
    scripts = [_word_script(w) for w in words]
    alien = [s for s in scripts if allowed is not None and s is not None and s not in allowed]
    read = switched_words((reading if reading is not None else read_transcript(transcript, language)).flagged, language)
    switched = [lang for lang in read if lang is not None]
    by_script, by_switch = len(alien) / len(words), len(switched) / max(len(read), 1)
    if not alien and not switched:
        return LanguageCheck(0.0)
    if by_script >= by_switch:
        script = _most(alien)
        name = f"{SCRIPT_LANGUAGE[script]} ({script} script)" if script in SCRIPT_LANGUAGE else f"{script} script"
        return LanguageCheck(by_script, f"transcript is in {name}, {len(alien)} of {len(words)} words")
    detail = f"espeak-ng switched to {_most(switched)} for {len(switched)} of the {len(read)} words it read"
    base = language.lower().split("-")[0]
    if base in HAN_UNREAD and any(script_of(c) == "Han" for c in transcript):
        detail += f" (its {base} voice reads each Han character as 'Chinese letter': {HAN_UNREAD[base]})"
    return LanguageCheck(by_switch, detail)
