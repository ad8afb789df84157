"""The CLIP scores' switch and thresholds, and their verdicts: no torch here, so a curation without
a CLIP path imports and loads nothing of CLIP (the scorer itself is in clip_scores.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts.config import check_ranges

CLIP_FILTER_VERSION = "1"
AESTHETIC_TIERS = {"laion-aesthetics-4.5": 4.5, "laion-aesthetics-5": 5.0, "laion-aesthetics-6.5 / pixart": 6.5}


@dataclass(frozen=True)
class ClipThresholds:
    min_aesthetic: float = 5.0  # the tiers: 4.5 (LAION-Aesthetics 4.5+), 5.0 (5+), 6.5 (6.5+, PixArt-style high aesthetic)
    min_clip_similarity: float = 0.28  # LAION-5B's cut (ViT-B/32); recalibrate for another CLIP

    def __post_init__(self) -> None:  # a cosine above 1 (or an infinite aesthetic) rejected every image without a word
        check_ranges(self, min_aesthetic="finite", min_clip_similarity="-1..1")


@dataclass(frozen=True)
class ClipScoring:
    """Curation options of the CLIP scores (``options.clip`` of a modality that has them)."""

    path: str | None = None  # a local CLIP with its image tower; None: no CLIP scores (the default)
    aesthetic: str | None = None  # a LAION aesthetic head (.pth / .safetensors) trained on that CLIP's embedding
    thresholds: ClipThresholds = field(default_factory=ClipThresholds)
    batch_size: int = 32  # images per CLIP call (and per actor call)
    num_actors: int = 1  # scorer actors in the Ray Data pool, one CLIP loaded in each
    gpus_per_actor: float = 0.0  # declare GPUs to use them (never guessed)

    def __post_init__(self) -> None:
        check_ranges(self, batch_size=">= 1", num_actors=">= 1", gpus_per_actor=">= 0 and finite")
        if self.aesthetic and not self.path:
            raise ValueError("the aesthetic head scores a CLIP embedding: give the CLIP too (--clip PATH, or options.clip.path)")

    @property
    def enabled(self) -> bool:
        return bool(self.path)

    def check_paths(self) -> None:
        """In the driver, before any work: a wrong path ends the run with one line, not an actor's traceback."""
        from pathlib import Path

        from encoders.clip import check_clip_path

        check_clip_path(self.path, need_vision=True)
        if self.aesthetic and not Path(self.aesthetic).is_file():
            raise FileNotFoundError(f"no aesthetic head at {self.aesthetic}: expected a LAION aesthetic predictor file (.pth or .safetensors)")
        if self.aesthetic:  # a few KB: read it now rather than fail in every scorer actor
            from preprocess.filters.clip_scores import aesthetic_head_state

            aesthetic_head_state(self.aesthetic)


def clip_verdicts(key: str, th: ClipThresholds, aesthetic: float | None = None, similarity: float | None = None) -> list:
    """Verdicts for the CLIP scores that were computed (a scorer without a head gives no aesthetic verdict)."""
    from contracts.records import VerdictRecord

    out = []
    if aesthetic is not None:
        out.append(VerdictRecord(key, "aesthetic", CLIP_FILTER_VERSION, float(aesthetic), th.min_aesthetic, bool(aesthetic >= th.min_aesthetic)))
    if similarity is not None:
        out.append(VerdictRecord(key, "clip_similarity", CLIP_FILTER_VERSION, float(similarity), th.min_clip_similarity, bool(similarity >= th.min_clip_similarity)))
    return out
