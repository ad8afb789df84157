"""Curation phonemises each transcript once: the phones and the wrong_language check share one
espeak-ng call (switch flags kept, read by the check, stripped for the phones), with the same
phones and verdicts as the two calls it replaced (bench/bench_speech_phonemise.py times both)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from encoders.audio.transcript import normalise_transcript, read_transcript
from encoders.audio.language import check

pytest.importorskip("espeakng_loader")

# (options.language, raw transcript): English, Chinese, numbers, money, mixed scripts, loanwords, kana
MIXED = [
    ("en-us", "Dr. Smith paid $5.50 on the 3rd of May, 1999."), ("en-us", "hello 你好"), ("en-us", "你好世界"),
    ("en-us", "It cost £20, then 12,000 € and 7%."), ("en-us", "Guten Morgen"), ("en-us", "hello there"),
    ("cmn", "你好世界"), ("cmn", "我喜欢 football 和 basketball"), ("cmn", "hello world"),
    ("ru", "я купил новый iphone вчера"), ("ru", "hello world"), ("fr-fr", "j'aime le football et le weekend"),
    ("ja", "こんにちは"), ("ja", "カタカナ と ひらがな"), ("de", "das ist ein Computer, 21 Euro"),
]


def _two_calls(text: str, language: str) -> tuple[list[str], float]:
    """What curation did before: the phones from a remove-flags backend, then a keep-flags call of its own for the check."""
    from phonemizer.backend import EspeakBackend
    from phonemizer.separator import Separator

    from encoders.audio.transcript import Reading

    sep = Separator(phone=" ", word=" | ", syllable="")
    removed = EspeakBackend(language, preserve_punctuation=False, with_stress=False, language_switch="remove-flags")
    line = removed.phonemize([text], separator=sep, strip=True, njobs=1)[0]
    kept = EspeakBackend(language, preserve_punctuation=False, with_stress=False, language_switch="keep-flags")
    flagged = kept.phonemize([text], separator=sep, strip=True, njobs=1)[0]  # the check's own second call
    phones = [p for p in line.split() if p and p != "|"]
    return phones, check(text, language, Reading(phones, flagged)).share


@pytest.mark.parametrize("language,raw", MIXED)
def test_one_call_gives_the_phones_and_verdict_of_two(language, raw):
    text = normalise_transcript(raw, language)
    reading = read_transcript(text, language)
    phones, share = _two_calls(text, language)
    assert reading.phones == phones
    assert check(text, language, reading).share == share


def _speechlike(seconds: float = 1.5, sr: int = 22050) -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    y = (0.4 * np.clip(np.sin(2 * np.pi * 3 * t), 0, None) * np.sin(2 * np.pi * 180 * t)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV")
    return buf.getvalue()


def test_analyse_phonemises_the_transcript_once(monkeypatch):
    """It was twice: phonemes() (flags removed), then the language check (flags kept)."""
    from phonemizer.backend import EspeakBackend

    from preprocess.sources import Entry, RawInput
    from preprocess.speech.plugin import SpeechOptions, SpeechPlugin

    calls = []
    real = EspeakBackend.phonemize
    monkeypatch.setattr(EspeakBackend, "phonemize", lambda self, text, **kw: calls.append(text) or real(self, text, **kw))
    data = _speechlike()
    item = RawInput("a.wav", "/src/a.wav", {"media": Entry("a.wav", "/src/a.wav", len(data), ("bytes", data))})
    [cand] = SpeechPlugin().analyse(item, "hello 你好", "0" * 16, SpeechOptions())
    assert len(calls) == 1, calls
    assert cand.record.reason.startswith("wrong_language: transcript is in zh")
    assert cand.record.meta["phonemes"] == " ".join(read_transcript("hello 你好").phones)
