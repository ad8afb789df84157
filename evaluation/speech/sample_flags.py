"""speech's `lumina sample` flags (evaluation/sample_flags.py): --text is the prompt."""

from __future__ import annotations

from evaluation.sample_flags import SampleFlags

FLAGS = SampleFlags(aliases={"--text": "prompt"})
