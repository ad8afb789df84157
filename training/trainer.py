"""Flow-matching training of a Flag-DiT on a catalog manifest.

Runs without Prefect:
    python -m training.train --catalog lumina_home/catalog.duckdb --manifest demo-train --out runs/demo
    torchrun --nproc_per_node=2 -m training.train ...   # data-parallel (gloo on CPU, nccl on GPU)
"""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from training.data import NullCaption, collate, load_examples


@dataclass
class TrainConfig:
    manifest: str = ""  # name or name@vN in the catalog
    catalog: str | None = None  # default: the workspace's catalog.duckdb
    out_dir: str | None = None  # default: <home>/runs/<run id>
    null_caption: str | None = None  # .npz with the text encoder's features for ""; default: the workspace's, by fingerprint
    manifest_version: int | None = None
    modality: str | None = None  # recorded with the checkpoint; default: the manifest's
    model: str = "flag-dit-tiny"
    model_overrides: dict = field(default_factory=dict)
    steps: int = 1000
    max_seconds: float | None = None  # stop early when the wall clock runs out (the budget is steps first)
    batch_size: int = 64
    lr: float = 1e-3  # small models on small data tolerate a larger rate than the paper's 1e-4
    warmup_steps: int = 50
    weight_decay: float = 0.0
    grad_clip: float = 2.0
    ema_decay: float = 0.999  # upper bound; 0.9999 in the paper is for 100k+ steps
    caption_dropout: float = 0.1  # replaced by the null caption, so guidance has an unconditional model
    timesteps: str = "logit_normal"
    seed: int = 0
    log_every: int = 25
    num_threads: int | None = None


@dataclass
class TrainResult:
    checkpoint: str  # directory: config.json + model.safetensors (EMA weights) + null_caption.npz + training.json
    steps: int
    seconds: float
    final_loss: float  # mean of the last log window
    losses: list[tuple[int, float]]
    manifest: str
    manifest_version: int


def _distributed() -> tuple[int, int]:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        # Ray Train may have initialised the group already: only torchrun-style launches get here.
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def train(cfg: TrainConfig) -> TrainResult:
    from catalog import load_manifest
    from modelzoo import FlagDiT, FlowMatching, get_config

    rank, world = _distributed()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    torch.manual_seed(cfg.seed + rank)
    manifest = load_manifest(cfg.catalog, cfg.manifest, cfg.manifest_version)
    examples = load_examples(manifest)
    if not examples:
        raise ValueError(f"manifest {cfg.manifest!r} is empty")
    examples = examples[rank::world]
    null = NullCaption.load(cfg.null_caption)

    first = examples[0]
    model_cfg = get_config(cfg.model, in_channels=first.latent.shape[0], cap_dim=first.cap_feats.shape[-1], **cfg.model_overrides)
    model = FlagDiT(model_cfg)
    ema = copy.deepcopy(model).requires_grad_(False)
    ddp_model = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    # fused: the per-tensor loop costs more than forward and backward together on CPU
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    fm = FlowMatching(timesteps=cfg.timesteps)
    gen = torch.Generator().manual_seed(cfg.seed + rank)

    losses: list[tuple[int, float]] = []
    window: list[float] = []
    start = time.time()
    step = 0
    bar = tqdm(total=cfg.steps, desc="train", unit="step", disable=rank != 0)
    bs = min(cfg.batch_size, len(examples))
    out_of_time = lambda: cfg.max_seconds is not None and time.time() - start > cfg.max_seconds  # noqa: E731
    while step < cfg.steps and not out_of_time():
        perm = torch.randperm(len(examples), generator=gen)
        for i in range(0, len(perm) - bs + 1, bs):  # drop the ragged last batch
            batch = collate([examples[j] for j in perm[i : i + bs].tolist()])
            drop = torch.rand(len(batch["cap_mask"]), generator=gen) < cfg.caption_dropout
            if drop.any():
                nf, nm = null.expand(int(drop.sum()))
                batch["cap_feats"][drop], batch["cap_mask"][drop] = nf, nm
            for g in opt.param_groups:
                g["lr"] = cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup_steps))
            extra = {"frame_cond": batch["frame_cond"]} if "frame_cond" in batch else {}
            loss = fm.training_loss(ddp_model, batch["x1"], cap_feats=batch["cap_feats"], cap_mask=batch["cap_mask"], **extra)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            # EMA warm-up: a fixed 0.999 would keep ~half the step-50 weights after 800 steps.
            _ema_update(ema, model, min(cfg.ema_decay, (1 + step) / (10 + step)))
            step += 1
            window.append(loss.item())
            bar.update(1)
            if step % cfg.log_every == 0 or step == cfg.steps:
                losses.append((step, sum(window) / len(window)))
                bar.set_postfix(loss=f"{losses[-1][1]:.4f}")
                window = []
            if step >= cfg.steps or out_of_time():
                break
    bar.close()
    seconds = time.time() - start
    if window:
        losses.append((step, sum(window) / len(window)))

    ckpt = Path(cfg.out_dir) / f"checkpoint-{step:07d}"
    if rank == 0:
        ema.save_pretrained(ckpt)
        shutil.copy(cfg.null_caption, ckpt / "null_caption.npz")
        _copy_encoder_infos(Path(cfg.null_caption).parent.parent, manifest.encoders, ckpt)
        info = {"train_config": asdict(cfg), "modality": cfg.modality, "manifest": manifest.name, "manifest_version": manifest.version, "encoders": manifest.encoders, "latent_shape": list(first.latent.shape), "steps": step, "seconds": seconds, "losses": losses}
        (ckpt / "training.json").write_text(json.dumps(info, indent=1))
    if dist.is_initialized():
        dist.barrier()
    return TrainResult(str(ckpt), step, seconds, losses[-1][1] if losses else math.nan, losses, manifest.name, manifest.version)


def _copy_encoder_infos(encoders_dir: Path, fingerprints: dict[str, str], ckpt: Path) -> None:
    """The checkpoint carries how to reload its encoders (decoding, `lumina sample`): self-contained."""
    from contracts.layout import safe_name

    for kind, fp in fingerprints.items():
        info = encoders_dir / safe_name(fp) / "encoder.json"
        if info.exists():
            shutil.copy(info, ckpt / f"{kind}_encoder.json")


@torch.no_grad()
def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p.detach(), 1.0 - decay)
