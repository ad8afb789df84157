"""`lumina sample` hook for speech: the output length from the prompt's phoneme count and the
durations measured on the checkpoint's training manifest."""

from __future__ import annotations

from pathlib import Path

from evaluation.speech import durations


def prepare(cfg, ckpt: Path, shape: list[int]) -> tuple[list[int], dict]:
    if getattr(cfg, "size", None) or getattr(cfg, "frames", None):
        raise ValueError("speech: the length comes from the prompt's phonemes; --size and --frames do not apply")
    model = durations.from_checkpoint(ckpt) or durations.DurationModel(*durations.DEFAULT)
    width = model.frames(durations.count_phones(cfg.prompt))
    shape = list(shape)
    shape[-1] = width  # [80, 1, 1, W] or [1, 1, 80, W]: time is the last axis in both layouts
    return shape, {}
