"""video's `lumina sample` flags (evaluation/sample_flags.py): none of its own; --frames is generic."""

from __future__ import annotations

from evaluation.sample_flags import SampleFlags

FLAGS = SampleFlags()
