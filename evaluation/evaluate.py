"""Evaluation of a trained checkpoint on a held-out manifest.

- held-out flow-matching loss (fixed noise and timesteps, so two checkpoints compare fairly);
- class-conditional accuracy: digits generated from held-out captions, judged by a classifier
  trained on real held-out digits (its own accuracy and the chance level are reported beside it);
- a PNG grid of samples for held-out captions, with the captions in a text file beside it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from evaluation.judge import digit_label, train_judge
from training.data import Example, NullCaption, load_examples


@dataclass
class EvalConfig:
    catalog: str
    manifest: str  # the held-out selection
    checkpoint: str
    out_dir: str
    manifest_version: int | None = None
    samples_per_class: int = 10
    grid_size: int = 16
    steps: int = 30
    solver: str = "euler"
    cfg_scale: float = 3.0
    shift: float = 1.0
    batch_size: int = 100
    seed: int = 0


@dataclass
class EvalResult:
    metrics: dict[str, float]
    grid: str
    grid_captions: str
    per_class_accuracy: dict[int, float] = field(default_factory=dict)


def load_checkpoint(path: str | Path):
    from modelzoo import FlagDiT

    model = FlagDiT.from_pretrained(path).eval()
    return model, NullCaption.load(Path(path) / "null_caption.npz")


@torch.no_grad()
def heldout_loss(model, examples: list[Example], batch_size: int = 128, seed: int = 0) -> float:
    from modelzoo import FlowMatching
    from training.data import collate

    fm = FlowMatching(timesteps="uniform")
    torch.manual_seed(seed)  # the same noise and timesteps for every checkpoint
    total, n = 0.0, 0
    for i in range(0, len(examples), batch_size):
        b = collate(examples[i : i + batch_size])
        k = len(b["cap_mask"])
        total += fm.training_loss(model, b["x1"], cap_feats=b["cap_feats"], cap_mask=b["cap_mask"]).item() * k
        n += k
    return total / max(n, 1)


@torch.no_grad()
def generate(model, null: NullCaption, examples: list[Example], cfg: EvalConfig, seed: int) -> torch.Tensor:
    """Samples for the captions of `examples`, each at the shape of its own latent (a list when
    shapes differ, else one [N, C, T, H, W] tensor)."""
    from modelzoo import sample

    gen = torch.Generator().manual_seed(seed)
    outs = []
    for i in range(0, len(examples), cfg.batch_size):
        chunk = examples[i : i + cfg.batch_size]
        noise = [torch.randn(e.latent.shape, generator=gen) for e in chunk]
        if len({n.shape for n in noise}) == 1:
            noise = torch.stack(noise)
        feats = torch.stack([e.cap_feats for e in chunk])
        mask = torch.stack([e.cap_mask for e in chunk])
        nf, nm = null.expand(len(chunk))
        outs.append(sample(model, noise, cond=dict(cap_feats=feats, cap_mask=mask), uncond=dict(cap_feats=nf, cap_mask=nm),
                           cfg_scale=cfg.cfg_scale, solver=cfg.solver, steps=cfg.steps, shift=cfg.shift))
    if all(isinstance(o, torch.Tensor) for o in outs) and len({o.shape[1:] for o in outs}) == 1:
        return torch.cat(outs)
    return [x for o in outs for x in o]


def save_grid(latents: torch.Tensor | list[torch.Tensor], captions: list[str], path: Path, cols: int = 4, upscale: int = 4) -> tuple[Path, Path]:
    from encoders.latent import IdentityImageEncoder

    dec = IdentityImageEncoder()
    tiles = [dec.decode(x.numpy())[0] for x in latents]  # [H, W, 3] uint8 each (first frame)
    h, w = max(t.shape[0] for t in tiles), max(t.shape[1] for t in tiles)  # cells fit the largest sample
    rows = (len(tiles) + cols - 1) // cols
    canvas = np.zeros((rows * (h + 2), cols * (w + 2), 3), np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        canvas[r * (h + 2) + 1 : r * (h + 2) + 1 + t.shape[0], c * (w + 2) + 1 : c * (w + 2) + 1 + t.shape[1]] = t
    img = Image.fromarray(canvas).resize((canvas.shape[1] * upscale, canvas.shape[0] * upscale), Image.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    cap_path = path.with_suffix(".txt")
    cap_path.write_text("\n".join(f"{i // cols},{i % cols}: {c}" for i, c in enumerate(captions)) + "\n")
    return path, cap_path


def evaluate(cfg: EvalConfig) -> EvalResult:
    from catalog import load_manifest

    model, null = load_checkpoint(cfg.checkpoint)
    examples = load_examples(load_manifest(cfg.catalog, cfg.manifest, cfg.manifest_version))
    if not examples:
        raise ValueError(f"held-out manifest {cfg.manifest!r} is empty")
    metrics: dict[str, float] = {"heldout_fm_loss": heldout_loss(model, examples, seed=cfg.seed)}

    digits = [(e, digit_label(e.caption)) for e in examples]
    digits = [(e, y) for e, y in digits if y is not None]
    per_class: dict[int, float] = {}
    if digits:
        images = torch.stack([e.latent for e, _ in digits])
        labels = torch.tensor([y for _, y in digits])
        report = train_judge(images, labels, seed=cfg.seed)
        prompts = [(e, y) for label in range(10) for e, y in [d for d in digits if d[1] == label][: cfg.samples_per_class]]
        targets = torch.tensor([y for _, y in prompts])
        preds = report.judge.predict(generate(model, null, [e for e, _ in prompts], cfg, seed=cfg.seed + 1))
        correct = (preds == targets).float()
        per_class = {y: correct[targets == y].mean().item() for y in range(10) if (targets == y).any()}
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
    samples = generate(model, null, grid_examples, cfg, seed=cfg.seed + 2)
    grid, caps = save_grid(samples, [e.caption for e in grid_examples], Path(cfg.out_dir) / "samples.png")
    result = EvalResult(metrics, str(grid), str(caps), per_class)
    (Path(cfg.out_dir) / "metrics.json").write_text(json.dumps(asdict(result), indent=1))
    return result
