"""Class-conditional accuracy of generated digits and the sample grid."""

from __future__ import annotations

from itertools import cycle, islice
from pathlib import Path

import torch

from evaluation.context import EvalContext
from evaluation.image.judge import digit_label, train_judge
from evaluation.image.render import save_grid, to_uint8
from training.data import Example


def per_class_prompts(labelled: list[tuple[Example, int]], per_class: int) -> list[tuple[Example, int]]:
    """`per_class` prompts for every class present, reusing a class's captions when it has fewer examples."""
    by_class: dict[int, list[tuple[Example, int]]] = {}
    for item in labelled:
        by_class.setdefault(item[1], []).append(item)
    return [p for label in sorted(by_class) for p in islice(cycle(by_class[label]), per_class)]


def evaluate_image(ctx: EvalContext) -> tuple[dict[str, float], dict[str, str]]:
    cfg, examples = ctx.cfg, ctx.examples
    metrics: dict[str, float] = {}
    digits = [(e, digit_label(e.caption)) for e in examples]
    digits = [(e, y) for e, y in digits if y is not None]
    if digits:
        images = torch.stack([e.latent for e, _ in digits])
        labels = torch.tensor([y for _, y in digits])
        report = train_judge(images, labels, seed=cfg.seed)
        prompts = per_class_prompts(digits, cfg.samples_per_class)
        targets = torch.tensor([y for _, y in prompts])
        generated = ctx.generate([e for e, _ in prompts], seed=cfg.seed + 1)
        preds = report.judge.predict(torch.stack(list(generated)) if isinstance(generated, list) else generated)
        correct = (preds == targets).float()
        metrics.update(
            class_accuracy=correct.mean().item(),
            judge_test_accuracy=report.test_accuracy,
            chance_accuracy=1.0 / len(set(labels.tolist())),
            num_generated=float(len(prompts)),
        )

    digit_keys = {e.key for e, _ in digits}
    others = [e for e in examples if e.key not in digit_keys]
    grid_examples = [e for e, _ in digits[: cfg.grid_size // 2]] + others[: cfg.grid_size // 2]
    grid_examples = grid_examples or examples[: cfg.grid_size]
    samples = ctx.generate(grid_examples, seed=cfg.seed + 2)
    tiles = [to_uint8(ctx.decode(x.numpy()))[0] for x in samples]  # first frame of each
    grid, caps = save_grid(tiles, [e.caption for e in grid_examples], Path(cfg.out_dir) / "samples.png")
    return metrics, {"grid": str(grid), "grid_captions": str(caps)}
