"""The embedded speech corpus of the demo: spoken digits and short phrases synthesised offline by
espeak-ng (bundled by ``espeakng-loader``) in several voices, rates and pitches, written as a user's
folder would look (audio + transcript .txt beside it, and one LJSpeech-style folder), plus the bad
inputs a real corpus has. Deterministic: the same arguments write the same bytes, in any process
(espeak-ng's noise generator is seeded before every synthesis: ``synthesise``'s seed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

import numpy as np
import soundfile as sf

from preprocess.speech.espeak import synthesise

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
VOICES = ("en-us", "en-us+f3", "en-us+m3", "en+f2", "en+m1", "en-us+f4", "en+m7", "en-us+klatt")
PHRASES = (
    "Call me at 7.", "Dr. Smith has 2 cats.", "The train leaves at 9.", "Turn left at the 3rd light.",
    "She paid $5 for tea.", "Open the door, please.", "It is cold today.", "We need 4 more chairs.",
    "Mr. Brown reads books.", "Six birds sat on a wire.",
)
LJ_PHRASES = ("Good morning.", "The sky is blue.", "Bring 8 apples.", "Thank you very much.")


@dataclass
class SpeechCorpus:
    root: Path
    num_digits: int
    num_phrases: int
    planted: dict[str, str] = field(default_factory=dict)  # kind of bad input -> file (relative)


def _save(path: Path, y: np.ndarray, sr: int, transcript: str | None, subtype: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}[path.suffix]
    sf.write(path, y, sr, format=fmt, subtype=subtype)
    if fmt == "WAV" and subtype in ("FLOAT", "DOUBLE"):
        _clear_peak_time(path)
    if transcript is not None:
        path.with_suffix(".txt").write_text(transcript + "\n")


def _clear_peak_time(path: Path) -> None:
    """libsndfile writes a float WAV's PEAK chunk with the time of writing: zeroed, so the corpus has
    the same bytes (and its samples the same keys) whenever it is written."""
    data = bytearray(path.read_bytes())
    at = 12  # past "RIFF", the size and "WAVE"
    while at + 8 <= len(data):
        size = int.from_bytes(data[at + 4:at + 8], "little")
        if data[at:at + 4] == b"PEAK" and size >= 8:
            data[at + 12:at + 16] = bytes(4)  # version (4 bytes), then the timestamp
            path.write_bytes(bytes(data))
            return
        at += 8 + size + (size & 1)


def _pcm(y: np.ndarray) -> np.ndarray:
    return (y.astype(np.float32) / 32768.0)


def write_speech_corpus(root: str | Path, voices: int = 6, rates: tuple[int, ...] = (130, 170, 210), pitches: tuple[int, ...] = (35, 65),
                        phrases: bool = True, seed: int = 0) -> SpeechCorpus:
    """Digits: 10 words x voices x rates x pitches (wav, every fifth flac). Phrases: each in up to
    three voices (flac), and an LJSpeech-style folder. Then the planted inputs. ``seed`` seeds the
    planted noise and espeak-ng's breath noise."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    n_digits = 0
    for (v, voice), rate, pitch in product(enumerate(VOICES[:voices]), rates, pitches):
        for d, word in enumerate(DIGIT_WORDS):
            y, sr = synthesise(word, voice, rate, pitch, seed=seed)
            suffix = ".flac" if (n_digits % 5 == 4) else ".wav"
            _save(root / "digits" / f"{word}_v{v}_r{rate}_p{pitch}{suffix}", _pcm(y), sr, word)
            n_digits += 1
    n_phrases = 0
    if phrases:
        for i, text in enumerate(PHRASES):
            for v in range(min(3, voices)):
                y, sr = synthesise(text, VOICES[(i + v) % voices], 160 + 15 * v, 40 + 10 * v, seed=seed)
                _save(root / "phrases" / f"phrase{i:02d}_v{v}.flac", _pcm(y), sr, text)
                n_phrases += 1
        lines = []
        for i, text in enumerate(LJ_PHRASES):
            y, sr = synthesise(text, VOICES[i % voices], 165, 50, seed=seed)
            _save(root / "ljspeech" / "wavs" / f"LJ001-{i:04d}.wav", _pcm(y), sr, None, "PCM_16")
            lines.append(f"LJ001-{i:04d}|{text}|{text}")
            n_phrases += 1
        (root / "ljspeech" / "metadata.csv").write_text("\n".join(lines) + "\n")
    planted = _write_planted(root / "planted", rng, seed)
    (root / "README.json").write_text(json.dumps({"digits": n_digits, "phrases": n_phrases, "planted": planted}, indent=1))
    return SpeechCorpus(root, n_digits, n_phrases, planted)


def _write_planted(folder: Path, rng: np.random.Generator, seed: int) -> dict[str, str]:
    """kind -> path relative to the corpus root. The status and reason each must end with are in
    tests/speech/planted.py (EXPECTED), checked by tests/speech/test_curate.py. Every take but
    ``wrong_transcript`` (and ``missing_transcript``) has the transcript of what its audio says: one
    "four" (en-us, rate 150, pitch 50), or "five" for the near duplicate."""
    planted: dict[str, str] = {}
    y, sr = synthesise("four", "en-us", 150, 50, seed=seed)
    x = _pcm(y)

    def put(kind: str, name: str, audio: np.ndarray, rate: int, transcript: str | None, subtype: str | None = None) -> None:
        _save(folder / name, audio, rate, transcript, subtype)
        planted[kind] = f"planted/{name}"

    put("truncated", "truncated.wav", x, sr, "four", "PCM_16")
    data = (folder / "truncated.wav").read_bytes()
    (folder / "truncated.wav").write_bytes(data[: len(data) // 2])

    import soxr

    put("low_sample_rate", "eight_khz.wav", soxr.resample(x, sr, 8000), 8000, "four", "PCM_16")
    put("silence", "silence.wav", np.zeros(sr, np.float32), sr, "four", "PCM_16")
    put("clipped", "clipped.wav", np.clip(x * 12.0, -1.0, 1.0), sr, "four", "PCM_16")
    put("stereo", "stereo.wav", np.stack([x, 0.5 * x], 1), sr, "four", "PCM_16")  # one "four" in both channels
    nan = x.copy()
    nan[len(nan) // 3 : len(nan) // 3 + 50] = np.nan
    put("nan_samples", "nan_samples.wav", nan, sr, "four", "FLOAT")
    put("missing_transcript", "missing_transcript.wav", x, sr, None, "PCM_16")
    noise = rng.normal(0, 1, len(x)).astype(np.float32) * 2.0 * float(np.sqrt(np.mean(x**2)))  # SNR about -6 dB
    put("noisy", "noisy.wav", np.clip(x + noise, -1, 1), sr, "four", "PCM_16")
    put("wrong_transcript", "wrong_transcript.wav", x, sr, "the quick brown fox jumps over the lazy dog", "PCM_16")
    y5, _ = synthesise("five", "en-us", 130, 35, seed=seed)
    put("near_duplicate", "five_quieter_copy.flac", _pcm(y5) * 0.5, sr, "five")  # digits/five_v0_r130_p35 at -6 dB, as FLAC
    return planted
