"""Class-conditional accuracy of generated digits, what generated shapes show, and the sample grid."""

from __future__ import annotations

import logging
from itertools import cycle, islice
from pathlib import Path

import numpy as np
import torch

from evaluation.context import EvalContext
from evaluation.image.judge import digit_label, train_judge
from evaluation.image.render import save_grid, to_uint8
from evaluation.image.shapes import SHAPE_WORDS, ShapeReader, named_out_of_fold, read_shape, score, shape_request
from evaluation.judging import common_side, stack_at, too_few_to_judge
from training.data import Example

log = logging.getLogger(__name__)


def pick_grid(digits: list, others: list, size: int) -> list:
    """Half digits and half other captions where there are both; else ``size`` of whichever there is
    (a corpus without digits drew a grid half empty)."""
    take = min(len(digits), max(size // 2, size - len(others)))
    return digits[:take] + others[: size - take]


def per_class_prompts(labelled: list[tuple[Example, int]], per_class: int) -> list[tuple[Example, int]]:
    """`per_class` prompts for every class present, reusing a class's captions when it has fewer examples."""
    by_class: dict[int, list[tuple[Example, int]]] = {}
    for item in labelled:
        by_class.setdefault(item[1], []).append(item)
    return [p for label in sorted(by_class) for p in islice(cycle(by_class[label]), per_class)]


def judged_pixels(ctx: EvalContext, latents) -> list:
    """What the digit judge reads: images. Pixel-space (identity) latents are read as they are; a
    VAE's are decoded first: the judge read the mean of an SD VAE's 4 latent channels at an eighth of
    the side (4x4 for a 32 px digit), while the README says it reads images."""
    if str(getattr(ctx.decoder, "name", "identity")).startswith("identity"):  # identity, identity-pixels
        return latents
    return [torch.from_numpy(ctx.decode(np.asarray(x))) for x in latents]


def evaluate_image(ctx: EvalContext) -> tuple[dict[str, float], dict[str, str]]:
    cfg, examples = ctx.cfg, ctx.examples
    metrics: dict[str, float] = {}
    digits = [(e, digit_label(e.caption)) for e in examples]
    digits = [(e, y) for e, y in digits if y is not None]
    if digits and (few := too_few_to_judge(len(digits), "digits", "class_accuracy")):
        ctx.notes.append(few)
        log.warning("%s", few)
    if digits and not few:
        # held-out digits of mixed sizes (a user's own images): the judge reads each real and each
        # generated one scaled to one square (judging.common_side); one size: read as they are
        real = judged_pixels(ctx, [e.latent for e, _ in digits])
        side = common_side([x.shape for x in real])
        if side is not None:
            ctx.notes.append(f"class_accuracy: the held-out digits come in {len({tuple(x.shape[-2:]) for x in real})} "
                             f"sizes; the digit judge reads each real and generated one scaled to {side}x{side}")
            log.info("%s", ctx.notes[-1])
        images = stack_at(real, side)
        labels = torch.tensor([y for _, y in digits])
        report = train_judge(images, labels, seed=cfg.seed)
        prompts = per_class_prompts(digits, cfg.samples_per_class)
        targets = torch.tensor([y for _, y in prompts])
        generated = ctx.generate([e for e, _ in prompts], seed=cfg.seed + 1)
        preds = report.judge.predict(stack_at(judged_pixels(ctx, generated), side))
        correct = (preds == targets).float()
        metrics.update(
            class_accuracy=correct.mean().item(),
            judge_test_accuracy=report.test_accuracy,
            chance_accuracy=1.0 / len(set(labels.tolist())),
            num_generated=float(len(prompts)),
        )

    metrics.update(_shape_metrics(ctx))
    # own data: say why there is no score beside the held-out loss (too few to judge: said above)
    if not digits and not any(shape_request(e.caption) for e in examples):
        ctx.notes.append(f"no class or shape accuracy: they need held-out captions that name a digit ('digit 7') or ask for "
                         f"a drawn shape ('a small red circle in the top left'), and none of the {len(examples)} does; the "
                         f"held-out loss and the sample grid are the measures here")
        log.warning("%s", ctx.notes[-1])

    digit_keys = {e.key for e, _ in digits}
    grid_examples = pick_grid([e for e, _ in digits], [e for e in examples if e.key not in digit_keys], cfg.grid_size)
    samples = ctx.generate(grid_examples, seed=cfg.seed + 2)
    tiles = [to_uint8(ctx.decode(x.numpy()))[0] for x in samples]  # first frame of each
    grid, caps = save_grid(tiles, [e.caption for e in grid_examples], Path(cfg.out_dir) / "samples.png")
    return metrics, {"grid": str(grid), "grid_captions": str(caps)}


def _shape_metrics(ctx: EvalContext) -> dict[str, float]:
    """For captions that ask for a drawn shape: how often the generated image shows the asked
    shape, colour, size and place, read by geometry (``evaluation.image.shapes``); the reader's
    own accuracy on the real held-out images (2-fold: each half read by a reader fitted on the
    other) stands beside them."""
    asked = [(e, shape_request(e.caption)) for e in ctx.examples]
    asked = [(e, a) for e, a in asked if a is not None]
    if not asked:
        return {}
    # the reader's own accuracy reads each real shape by a reader fitted on the others: one shape
    # was read by none and logged shape_reader_accuracy 0.0, and the generated ones were named by a
    # reader that knew one word of each kind (every lit image "right" on shape and colour)
    if few := too_few_to_judge(len(asked), "shapes", "shape_* accuracies"):
        ctx.notes.append(few)
        log.warning("%s", few)
        return {}

    def read(latents) -> list:
        return [read_shape(to_uint8(ctx.decode(np.asarray(x)))[0]) for x in latents]

    real = read([e.latent for e, _ in asked])
    try:
        reader = ShapeReader.fit([a for _, a in asked], real)
    except ValueError as err:  # nothing lit in the decoded references: no yardstick, no score
        ctx.notes.append(f"no shape_* accuracies: {err}")  # the notes said no caption asked for a shape
        log.warning("%s", ctx.notes[-1])
        return {}
    on_real = score([a for _, a in asked], named_out_of_fold([a for _, a in asked], real))
    labelled = [(e, SHAPE_WORDS.index(a.shape)) for e, a in asked]
    prompts = [e for e, _ in per_class_prompts(labelled, ctx.cfg.samples_per_class)]
    generated = read(ctx.generate(prompts, seed=ctx.cfg.seed + 3))
    ask_of = {e.key: a for e, a in asked}  # the captions were parsed once, above
    on_generated = score([ask_of[e.key] for e in prompts], [reader.name(r) for r in generated])
    return {
        "shape_accuracy": on_generated["shape"],
        "shape_colour_accuracy": on_generated["colour"],
        "shape_size_accuracy": on_generated["size"],
        "shape_place_accuracy": on_generated["place"],
        "shape_all_accuracy": on_generated["all"],  # every attribute right
        "shape_present_fraction": on_generated["present"],
        "shape_reader_accuracy": on_real["all"],  # the reader on real held-out shapes it was not fitted on
        "num_shape_prompts": float(len(prompts)),
    }
