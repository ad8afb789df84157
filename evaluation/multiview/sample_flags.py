"""multi-view's `lumina sample` flags, without numpy and the cameras' helpers that sample.py
imports (evaluation/sample_flags.py): MultiviewSampleOptions' fields and comments, and --views."""

from __future__ import annotations

from dataclasses import dataclass

from evaluation.sample_flags import SampleFlags


@dataclass
class MultiviewSampleFlags:
    """evaluation.multiview.sample.MultiviewSampleOptions' fields (its checks run when it is built)."""

    elevation: float | None = None  # camera elevation in degrees (default: encoders.cameras.RING_ELEVATION, 20)
    radius: float | None = None  # camera distance (default: the training data's median, else 1.0)


FLAGS = SampleFlags(options=MultiviewSampleFlags, aliases={"--views": "frames"})
