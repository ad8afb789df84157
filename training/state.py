"""Resumable training state beside the published weights of a checkpoint folder.

    checkpoint-0000200/
      config.json, model.safetensors    the EMA weights (FlagDiT.save_pretrained): what evaluation loads
      null_caption.npz, training.json, latent_encoder.json, text_encoder.json
      train_state.safetensors           raw weights (model.*), optimizer tensors (optim.<i>.<name>), RNG states (rng.*)
      train_state.json                  step, data position, scheduler, optimizer groups, loss log, training seconds, shape counts
      train_state/                      instead of train_state.safetensors in an FSDP2 run: each rank's
                                        shards, a file per block (training/sharded_state.py)

Folders are written under a temporary name and renamed, so a crash never leaves half a checkpoint.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch

STATE_TENSORS = "train_state.safetensors"
STATE_JSON = "train_state.json"
_CKPT = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_dir(out_dir: str | os.PathLike, step: int) -> Path:
    return Path(out_dir) / f"checkpoint-{step:07d}"


def checkpoints(out_dir: str | os.PathLike) -> list[Path]:
    """Complete checkpoint folders of a run, oldest first."""
    out = Path(out_dir)
    found = [p for p in out.iterdir() if _CKPT.match(p.name) and (p / "config.json").exists()] if out.is_dir() else []
    return sorted(found, key=lambda p: int(_CKPT.match(p.name).group(1)))


def latest_resumable(out_dir: str | os.PathLike) -> Path | None:
    found = [p for p in checkpoints(out_dir) if (p / STATE_JSON).exists()]
    return found[-1] if found else None


def state_tensors(model_state: dict[str, torch.Tensor], opt: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict]:
    """Flatten model + optimizer state (an optimizer's state_dict, whole tensors keyed by parameter
    index) into named tensors and a JSON part."""
    tensors = {f"model.{k}": v for k, v in model_state.items()}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in opt["state"].items():
        for name, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"optim.{pid}.{name}"] = v
            else:
                scalars.setdefault(str(pid), {})[name] = v
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    return tensors, {"param_groups": opt["param_groups"], "optim_scalars": scalars}


def write_state(ckpt: Path, tensors: dict[str, torch.Tensor], info: dict) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, str(ckpt / STATE_TENSORS))
    (ckpt / STATE_JSON).write_text(json.dumps(info, indent=1, default=str))


def read_state(ckpt: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    from safetensors.torch import load_file

    return load_file(str(Path(ckpt) / STATE_TENSORS)), json.loads((Path(ckpt) / STATE_JSON).read_text())


def optimizer_state(tensors: dict[str, torch.Tensor], info: dict) -> dict[str, Any]:
    """The optimizer state_dict that state_tensors flattened."""
    state: dict[int, dict[str, Any]] = {}
    for name, v in tensors.items():
        if name.startswith("optim."):
            _, pid, field = name.split(".", 2)
            state.setdefault(int(pid), {})[field] = v
    for pid, st in info.get("optim_scalars", {}).items():
        state.setdefault(int(pid), {}).update(st)
    return {"state": state, "param_groups": info["param_groups"]}


def restore_rng(tensors: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])


def publish(tmp: Path, final: Path) -> None:
    """Atomic from a reader's view: the folder appears complete or not at all; with the modes the
    umask gives (the temporary folder was private)."""
    from contracts.layout import readable_as_umask_allows

    readable_as_umask_allows(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def clear_unfinished(out_dir: str | os.PathLike) -> list[Path]:
    """Delete the temporary folders of checkpoints a killed run left half written (``.checkpoint-*``,
    never published: nothing resumes from them, and an FSDP2 one holds a whole training state).
    The run owns its out_dir, as `prune` assumes too."""
    out = Path(out_dir)
    gone = sorted(p for p in out.glob(".checkpoint-*") if p.is_dir()) if out.is_dir() else []
    for p in gone:
        shutil.rmtree(p, ignore_errors=True)
    return gone


def prune(out_dir: str | os.PathLike, keep_last: int) -> list[Path]:
    """Delete all but the newest `keep_last` checkpoints; returns what was deleted."""
    found = checkpoints(out_dir)
    gone = found[:-keep_last] if keep_last > 0 else []
    for p in gone:
        shutil.rmtree(p, ignore_errors=True)
    return gone
