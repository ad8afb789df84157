"""What a modality's evaluation gets: the model, the held-out examples, a sampler and a decoder."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from training.data import Example, NullCaption


@dataclass
class EvalContext:
    model: Any  # FlagDiT, eval mode
    null: NullCaption
    examples: list[Example]
    cfg: Any  # EvalConfig
    decoder: Any  # the latent encoder recorded for the manifest (decode: model latent -> media array)
    notes: list[str] = field(default_factory=list)  # what a reader of the figures must know (too few clips, a capped count)
    # where the judges trained on the real held-out examples are kept (<workspace>/cache/judges):
    # an evaluation on the same held-out data loads its judge instead of training it again; None: no cache
    judge_cache: Path | None = None
    device: str = "cpu"  # where the model is: the sampler moves its inputs there and gives the samples back on the CPU

    def judging(self) -> AbstractContextManager[None]:
        """The block the modality's evaluation runs in: its judges are cached in ``judge_cache``."""
        from evaluation.judging import judge_cache

        return judge_cache(self.judge_cache)

    def generate(self, examples: list[Example], seed: int) -> torch.Tensor | list[torch.Tensor]:
        from evaluation.sampling import check_finite, generate

        out = generate(self.model, self.null, examples, self.cfg, seed, device=self.device)
        check_finite(out, "generated latents", self._settings)  # scored as 0.0 otherwise
        return out

    def decode(self, latent: np.ndarray) -> np.ndarray:
        """Model-space latent [C, T, h, w] -> the modality's media array [C', T, H, W] float32."""
        from evaluation.sampling import check_finite

        out = self.decoder.decode(np.asarray(latent, dtype=np.float32))
        check_finite([out], "decoded samples", self._settings)
        return out

    def _settings(self) -> str:
        from evaluation.sampling import settings_of

        return settings_of(self.cfg, self.cfg.cfg_scale)


EvaluateFn = Callable[[EvalContext], "tuple[dict[str, float], dict[str, str]]"]
