"""Moved to ``encoders.audio.transcript``: importing it from here loads this package's ``__init__``,
and with it torch, in every curation worker (seconds each). Kept so older imports still work."""

from encoders.audio.transcript import ABBREVIATIONS, normalise_transcript, phonemes

__all__ = ["ABBREVIATIONS", "normalise_transcript", "phonemes"]
