"""The CLIP scores as a curation stage: a ClipScorer loaded once per worker (a Ray Data actor, or
the one local process), one image embedding per candidate reused by the aesthetic head and the
caption similarity, a verdict per score, and a rejection when one fails.

Shared by modalities: the plugin says how to get a candidate's RGB image (``image_of``).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any, Callable

import numpy as np

from preprocess.filters.clip_config import ClipScoring, clip_verdicts
from preprocess.modality import Candidate
from preprocess.stage import Resources, Stage


def clip_rejection_reason(verdicts: list) -> str | None:
    """'aesthetic: score 4.213 vs threshold 5' for the first failed CLIP verdict. Four significant
    digits: a rerun that batches the images differently gives the same reason."""
    for v in verdicts:
        if not v.passed:
            return f"{v.filter}: score {v.score:.4g} vs threshold {v.threshold:g}"
    return None


class ClipScoreStage(Stage[Candidate, Candidate]):
    """Accepted candidates in, the same candidates out with their CLIP verdicts (and rejected if one fails)."""

    name = "clip scores"
    execution = "actors"

    def __init__(self, modality: str, scoring: ClipScoring, image_of: Callable[[Candidate], np.ndarray]):
        self.modality, self.scoring, self.image_of = modality, scoring, image_of
        self.batch_size = scoring.batch_size
        self.num_actors = scoring.num_actors
        self.resources = Resources(cpus=1.0, gpus=scoring.gpus_per_actor)
        self.scorer = None  # loaded by setup() in the worker, never pickled with the stage

    def setup(self) -> None:
        if self.scorer is not None:
            return
        from preprocess.filters.clip_scores import ClipScorer

        device = "cuda" if self.scoring.gpus_per_actor > 0 else "cpu"  # declared, never guessed
        self.scorer = ClipScorer(self.scoring.path, self.scoring.aesthetic, device=device, batch_size=self.scoring.batch_size)

    def details(self) -> dict[str, Any]:
        return {"clip": self.scoring.path, "aesthetic": self.scoring.aesthetic, "thresholds": asdict(self.scoring.thresholds)}

    def process(self, batch: list[Candidate]) -> list[Candidate]:
        emb = self.scorer.embed_images([self.image_of(c) for c in batch])  # once, for every score
        aesthetic = self.scorer.aesthetic(emb) if self.scorer.head is not None else [None] * len(batch)
        similarity = self.scorer.text_similarity(emb, [c.record.caption or "" for c in batch])
        return [self._judge(c, a, s) for c, a, s in zip(batch, aesthetic, similarity)]

    def _judge(self, cand: Candidate, aesthetic: float | None, similarity: float) -> Candidate:
        verdicts = clip_verdicts(cand.record.key, self.scoring.thresholds, aesthetic, similarity)
        scores = {v.filter: round(v.score, 6) for v in verdicts}
        record = replace(cand.record, meta={**cand.record.meta, **scores})  # kept with the sample, for selection at training time
        reason = clip_rejection_reason(verdicts)
        if reason is not None and record.status == "accepted":
            record = replace(record, status="rejected", reason=reason)
        return replace(cand, record=record, verdicts=[*cand.verdicts, *verdicts])
