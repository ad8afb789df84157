"""Process groups and model wrapping: DDP or FSDP2 (gloo on CPU, NCCL on GPU).

torchrun and Ray Train both set RANK/WORLD_SIZE; Ray Train also initialises the group itself.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist

if TYPE_CHECKING:
    from datetime import timedelta

    from training.config import TrainConfig


# How long a rank waits in a collective for the others (seconds): unset, torch's own (30 minutes for
# gloo, 10 for NCCL). A rank that hangs alive (a stalled file system, a stopped process, a deadlock) kept
# the others waiting that long, torchrun none the wiser; a rank that dies is seen at once (PEER_LOST).
# Every wait counts: the ranks' start-up rendezvous, the others' while rank 0 writes and publishes a
# checkpoint or reads a --resume checkpoint's checksums; too short a value ends a healthy run there.
COLLECTIVE_TIMEOUT_ENV = "LUMINA_COLLECTIVE_TIMEOUT_S"


def collective_timeout() -> "timedelta | None":
    """$LUMINA_COLLECTIVE_TIMEOUT_S as a timedelta (None when unset: torch's default); a value that is
    no number of seconds above 0 is refused (ValueError: one line, exit 2)."""
    import math
    from datetime import timedelta

    raw = os.environ.get(COLLECTIVE_TIMEOUT_ENV, "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"${COLLECTIVE_TIMEOUT_ENV}={raw!r}: give the seconds a rank waits in a collective for the "
                         "others (above the longest wait at a checkpoint: its write, --resume's checksum read; unset: torch's 30 minutes for gloo, 10 for NCCL)")
    return timedelta(seconds=seconds)


def init_distributed() -> tuple[int, int, torch.device]:
    """(rank, world size, device) of this process; starts the process group when launched by torchrun,
    with $LUMINA_COLLECTIVE_TIMEOUT_S as its timeout when set (`collective_timeout`). Under torchrun,
    the rank also ends when torchrun's agent does (`watch_launcher`)."""
    if dist.is_torchelastic_launched():
        watch_launcher()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        timeout = collective_timeout()
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if (store := attempt_store(timeout)) is not None:
            dist.init_process_group(backend, store=store, rank=int(os.environ["RANK"]),
                                    world_size=int(os.environ["WORLD_SIZE"]), **({"timeout": timeout} if timeout else {}))
        else:
            dist.init_process_group(backend, **({"timeout": timeout} if timeout else {}))
    rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


# watch_launcher: how often a rank looks for its launcher, and how long it has to stop at a step boundary
# with a checkpoint before it ends itself (torchrun's own wait between its SIGTERM and SIGKILL)
LAUNCHER_POLL_S = 1.0
LAUNCHER_GONE_GRACE_S = 30.0
_watching: int | None = None  # the launcher's pid once watched (init_distributed runs more than once a process)


def watch_launcher() -> bool:
    """End this rank when the process that started it (torchrun's agent) is gone, as torchrun itself
    would have ended it: SIGTERM (the trainer stops at the next step boundary with a checkpoint, as for
    any SIGTERM), then SIGKILL LAUNCHER_GONE_GRACE_S later if it is still there (a rank hung in a
    collective). True when this call started the watch (once a process).

    torchrun starts each rank in a session of its own and ends them itself when it is signalled; a
    torchrun agent SIGKILLed (the OOM killer, `kill -9`, a scheduler that kills only the process it
    started) could not, and its ranks trained on as orphans: with 2 CPU ranks they were still in their
    all-reduce loop 10 s after the agent's SIGKILL, and a real run would go on for days, writing
    checkpoints and holding the run folder and its devices. A thread polling the parent's pid every
    LAUNCHER_POLL_S (one getppid() a second) rather than prctl(PR_SET_PDEATHSIG): that signal comes when
    the *thread* that forked the rank exits, not only its process; it is Linux's only; and it sends one
    signal, so SIGTERM leaves a rank hung in a collective alive for good and SIGKILL loses every step
    since the last checkpoint. Not seen: a launcher gone before the watch starts (in the seconds of the
    rank's imports; its parent is then already another, and pid 1 may be torchrun itself, in a
    container), where the rank's rendezvous at the dead agent's store fails instead (after the
    collective timeout)."""
    import signal
    import sys
    import threading

    global _watching
    if _watching is not None:
        return False
    poll, grace = LAUNCHER_POLL_S, LAUNCHER_GONE_GRACE_S
    launcher = _watching = os.getppid()

    def watch() -> None:
        wait = threading.Event().wait  # not time.sleep, which a test may replace while this runs
        while os.getppid() == launcher:
            wait(poll)
        try:
            print(f"rank {os.environ.get('RANK', '?')} (pid {os.getpid()}): its launcher (pid {launcher}, torchrun's "
                  f"agent) is gone: stopping at the next step with a checkpoint (SIGTERM; SIGKILL in {grace:g} s)",
                  file=sys.stderr, flush=True)
        except (OSError, ValueError):  # its stderr went with the launcher (a closed pipe): the rank stops all the same
            pass
        os.kill(os.getpid(), signal.SIGTERM)
        wait(grace)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="launcher-watch", daemon=True).start()
    return True


def attempt_store(timeout: "timedelta | None" = None):
    """torchrun's agent store under a prefix of this attempt (TORCHELASTIC_RESTART_COUNT), where torchrun
    serves one (TORCHELASTIC_USE_AGENT_STORE); else None (env:// as torch does it).

    With `--max-restarts N`, torchrun starts every rank again when one fails, against the same agent
    store: torch's env:// rendezvous keeps its keys unprefixed (torch 2.14 says "a new TCPStore for every
    retry", but the standalone agent keeps one), so the new attempt's rank 0 read the dead attempt's
    gloo address of rank 1 and failed (`Gloo connectFullMesh failed ... Connection refused`), every
    restart, with any script. A prefix per attempt gives each its own keys."""
    from torch.distributed.constants import default_pg_timeout

    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != str(True):
        return None
    try:
        host, port, world = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), int(os.environ["WORLD_SIZE"])
        attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0)
    except (KeyError, ValueError):  # not torchrun's full environment: torch's own rendezvous
        return None
    store = dist.TCPStore(host, port, world, is_master=False, timeout=timeout or default_pg_timeout)
    return dist.PrefixStore(f"lumina/attempt_{attempt}", store)


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


# What a collective raises on a rank whose peer's process ended under it (killed, crashed, exited with an
# error of its own): gloo's words (torch 2.14, 2 CPU ranks on one host: within about 2 s of a rank's
# SIGKILL, not after the 30-minute collective timeout, which only a rank that hangs alive runs into) and NCCL's.
PEER_LOST = ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "remote process exited")
# gloo's words when the others did not answer within the process group's timeout (COLLECTIVE_TIMEOUT_ENV)
PEER_TIMED_OUT = ("Timed out waiting",)


def peer_lost(e: BaseException) -> str | None:
    """The short words of ``e`` when it is a collective that failed because another rank's process ended
    (gloo: "Connection closed by peer [127.0.0.1]:19863") or did not answer within the process group's
    timeout ("Timed out waiting 2000ms for recv operation to complete"), else None. That error is a consequence: the
    rank that ended printed its own (a traceback, our one line) or was killed (torchrun's report says by
    what); the rank that meets it printed gloo's 30-line traceback of the backward pass besides."""
    if not isinstance(e, RuntimeError):
        return None
    text = str(e)
    if not any(marker in text for marker in PEER_LOST + PEER_TIMED_OUT):
        return None
    first = text.strip().splitlines()[0] if text.strip() else ""
    words = re.sub(r"^\[[^\]]*\.(?:cc|cpp):\d+\]\s*", "", first)  # gloo's source position
    words = words.split(". This is typically", 1)[0].strip()
    return words[:200] or type(e).__name__


def peer_lost_line(e: BaseException, cfg: "TrainConfig") -> str | None:
    """The one line a rank says for ``peer_lost(e)``, else None: another rank ended, where its own error
    is, and the run's last checkpoint with --resume (`what_is_kept`)."""
    words = peer_lost(e)
    if words is None:
        return None
    backend = dist.get_backend() if dist.is_initialized() else ("nccl" if torch.cuda.is_available() else "gloo")
    if any(marker in words for marker in PEER_TIMED_OUT):  # alive, but not answering
        return (f"another rank did not answer a collective mid-training ({backend}: {words}; ${COLLECTIVE_TIMEOUT_ENV} "
                f"sets the wait): it hangs (a stalled file system, a stopped process){what_is_kept(cfg)}")
    return (f"another rank's process ended mid-training ({backend}: {words}): its own error above, or torchrun's "
            f"report, says why{what_is_kept(cfg)}")


def what_is_kept(cfg: "TrainConfig", first: str = "") -> str:
    """The end of a line for a distributed run that failed under its ranks or Ray workers: what is kept
    of it (its last checkpoint, which --resume continues: training.state.latest_resumable) and what to
    run; ``first`` goes before that ("restart the cluster and ")."""
    from training.state import latest_resumable

    if not cfg.out_dir:
        return ""
    ckpt = None
    try:
        ckpt = latest_resumable(cfg.out_dir, content=False)  # headers only: the line comes at once, for any model size
        kept = (f"the run's last checkpoint, {ckpt} (step {int(ckpt.name.split('-')[-1])}), is kept" if ckpt is not None
                else None)
    except ValueError:  # the newest is damaged: --resume names the intact one and what to do
        kept = f"the run's newest checkpoint in {cfg.out_dir} is damaged (--resume says which to continue from)"
    if kept is None:
        every = ("--checkpoint-every N keeps one every N steps" if not cfg.checkpoint_every
                 else f"--checkpoint-every {cfg.checkpoint_every}")
        return f" before the run's first checkpoint ({every}): {first}run the same command again"
    return f": {kept}: {first}run the same command with --resume{without_init_from(cfg, ckpt)} to continue from it"


def without_init_from(cfg: "TrainConfig", ckpt) -> str:
    """What what_is_kept's `--resume` needs added for a run begun with --init-from (``cfg.init_from``, or
    its checkpoint's training.json says so), as training.stopping.resume_advice words it for a stopped
    run (" and without --init-from, which this run began from (...)"); else "". The same command with
    --resume added is refused for such a run (`--resume and --init-from exclude each other`)."""
    from pathlib import Path

    from training.stopping import resume_advice, shell_word

    ckpt = Path(ckpt) if ckpt is not None else Path(cfg.out_dir) / "checkpoint"  # a damaged newest: cfg alone says
    return resume_advice(ckpt, cfg.init_from).partition(f"--resume --out-dir {shell_word(ckpt.parent)}")[2]


def restarted_attempt(cfg: "TrainConfig") -> "TrainConfig":
    """``cfg`` for a torchrun attempt after the first (`--max-restarts N`: torchrun starts every rank
    again when one fails; TORCHELASTIC_RESTART_COUNT > 0): with --resume where the run folder holds a
    checkpoint, so the attempt continues its run from there. It was refused ("already holds
    checkpoint-0000040 of an earlier run: --resume continues it"), and torchrun spent its restarts on
    that refusal. Every rank decides alike (the same folder, no rank writing while attempts start).
    Unchanged for the first attempt, a run given --resume or no --out-dir, and a folder with no
    checkpoint (the attempt starts the run again); a damaged newest checkpoint goes to --resume,
    whose refusal names the intact one."""
    import dataclasses
    import logging

    from training.state import latest_resumable

    try:
        attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0)
    except ValueError:
        attempt = 0
    if attempt <= 0 or cfg.resume or not cfg.out_dir or "TORCHELASTIC_RUN_ID" not in os.environ:
        return cfg
    try:
        ckpt = latest_resumable(cfg.out_dir, content=False)
    except ValueError:  # damaged: --resume says which to continue from
        ckpt = True
    if ckpt is None:
        return cfg
    if int(os.environ.get("RANK", "0") or 0) == 0:
        logging.getLogger("training.trainer").warning(
            "torchrun restart %d of this run (--max-restarts): continuing it from its last checkpoint, as --resume",
            attempt)
    return dataclasses.replace(cfg, resume=True)
