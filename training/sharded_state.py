"""FSDP2 training state written shard by shard: every rank saves what it holds, nobody gathers.

    checkpoint-0000200/train_state/
      shard-00001-model-00001-of-00013.safetensors    rank 0's pieces of what is outside the blocks
      shard-00001-model-00002-of-00013.safetensors    rank 0's pieces of block 0
      ...
      shard-00002-model-00013-of-00013.safetensors    rank 1's pieces of block 11

Each file holds pieces of the EMA weights (under their own names, as in model.safetensors), the
raw weights (model.*), AdamW's moments (optim.<param name>.*, by name where the whole-tensor format
has indices) and the RNG (rng.*). torch.distributed.checkpoint (DCP) writes them with its
safetensors writer; each header records where its pieces sit in the whole tensors, so a run resumes
on another number of ranks, or in one process, and `read_whole` puts them together for a look.
The published model.safetensors is assembled from the EMA pieces on disk, one tensor at a time
(`publish_weights`), and train_state.json lists every file (`shard_files`), so a lost one is named
before a resume, with its checksum (`shard_record`): each rank hashes the files it wrote as soon as
they are written (read back from the page cache, in the writer's thread) and leaves the digests
beside them (`checksums-<rank + 1>.json`), which rank 0 gathers into train_state.json and deletes,
so a file overwritten in place (same size, header intact) is refused before a resume. The files must
be on a file system every rank sees.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any

import torch

SHARDED_DIR = "train_state"
SHARD_FILES = "shard_files"  # train_state.json's list of every rank's files (`shard_files`)
_RANK_SUMS = "checksums-{:05d}.json"  # train_state/: one rank's files' checksums, until rank 0 gathers them (`shard_record`)


def is_sharded(ckpt: str | os.PathLike) -> bool:
    return (Path(ckpt) / SHARDED_DIR).is_dir()


def shard_files(ckpt: str | os.PathLike) -> list[str]:
    """The names of every rank's files under ckpt/train_state/, for train_state.json (rank 0, once
    every rank's are written, as `publish_weights`): `state.checkpoint_problems` checks each is
    still there before a resume, where DCP's load of a checkpoint missing one failed with
    ``CheckpointException ranks:dict_keys([0])``. How many files a rank writes depends on what it
    holds, so the names alone cannot tell that one is gone."""
    return sorted(p.name for p in (Path(ckpt) / SHARDED_DIR).glob("*.safetensors"))


def shard_record(ckpt: str | os.PathLike) -> dict[str, Any]:
    """What train_state.json records of a sharded checkpoint's files (rank 0, once every rank's are
    written and model.safetensors published): `SHARD_FILES`, and `state.CHECKSUMS` of every shard
    file (``train_state/<name>``, as the rank that wrote it hashed it: `_ChecksummingWriter`) and of
    model.safetensors (read back, just written). The ranks' checksum files are deleted."""
    from training.state import CHECKSUMS, WEIGHTS, _checksum_algorithm, file_digest

    ckpt = Path(ckpt)
    sums: dict[str, str] = {}
    for part in sorted((ckpt / SHARDED_DIR).glob(_RANK_SUMS.replace("{:05d}", "*"))):
        sums.update(json.loads(part.read_text()))
        part.unlink()
    if (ckpt / WEIGHTS).is_file():
        sums[WEIGHTS] = file_digest(ckpt / WEIGHTS, _checksum_algorithm())
    return {SHARD_FILES: shard_files(ckpt), CHECKSUMS: sums}


def _state(model: torch.nn.Module, opt: torch.optim.Optimizer, ema: torch.nn.Module | None) -> tuple[dict[str, Any], list[dict]]:
    """The nested state DCP saves or loads in place: this rank's shards (DTensors under FSDP2, whole
    tensors otherwise). A fresh optimizer gets zero-filled state to load into."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict

    optim = get_optimizer_state_dict(model, opt)
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state()
    state: dict[str, Any] = {"model": get_model_state_dict(model), "optim": optim["state"], "rng": rng}
    if ema is not None:  # under the names model.safetensors uses, so publish_weights can copy them out
        weights = get_model_state_dict(ema)
        if clash := set(weights) & set(state):
            raise ValueError(f"parameter names {sorted(clash)} clash with the training state's parts")
        state.update(weights)
    return state, optim["param_groups"]


def save_sharded(ckpt: str | os.PathLike, model: torch.nn.Module, opt: torch.optim.Optimizer,
                 ema: torch.nn.Module | None = None) -> list[dict]:
    """Collective: every rank writes its shards under ckpt/train_state/. Returns the optimizer's
    param groups (hyperparameters, parameter names) for the JSON beside them."""
    import torch.distributed.checkpoint as dcp

    state, groups = _state(model, opt, ema)
    dcp.save(state, storage_writer=_writer(ckpt, state))
    return groups


def save_sharded_async(ckpt: str | os.PathLike, model: torch.nn.Module, opt: torch.optim.Optimizer,
                       ema: torch.nn.Module | None, process_group, stager) -> tuple[Any, list[dict]]:
    """`save_sharded`'s files, written by DCP's own background thread from a CPU copy taken before
    this returns (collective, like save_sharded). Returns a future and the param groups: the future
    is done once this rank's files are written, and on rank 0 once every rank's are (DCP gathers
    the ranks' results there last). `process_group`: a gloo group of its own, so the writes'
    collectives never interleave with training's. `stager`: `checkpoint_stager()`, one per run; the
    previous save must be done, since its copy is overwritten."""
    import torch.distributed.checkpoint as dcp

    state, groups = _state(model, opt, ema)
    writer = _writer(ckpt, state, background=True)
    return dcp.async_save(state, storage_writer=writer, process_group=process_group, async_stager=stager), groups


def checkpoint_stager():
    """DCP's stager, kept for a run: it copies into the CPU buffers of the previous save (keyed by
    the tensors' storage) instead of fresh ones, whose page faults cost as much as a write to disk
    (checkpoint_writer.py); pinned on a GPU host. Synchronous: the copy is done when async_save
    returns. `close()` frees the buffers."""
    from torch.distributed.checkpoint.staging import DefaultStager, StagingOptions

    return DefaultStager(StagingOptions(use_pinned_memory=torch.cuda.is_available(), use_shared_memory=False,
                                        use_async_staging=False, use_non_blocking_copy=False))


def _writer(ckpt: str | os.PathLike, state: dict[str, Any], background: bool = False):
    """DCP's safetensors writer: each rank its own files, one per block (`file_per_block`).
    `background`: async_save's thread writes at nice 19, as --async-checkpoint's own writer does."""
    import torch.distributed.checkpoint as dcp

    cls = _niced_writer_class() if background else _checksumming_writer_class()
    return cls(str(Path(ckpt) / SHARDED_DIR), save_distributed=True, fqn_to_index_mapping=file_per_block(state))


@functools.cache
def _checksumming_writer_class():
    """HuggingFaceStorageWriter whose write_data, once this rank's files are written (DCP's write is
    done when it returns), hashes each of them, read back from the page cache the write left them in,
    and writes the digests to ``train_state/checksums-<rank + 1>.json`` for rank 0 (`shard_record`):
    no collective of its own, so it works the same in async_save's thread."""
    import torch.distributed.checkpoint as dcp

    from training.state import _checksum_algorithm, file_digest

    class ChecksummingWriter(dcp.HuggingFaceStorageWriter):
        def write_data(self, plan, planner):
            written = super().write_data(plan, planner)
            names = sorted({r.storage_data.relative_path for r in written.wait()})
            if names:
                folder, algorithm = Path(str(self.path)), _checksum_algorithm()
                sums = {f"{SHARDED_DIR}/{n}": file_digest(folder / n, algorithm) for n in names}
                index = plan.storage_data.get("shard_index", 1)
                (folder / _RANK_SUMS.format(index)).write_text(json.dumps(sums, indent=1))
            return written

    return ChecksummingWriter


@functools.cache
def _niced_writer_class():
    """The checksumming writer whose write_data first lowers the calling thread's priority: DCP
    runs it in a thread of its own per async_save, which training's cores should not wait for."""
    from training.checkpoint_writer import _lowest_priority

    class NicedWriter(_checksumming_writer_class()):
        def write_data(self, plan, planner):
            _lowest_priority()
            return super().write_data(plan, planner)

    return NicedWriter


_BLOCK = re.compile(r"\blayers\.(\d+)\.")


def file_per_block(state: dict[str, Any]) -> dict[str, int]:
    """Flat name -> file number: one file per transformer block (its weights, EMA and AdamW
    moments), file 1 for the rest. DCP builds each file in memory before writing it, so a
    checkpoint's extra memory is one block's pieces, not the rank's whole state."""
    names = []
    for part, entries in state.items():
        if isinstance(entries, torch.Tensor):  # an EMA weight
            names.append(part)
            continue
        for key, value in entries.items():
            names += [f"{part}.{key}.{field}" for field in value] if isinstance(value, dict) else [f"{part}.{key}"]
    return {name: int(m.group(1)) + 2 if (m := _BLOCK.search(name)) else 1 for name in names}


def load_sharded(ckpt: str | os.PathLike, model: torch.nn.Module, opt: torch.optim.Optimizer,
                 param_groups: list[dict], ema: torch.nn.Module | None = None) -> None:
    """Collective under FSDP2: each rank reads only the slices of its own shards, whatever the
    number of ranks that wrote them. Also loads into a plain model in one process."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import set_model_state_dict, set_optimizer_state_dict

    state, _ = _state(model, opt, ema)
    dcp.load(state, storage_reader=dcp.HuggingFaceStorageReader(str(Path(ckpt) / SHARDED_DIR)),
             no_dist=not torch.distributed.is_initialized())
    set_model_state_dict(model, state["model"])
    if ema is not None:
        set_model_state_dict(ema, {k: v for k, v in state.items() if k not in ("model", "optim", "rng")})
    set_optimizer_state_dict(model, opt, {"state": state["optim"], "param_groups": param_groups})
    torch.set_rng_state(state["rng"]["torch"])
    if "cuda" in state["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["rng"]["cuda"])


def publish_weights(ckpt: str | os.PathLike, names: list[str]) -> Path:
    """Write ckpt/model.safetensors from the EMA pieces every rank saved under ckpt/train_state/,
    one whole tensor in memory at a time (rank 0, after save_sharded): no rank gathers the model."""
    # DCP's own consolidation (torch is pinned to 2.14.1, where it lives in a private module)
    from torch.distributed.checkpoint._consolidate_hf_safetensors import consolidate_safetensors_files

    ckpt = Path(ckpt)
    consolidate_safetensors_files(str(ckpt / SHARDED_DIR), str(ckpt), dict.fromkeys(names, 1))
    os.replace(ckpt / "model-00001-of-00001.safetensors", ckpt / "model.safetensors")
    (ckpt / "model.safetensors.index.json").unlink(missing_ok=True)  # one file: no index needed
    return ckpt / "model.safetensors"


def read_whole(ckpt: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Every tensor of a sharded state, put together in this process, by flat name
    (``<param>`` for the EMA, ``model.<param>``, ``optim.<param>.exp_avg``, ``rng.torch``): for
    inspection and tests; a run resumes through `load_sharded`."""
    import torch.distributed.checkpoint as dcp

    reader = dcp.HuggingFaceStorageReader(str(Path(ckpt) / SHARDED_DIR))
    meta = reader.read_metadata().state_dict_metadata
    flat = {name: torch.empty(m.size, dtype=m.properties.dtype) for name, m in meta.items()}
    dcp.load(flat, storage_reader=reader, no_dist=True)
    return flat
