"""multi-view's `lumina sample` flags (evaluation/sample_flags.py): its options,
MultiviewSampleOptions (--elevation, --radius, with their checks), and --views. They live here,
without numpy and the cameras' helpers, so that --help and the refusals need not import the
sampler (sample.py, which takes them from here)."""

from __future__ import annotations

from dataclasses import dataclass

from evaluation.sample_flags import SampleFlags


@dataclass
class MultiviewSampleOptions:
    elevation: float | None = None  # camera elevation in degrees (default: the training data's median, else 20)
    radius: float | None = None  # camera distance (default: the training data's median, else 1.0)

    def __post_init__(self) -> None:
        if self.elevation is not None and not -90.0 < self.elevation < 90.0:  # at the poles the ring's cameras all coincide
            # "between -90 and 90 degrees; got -90" read as a contradiction: the poles themselves are out
            raise ValueError(f"--elevation must be between -90 and 90 degrees, both excluded (at a pole every camera of "
                             f"the ring is the same one); got {self.elevation:g}")
        if self.radius is not None and not 0 < self.radius < float("inf"):  # inf went into the camera conditioning as is (camera_vector carries the radius)
            raise ValueError(f"--radius must be positive (and finite); got {self.radius:g}")


FLAGS = SampleFlags(options=MultiviewSampleOptions, aliases={"--views": "frames"})
