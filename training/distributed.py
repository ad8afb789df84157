"""Process groups and model wrapping: DDP or FSDP2 (gloo on CPU, NCCL on GPU).

torchrun and Ray Train both set RANK/WORLD_SIZE; Ray Train also initialises the group itself.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist


def init_distributed() -> tuple[int, int, torch.device]:
    """(rank, world size, device) of this process; starts the process group when launched by torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def start_single_process_group(device: torch.device) -> bool:
    """FSDP2 needs a process group even in one process (plain `python`, `lumina train`, no
    torchrun): start one in memory (a HashStore, no port). True when it was started here."""
    if dist.is_initialized():
        return False
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", store=dist.HashStore(), rank=0, world_size=1)
    return True


def wrap_model(model: torch.nn.Module, world: int, parallel: str, device: torch.device, bf16: bool) -> torch.nn.Module:
    """The module the loss runs through. FSDP2 shards each block (bf16 parameters, fp32 gradient
    reduction when bf16); DDP replicates. One process: the model itself. FSDP2 runs on CPU too
    (gloo), which is how it is tested here."""
    if parallel == "fsdp":
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        import warnings

        # FSDP2 warns on every forward that the model's output is a view (unpatchify reshapes): an
        # in-place op on it would skip a hook, but the flow-matching loss reads it out of place
        warnings.filterwarnings("ignore", message=r"FSDP2-wrapped module \(FSDPFlagDiT\) returned a view tensor",
                                category=UserWarning)
        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else MixedPrecisionPolicy()
        for block in model.get_fsdp_wrap_module_list():
            fully_shard(block, mp_policy=mp)
        fully_shard(model, mp_policy=mp)
        return model
    if parallel != "ddp":
        raise ValueError(f"parallel must be 'ddp' or 'fsdp', got {parallel!r}")
    if world > 1:
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    return model


def full_state_dict(module: torch.nn.Module, cpu_offload: bool = True) -> dict[str, torch.Tensor]:
    """Whole CPU tensors of a plain, DDP'd or FSDP2-sharded module. A collective under FSDP2 (every
    rank calls it), gathered one tensor at a time onto rank 0; the other ranks get {}.
    cpu_offload=False (not for FSDP2): the tensors where they are, for a caller that copies them
    into CPU buffers of its own (an asynchronous checkpoint)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    state = get_model_state_dict(module, options=StateDictOptions(full_state_dict=True, cpu_offload=cpu_offload))
    return {k: v.detach().contiguous() for k, v in state.items()}


def load_full_state(model: torch.nn.Module, opt: torch.optim.Optimizer, parallel: str,
                    model_state: dict[str, torch.Tensor], optim_state: dict[str, Any]) -> None:
    """Whole-tensor model and optimizer state back into a plain, DDP'd or FSDP2-sharded model
    (FSDP2: each rank keeps its shard of what it reads)."""
    load_full_weights(model, model_state)
    if parallel != "fsdp":
        opt.load_state_dict(optim_state)
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    names = [name for name, _ in model.named_parameters()]
    whole = StateDictOptions(full_state_dict=True)
    by_name = {"state": {names[int(i)]: st for i, st in optim_state["state"].items()},
               "param_groups": [{**g, "params": [names[int(i)] for i in g["params"]]} for g in optim_state["param_groups"]]}
    set_optimizer_state_dict(model, opt, by_name, options=whole)


def load_full_weights(module: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Whole tensors into a plain module, or into an FSDP2-sharded one (each rank keeps its shard)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    set_model_state_dict(module, state, options=StateDictOptions(full_state_dict=True, strict=True))


def all_sum(x: torch.Tensor) -> torch.Tensor:
    if dist.is_initialized():
        x = x.clone()
        dist.all_reduce(x)
    return x


def all_max(x: torch.Tensor) -> torch.Tensor:
    """The largest value over ranks: decisions every rank must take together (stop now)."""
    if dist.is_initialized():
        x = x.clone()
        dist.all_reduce(x, op=dist.ReduceOp.MAX)
    return x


def broadcast(obj: Any) -> Any:
    """Rank 0's value on every rank."""
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()
