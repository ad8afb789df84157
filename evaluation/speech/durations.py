"""Output length from the phoneme count: frames = a * phones + b, measured by least squares on the
training manifest (the curated meta records n_phones and mel_frames of every sample)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT = (7.0, 12.0)  # frames per phone, frames of lead-in/out: espeak-ng at 170 wpm, if nothing is measured
# The shortest output: curation's shortest clip (SpeechOptions.min_duration, 0.2 s) in mel frames
# (22,050 Hz, hop 256). A fit with a negative offset gave a two-phone prompt 7 frames (0.08 s).
MIN_FRAMES = 18


@dataclass(frozen=True)
class DurationModel:
    frames_per_phone: float
    offset: float
    num_samples: int = 0

    def frames(self, n_phones: int) -> int:
        return max(MIN_FRAMES, int(round(self.frames_per_phone * n_phones + self.offset)))


def fit(n_phones: list[int], frames: list[int]) -> DurationModel:
    if len(n_phones) < 2 or len(set(n_phones)) < 2:
        return DurationModel(*DEFAULT)
    a, b = np.polyfit(np.asarray(n_phones, float), np.asarray(frames, float), 1)
    if not a > 0:  # longer texts not longer (a few takes of mixed speaking rates): a 100-phone prompt got 0.2 s
        return DurationModel(float(sum(frames) / sum(n_phones)), 0.0, len(n_phones))  # the mean rate, through 0
    return DurationModel(float(a), float(b), len(n_phones))


def from_metas(metas: list[dict]) -> DurationModel:
    pairs = [(m["n_phones"], m["mel_frames"]) for m in metas if "n_phones" in m and "mel_frames" in m]
    return fit([p for p, _ in pairs], [f for _, f in pairs])


def from_checkpoint(ckpt: str | Path, catalog: str | None = None) -> DurationModel | None:
    """Measured on the checkpoint's training manifest; None when the catalog is not reachable."""
    from evaluation.training_manifest import query_training_manifest

    # two numbers per member, not the whole manifest as objects (a speech corpus may be large)
    rows = query_training_manifest(ckpt, "SELECT CAST(meta->>'n_phones' AS BIGINT), CAST(meta->>'mel_frames' AS BIGINT) "
                                         "FROM manifest_members WHERE manifest = ? AND version = ?", catalog)
    if rows is None:
        return None
    pairs = [(p, f) for p, f in rows if p is not None and f is not None]
    return fit([p for p, _ in pairs], [f for _, f in pairs])


def count_phones(text: str, language: str = "en-us") -> int:
    from encoders.audio.transcript import normalise_transcript, phonemes

    return len(phonemes(normalise_transcript(text, language), language))


def phones_read(text: str, language: str, max_tokens: int) -> int:
    """The phones of `text` a phone encoder reading `max_tokens` tokens gets: its tokens are a
    boundary at each end and the phones with a boundary between words (a tonal phone may take more
    than one); the rest is cut, and lumina sample says so."""
    from encoders.audio.transcript import normalise_transcript
    from encoders.text.phone import phone_tokens, phonemize

    room, read = max_tokens - 2, 0
    for phone in phonemize([normalise_transcript(text, language)], language)[0]:
        room -= len(phone_tokens(phone))
        if room < 0:
            break
        read += phone != "|"  # phonemize's word boundary
    return read
