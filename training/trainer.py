"""Flow-matching training of a Flag-DiT on a catalog manifest, streamed from its encoded shards.

Runs without Prefect:
    python -m training.train --catalog lumina_home/catalog.duckdb --manifest demo-train --out runs/demo
    torchrun --nproc_per_node=2 -m training.train ...   # DDP: gloo on CPU, NCCL on GPU
    lumina train --manifest demo-train --launcher ray --workers 2

Every random draw of a step (timestep, noise, caption dropout, VAE sample) comes from a generator
seeded by (seed, step or epoch, sample): so a resumed run continues bit for bit, and N ranks see
exactly what one process sees with the same global batch.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from contracts.hold_points import hold_point
from training.buckets import BatchBudget
from training.checkpoint_kind import refuse_other_models, with_article
from training.checkpoint_writer import CheckpointWriter
from training.data import Example, NullCaption
from training.divergence import TrainingDiverged
from training.distributed import (all_max, all_sum, barrier, broadcast, full_state_dict, init_distributed, load_full_state,
                                  load_full_weights, start_single_process_group, wrap_model)
from training.ema import ModelEMA, _ema_update  # noqa: F401  (_ema_update: kept for importers)
from training.monitor import logging_above
from training.sharded_state import (checkpoint_stager, is_sharded, load_sharded, publish_weights, save_sharded,
                                    save_sharded_async)
from training.state import (CATALOG_ROWS, STATE_JSON, WRITE_ERRORS, DamagedCheckpoint, RunFolderInUse, RunFolderLock, check_weights,
                            checkpoint_dir, checkpoints, clear_unfinished, latest_resumable, load_tensors, optimizer_state,
                            prune, publish, read_json, read_state, refuse_if_in_use, restore_rng, state_tensors,
                            write_failed, write_state)
from training.stopping import STOP_FILE, StopRequest, remove_stop_file, resume_advice, stop_file_signal
from training.stream import (PLAN_VERSION, EpochHead, ManifestIndex, PlanSettings, Position, ShardStream, batch_loader,
                             mix_seed, replanned_head)
from training.resume_config import apply_optimizer_settings, resumed_config, saved_train_config
# torch-free (training/config.py), here for every importer of training.trainer
from training.config import (COMPILE_HELP, DATA_SIZED_FIELDS, MODEL_OVERRIDES_HELP, TrainConfig,  # noqa: F401
                             model_overrides_arg)


log = logging.getLogger(__name__)


def show_training_messages() -> None:
    """The trainer's INFO messages (what --resume continues, with which settings) on stderr, for the
    command lines; under a caller that configured logging (Prefect, pytest) its handlers decide."""
    from contracts.messages import show_messages

    show_messages("training")


def compile_blocks(model: torch.nn.Module, dynamic: bool | None = None) -> None:
    """Compile each of ``model.layers`` in place (``nn.Module.compile``): the blocks hold nearly all
    of a step's work and share one code object, so dynamo traces one graph for all of them, and the
    model's Python-heavy parts (patchify, masks, RoPE tables) stay eager. In place, so the state_dict
    keys stay the eager ones (no ``_orig_mod.``) and checkpoints load into an eager model.
    Call it after any ``copy.deepcopy`` of the model (the EMA): a copy would share the original
    blocks' compiled call. ``dynamic=None``: a new token count, batch size or the first attention
    mask recompiles once each, then runs dynamically."""
    for block in model.layers:
        block.compile(dynamic=dynamic)


@dataclass
class TrainResult:
    checkpoint: str  # directory: config.json + model.safetensors (EMA weights) + null_caption.npz + training.json
    steps: int
    seconds: float
    final_loss: float  # mean of the last log window
    losses: list[tuple[int, float]]
    manifest: str
    manifest_version: int
    checkpoints: list[str] = field(default_factory=list)  # written by this call, oldest first
    metrics_csv: str | None = None
    loss_curve: str | None = None
    padding_fraction: float = 0.0  # [PAD] tokens / padded tokens of the global batches trained on (not a mean of steps)
    tokens_per_second: float = 0.0  # real (non-[PAD]) tokens per second of the steps (checkpoints' time left out), all ranks
    stopped_by: str | None = None  # before `steps`: "max_seconds", or the signal's name ("SIGTERM", "SIGINT")
    skipped_steps: int = 0  # steps of this call whose update was skipped for a non-finite gradient norm
    checkpoint_seconds: float = 0.0  # the training loop's time in checkpoints (with async_checkpoint: the copies and waits)
    # after --resume, the step this call began at: seconds, tokens_per_second, padding_fraction,
    # skipped_steps and checkpoints cover this call (steps since it), while steps, losses and metrics.csv's seconds are the run's
    resumed_from_step: int | None = None


# on_checkpoint(folder, step, log-window summaries since the previous checkpoint): rank 0, once the folder is complete.
# The folder records those summaries too (train_state.json's CATALOG_ROWS): a --resume hands the hook the
# folder it continues with no rows, and the hook brings in whichever of its recorded ones it lacks (a kill
# between publishing the folder and registering it lost them)
CheckpointHook = Callable[[str, int, list[dict]], None]


class TokenCount:
    """A sample's tokens for this model config (picklable for loader workers)."""

    def __init__(self, config):
        self.config = config

    def __call__(self, shape: tuple[int, ...]) -> int:
        from modelzoo import FlagDiT

        return FlagDiT.seq_len(self, shape)


def over_half(index, tokens_of: Callable[[tuple[int, ...]], int], max_tokens: int | None) -> tuple[int, int] | None:
    """(samples, the longest's tokens) of the manifest's samples over half of `max_tokens`, which no
    other sample fits beside, from the shapes the catalog records; None when none is, or it is not known."""
    counts = getattr(index, "shape_counts", None)  # None: an index built without the catalog
    if max_tokens is None or not counts:
        return None
    over = [(tokens, n) for tokens, n in ((tokens_of(shape), n) for shape, n in counts.items())
            if 2 * tokens > max_tokens]
    return (sum(n for _, n in over), max(t for t, _ in over)) if over else None


def make_inputs(item: dict, null: NullCaption, fm, cfg: TrainConfig, step: int) -> tuple:
    """(x1, x0, t, model kwargs) of one rank's share of a step. Each sample draws its timestep,
    noise and caption dropout from a generator seeded by (seed, step, position in the global
    batch), whichever rank holds it."""
    batch = item["batch"]
    x1 = batch["x1"]
    xs = list(x1) if isinstance(x1, torch.Tensor) else x1
    ts, x0s, drops = [], [], []
    for pos, x in zip(item["positions"], xs):
        g = torch.Generator().manual_seed(mix_seed(cfg.seed, step, pos))
        ts.append(fm.sample_t(1, generator=g))
        x0s.append(torch.randn(x.shape, generator=g))
        drops.append(bool(torch.rand(1, generator=g) < cfg.caption_dropout))
    t = torch.cat(ts)
    x0 = torch.stack(x0s) if isinstance(x1, torch.Tensor) else x0s
    feats, mask = batch["cap_feats"].clone(), batch["cap_mask"].clone()
    drop = torch.tensor(drops, dtype=torch.bool)
    if drop.any():
        feats[drop], mask[drop] = null.expand(int(drop.sum()))
    kwargs = {"cap_feats": feats, "cap_mask": mask}
    if "frame_cond" in batch:
        kwargs["frame_cond"] = batch["frame_cond"]
    return x1, x0, t, kwargs


def _load_null_caption(path: str) -> NullCaption:
    """--null-caption, or one line naming it: a file that is not one said "This file contains pickled
    (object) data ... allow_pickle=" (or a bare "[Errno 2] No such file or directory"); a plain .npy
    (np.save's) loads as one array, which a name cannot index (IndexError)."""
    try:
        return NullCaption.load(path)
    except (OSError, ValueError, KeyError, IndexError) as e:
        raise ValueError(f"--null-caption {path}: not a null caption's .npz (cap_feats and cap_mask, as lumina encode "
                         f"writes under <home>/encoders/<text encoder>/null_caption.npz): {e}") from None


def _check_null_caption(null: NullCaption, first: Example, path: str) -> None:
    """The null caption replaces dropped captions in place, so it must have their shape: another text
    encoder's (phone features [256, 215] beside MiniLM's [32, 384]) was a RuntimeError traceback at the
    first step that dropped a caption ("shape mismatch: value tensor of shape [4, 256, 215] ...")."""
    if tuple(null.cap_feats.shape) != tuple(first.cap_feats.shape):
        raise ValueError(f"--null-caption {path} holds caption features of shape {list(null.cap_feats.shape)}, this "
                         f"manifest's are {list(first.cap_feats.shape)} (tokens, width): it is another text encoder's; "
                         "leave --null-caption out (the workspace's for the manifest's encoder is taken) or give that "
                         "encoder's null_caption.npz")


def _to(x, device: torch.device):
    if isinstance(x, list):
        return [v.to(device, non_blocking=True) for v in x]
    return x.to(device, non_blocking=True)


def train(cfg: TrainConfig, on_checkpoint: CheckpointHook | None = None) -> TrainResult:
    rank, world, device = init_distributed()
    lock = RunFolderLock(cfg.out_dir) if rank == 0 and cfg.out_dir else None
    try:
        _lock_run_folder(lock)  # before anything in the folder is read, cleared or written
        # the newest checkpoint; one without its resume state, or damaged, is refused with the way on
        resume_from = (verified_once(lambda content: latest_resumable(cfg.out_dir, content=content), cfg, rank)
                       if cfg.resume and cfg.out_dir else None)
        if resume_from is not None:  # the stopped run's own settings (parallel too), unless a flag changes one
            cfg = resumed_config(cfg, resume_from, announce=rank == 0)
        own_group = cfg.parallel == "fsdp" and start_single_process_group(device)  # FSDP2 under plain `python`
        try:
            with StopRequest() as stop_request:  # SIGTERM/SIGINT: finish the step, checkpoint, stop
                return _train(cfg, on_checkpoint, rank, world, device, stop_request, resume_from)
        finally:
            if own_group:
                torch.distributed.destroy_process_group()
    finally:
        if lock is not None:
            lock.release()


def verified_once(check: Callable[[bool], object], cfg: TrainConfig, rank: int):
    """``check(content)`` of a checkpoint (`latest_resumable`, `check_weights`) on every rank, its
    checksums compared (the whole checkpoint read) only on rank 0, and not in a Ray Train worker, whose
    driver compared them before it started the workers (ray_launcher.train_with_ray); the other ranks
    check headers only and raise rank 0's refusal (or their own: a file only they cannot read), so
    none goes on to wait for rank 0 in a collective. Every rank and every worker read the checkpoint
    whole before, each one its own copy of the work."""
    verify = rank == 0 and cfg.launched_by != "ray"
    refusal, out = None, None
    try:
        out = check(verify)
    except DamagedCheckpoint as e:
        refusal = str(e)
    said = broadcast(refusal)
    if said or refusal:
        raise DamagedCheckpoint(said or refusal)
    return out


def _lock_run_folder(lock: RunFolderLock | None) -> None:
    """Rank 0 locks the run folder (`RunFolderLock`); every rank raises its refusal, so none is left
    waiting for rank 0 in a collective."""
    refusal = None
    if lock is not None:
        try:
            lock.acquire()
        except RunFolderInUse as e:
            refusal = str(e)
    refusal = broadcast(refusal)
    if refusal:
        raise RunFolderInUse(refusal)


def _train(cfg: TrainConfig, on_checkpoint: CheckpointHook | None, rank: int, world: int,
           device: torch.device, stop_request: StopRequest, resume_from: Path | None) -> TrainResult:
    from catalog import load_manifest_header
    from modelzoo import FlagDiT, FlowMatching, get_config

    if cfg.num_threads:  # after --resume has taken the run's own
        torch.set_num_threads(cfg.num_threads)
    if cfg.init_from:  # another model's folder, or a damaged file: one line saying so, before anything is built
        refuse_other_models(Path(cfg.init_from), "--init-from")
        verified_once(lambda content: check_weights(cfg.init_from, content=content), cfg, rank)
    head = load_manifest_header(cfg.catalog, cfg.manifest, cfg.manifest_version)
    if not head.num_members:
        raise ValueError(f"manifest {cfg.manifest!r} is empty")
    members, manifest_id = head.num_members, head.id
    if rank == 0:
        _say_retired_manifest(cfg.catalog, head)
    # Streaming keeps only the key index, read from the catalog in batches: the whole manifest as
    # Python objects (about 1 KB per member) never exists, on any rank.
    index = ManifestIndex.from_catalog(cfg.catalog, head.name, head.version)
    index.check_shards()  # a shard deleted or cut since it was encoded: named now, not hours in
    encoders, mname, mversion = head.encoders, head.name, head.version
    null = _load_null_caption(cfg.null_caption)
    budget = BatchBudget(max_tokens=cfg.tokens_per_batch, max_samples=cfg.batch_size, bucket_ratio=cfg.bucket_ratio)

    # The model's input size comes from the first stored sample; its tokens from the model config.
    probe = ShardStream(index, budget, lambda shape: 1, cfg.seed)
    first = probe.example(probe.first_ref(), 0)
    _check_null_caption(null, first, cfg.null_caption)
    overrides = {**cfg.model_overrides, **({"grad_checkpointing": True} if cfg.grad_checkpointing else {})}
    if first.frame_cond is not None:  # per-frame conditioning in the data (multi-view cameras): the model takes it
        overrides.setdefault("frame_cond_dim", first.frame_cond.shape[-1])
    if resume_from is not None or cfg.init_from:  # the model the weights belong to, as saved with them
        model_cfg = saved_model_config(cfg, resume_from, first, overrides)
        if cfg.init_from and rank == 0:
            warn_other_encoders(Path(cfg.init_from), encoders, head.id)
        if cfg.init_from and (start := saved_train_config(Path(cfg.init_from))):  # recorded as what it is
            cfg = dataclasses.replace(cfg, model=start.get("model", cfg.model),
                                      model_overrides=start.get("model_overrides", cfg.model_overrides))
        elif cfg.init_from:  # a converted release: its config.json, as overrides of the preset named
            preset, saved = get_config(cfg.model).to_dict(), model_cfg.to_dict()
            from_data = ("in_channels", "cap_dim", "frame_cond_dim", "grad_checkpointing")
            cfg = dataclasses.replace(cfg, model_overrides={k: v for k, v in saved.items()
                                                            if k not in from_data and preset.get(k) != v})
    else:
        model_cfg = get_config(cfg.model, in_channels=first.latent.shape[0], cap_dim=first.cap_feats.shape[-1], **overrides)
    torch.manual_seed(cfg.seed)  # initial weights: the same on every rank and in every re-run
    model = FlagDiT(model_cfg)
    if cfg.init_from:
        model.load_state_dict(load_tensors(Path(cfg.init_from) / "model.safetensors"), strict=True)
        if rank == 0:
            log.info("--init-from: a new stage from the weights of %s (dim %d, %d layer%s); the optimizer, "
                     "schedule and data start afresh", cfg.init_from, model_cfg.dim, model_cfg.n_layers,
                     "" if model_cfg.n_layers == 1 else "s")
    model.to(device)
    ema = ModelEMA(model, cfg.ema_decay)
    bf16 = cfg.precision == "bf16"
    net = wrap_model(model, world, cfg.parallel, device, bf16)
    if cfg.parallel == "fsdp":  # sharded like the model: no rank holds the whole EMA, no gather per step
        wrap_model(ema.module, world, "fsdp", device, bf16=False)
    if cfg.compile:  # after the EMA's deepcopy and after FSDP's per-block fully_shard
        compile_blocks(model)
    # fused: the per-tensor loop costs more than forward and backward together on CPU
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=cfg.parallel != "fsdp")
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, cfg.warmup_steps)))
    fm = FlowMatching(timesteps=cfg.timesteps)

    step, position, losses, window = 0, Position(), [], []
    padded_seen = 0  # padded tokens of this call's steps: its padding_fraction is 1 - tokens_seen / padded_seen
    head: EpochHead | None = None  # how the current epoch began, if a resume changed its plan's settings
    resumed_window_rows: list[dict] = []
    resumed_epoch: dict | None = None
    seconds_before = 0.0
    nonfinite_before = 0  # non-finite steps in a row up to the checkpoint a resume continues
    shapes: Counter = Counter()  # latent shapes trained on (rank 0's share): the most common is the checkpoint's latent_shape
    out_dir = Path(cfg.out_dir)
    if rank == 0 and (stale := clear_unfinished(out_dir)):
        log.warning("deleted %d half-written checkpoint folder(s) a stopped run left: %s", len(stale),
                    ", ".join(p.name for p in stale))
    barrier()
    check_run_folder(out_dir, cfg.resume, resume_from, check_lock=False)  # rank 0 holds the lock
    if cfg.resume:
        ckpt = resume_from  # found before the model was built (clearing half-written folders keeps it)
        if is_sharded(ckpt):  # an FSDP2 run's: any number of ranks, or one process, reads it
            info = read_json(ckpt / STATE_JSON)
            load_sharded(ckpt, model, opt, info["param_groups"], ema.module)
        else:
            tensors, info = read_state(ckpt)
            load_full_state(model, opt, cfg.parallel, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")},
                            optimizer_state(tensors, info))
            load_full_weights(ema.module, load_tensors(ckpt / "model.safetensors"))
            restore_rng(tensors)
        sched.load_state_dict(info["scheduler"])
        apply_optimizer_settings(cfg, opt, sched)  # a changed --lr or --weight-decay takes effect now
        step, position = info["step"], Position(*info["position"])
        losses, window = [tuple(x) for x in info["losses"]], info["window"]
        resumed_window_rows = info.get("window_rows", [])  # the catalog's summary of the open log window
        resumed_epoch = info.get("epoch_batches")  # the figures of the epoch it stopped inside, so far
        seconds_before = info.get("seconds", 0.0)  # the run's training time so far: metrics' seconds go on from it
        nonfinite_before = info.get("nonfinite_run", 0)  # a streak across a stop counts whole
        shapes.update({tuple(shape): n for shape, n in info.get("shape_counts", [])})
        if rank == 0:  # a bare --resume may pick a run folder from the catalog: say which
            # "batch 1 of it" read as mid-epoch where an epoch is one batch: it counts the batches done
            log.info("--resume: continuing %s from step %d (epoch %d, %d of its batches done) on %s@v%s", ckpt, step,
                     position.epoch, position.index, mname, mversion)
            if (before := info.get("world_size")) is not None and before != world:  # torchrun's --nproc_per_node changed
                log.info("--resume: the run trained on %d process(es) up to step %d and goes on with %d: the batches stay the "
                         "same (--batch-size and --tokens-per-batch are per step, each process takes its share of a batch)",
                         before, step, world)
        head = replanned_head(EpochHead.from_json(info.get("epoch_head")), position,
                              stopped_run_plan(saved_train_config(ckpt), cfg, budget), PlanSettings(cfg.seed, cfg.shuffle_buffer, budget))
        if rank == 0 and head is not None and head.segments and step < cfg.steps and position.index:
            log.info("--resume: the rest of epoch %d is planned with the new batch settings over the samples its first "
                     "%d batches have not drawn, so each sample still comes once in it", position.epoch, position.index)
        if rank == 0 and step < cfg.steps and "plan_version" not in info:
            # plan versions are recorded since ff86a6d; plan 2 came in d311934, earlier that day (plan 3 later)
            log.warning("--resume: %s records no batch plan (saved before 2026-12-04 23:00 UTC), so it was saved under "
                        "plan 1 or 2 (now %d): the rest of epoch %d is planned anew from batch %d, so some of its "
                        "samples may come twice or not at all and the run is not bit-identical to one never stopped; "
                        "later epochs are unaffected", ckpt.name, PLAN_VERSION, position.epoch, position.index)
        elif rank == 0 and step < cfg.steps and info["plan_version"] != PLAN_VERSION:
            log.warning("--resume: %s was saved by a lumina whose batch plan differs (plan %d, now %d): the rest of "
                        "epoch %d is planned anew from batch %d, so some of its samples may come twice or not at all "
                        "and the run is not bit-identical to one never stopped; later epochs are unaffected",
                        ckpt.name, info["plan_version"], PLAN_VERSION, position.epoch, position.index)
        if rank == 0 and step >= cfg.steps:
            log.warning("--resume: %s is at step %d, %s --steps %d: nothing to train (raise --steps to go on)",
                        ckpt.name, step, "already" if step == cfg.steps else "past", cfg.steps)
        if rank == 0 and on_checkpoint is not None:
            # a kill between publishing this folder and registering it would otherwise lose its row and
            # its log windows' rows (the hook takes those the folder records, CATALOG_ROWS, that it lacks);
            # registration is idempotent by folder, so a registered one is left as it is
            on_checkpoint(str(ckpt), step, [])

    stream = ShardStream(index, budget, TokenCount(model_cfg), cfg.seed, cfg.shuffle_buffer)
    stream.head = head
    if rank == 0 and members < cfg.batch_size and cfg.tokens_per_batch is None:  # a step was not what was asked
        _say_small_manifest(stream, manifest_id, members, cfg.batch_size)
    monitor = batch_log = None
    if rank == 0:
        from training.monitor import BatchLog, EpochBatches, RunMonitor

        monitor = RunMonitor(out_dir, start_step=step, tensorboard=cfg.tensorboard)
        # how each epoch's batches were formed: the log, TensorBoard
        batch_log = BatchLog(cfg.tokens_per_batch, over_half(index, stream.tokens_of, cfg.tokens_per_batch),
                             EpochBatches(**resumed_epoch) if resumed_epoch else None)
    pending_rows: list[dict] = []  # one summary per log window, for the catalog
    window_rows: list[dict] = list(resumed_window_rows)
    written: list[str] = []  # published, oldest first (a write in flight is not here yet)
    ctx = dict(cfg=cfg, epoch_head=head, encoders=encoders, manifest=(mname, mversion), latent_shape=list(first.latent.shape), shapes=shapes,
               world=world, batch_log=batch_log)
    writer = CheckpointWriter(asynchronous=cfg.async_checkpoint)
    if cfg.async_checkpoint and cfg.parallel == "fsdp":  # every rank, in the same order
        ctx["checkpoint_group"] = torch.distributed.new_group(backend="gloo")
        ctx["checkpoint_stager"] = checkpoint_stager()
    checkpoint_seconds = 0.0
    # the step of the last checkpoint begun, the same on every rank; a resumed run's is the one it
    # read (resumed at or past --steps, nothing is rewritten)
    checkpointed_at = step if cfg.resume else None

    def checkpoint(wait: bool = False) -> None:
        """Write (or start writing) this step's checkpoint; rank 0 registers it once it is published."""
        nonlocal checkpoint_seconds, checkpointed_at
        t0 = time.perf_counter()
        checkpointed_at = step
        at, rows = step, list(pending_rows)  # the callback may run after training has moved on
        ctx["nonfinite_run"] = nonfinite_run
        ctx["catalog_rows"] = rows  # recorded in the folder too: a --resume registers those a kill lost
        pending_rows.clear()

        def published(path: str) -> None:
            written.append(path)
            prune(out_dir, cfg.keep_last)  # 0 keeps every checkpoint
            if on_checkpoint is not None:
                on_checkpoint(path, at, rows)

        _save_checkpoint(out_dir, step, rank, model, ema, opt, sched, position, losses, window, window_rows, ctx, writer,
                         published if rank == 0 else None)
        if monitor is not None and step < cfg.steps:  # the curve so far (the last one is drawn at the end)
            monitor.plot(at_most_every_s=60)
        if wait:
            writer.wait()
        checkpoint_seconds += time.perf_counter() - t0

    def close_window() -> bool:
        """End a log window: its mean loss (unless every step was skipped) and its catalog summary."""
        nonlocal window, window_rows
        applied = bool(window)
        if applied:
            losses.append((step, sum(window) / len(window)))
        pending_rows.append(_summary(window_rows))
        window, window_rows = [], []
        return applied

    if rank == 0 and stop_file_signal(out_dir):
        log.warning("%s is there already: this run stops after its first step (remove it to train on)", out_dir / STOP_FILE)
    start = time.time()
    ctx["run_seconds"] = run_seconds = lambda: seconds_before + time.time() - start  # noqa: E731
    first_step = step
    tokens_seen = 0
    out_of_time = lambda: cfg.max_seconds is not None and time.time() - start > cfg.max_seconds  # noqa: E731
    stop_code = 0  # agreed by all ranks after every step: 0 go on, 1 out of time, else the signal's number
    skipped, nonfinite_run, longest_over_budget = 0, nonfinite_before, 0
    bar = tqdm(total=cfg.steps, initial=step, desc=_bar_description(cfg.max_seconds, start), unit="step",
               disable=rank != 0 or not cfg.progress)
    lines_above_the_bar = logging_above(bar)
    lines_above_the_bar.__enter__()  # left in the finally below
    # its workers start here, next to the try whose finally closes it (an error setting up the monitor or
    # the checkpoint writer left them to the garbage collector)
    loader = batch_loader(stream, position, rank, world, cfg.loader_workers)
    try:
        while step < cfg.steps and not stop_code:
            t0 = time.time()
            item = next(loader)
            if rank == 0 and cfg.tokens_per_batch and item["tokens"] > max(cfg.tokens_per_batch, longest_over_budget):
                # a batch over budget holds one sample longer than it (the batcher never splits one); said again
                # only for a longer one, so the last such line names the longest met so far
                log.warning("a sample of %d tokens is longer than --tokens-per-batch %d: such samples train one per batch, "
                            "each over the budget; raise --tokens-per-batch to at least the longest sample's tokens "
                            "(said again only for a longer sample)", item["tokens"], cfg.tokens_per_batch)
                longest_over_budget = item["tokens"]
            position = Position(item["position"].epoch, item["position"].index + 1)
            x1, x0, t, kwargs = make_inputs(item, null, fm, cfg, step)
            if rank == 0:
                shapes.update([tuple(x1.shape[1:])] * len(x1) if isinstance(x1, torch.Tensor) else [tuple(x.shape) for x in x1])
            x1, x0, t = _to(x1, device), _to(x0, device), t.to(device)
            kwargs = {k: _to(v, device) for k, v in kwargs.items()}
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                per_sample = fm.training_loss(net, x1, t=t, x0=x0, reduce=False, **kwargs)
            per_sample = per_sample * item["weights"].to(per_sample.device)  # a rank's stand-in sample counts zero
            # DDP averages gradients over ranks: scale so the result is the mean over the global batch.
            loss = per_sample.sum() * (world / item["global_size"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            lr = opt.param_groups[0]["lr"]
            # the norm is global (DDP: gradients already averaged; FSDP2: reduced over shards), so
            # every rank takes the same decision
            finite = bool(torch.isfinite(grad_norm))
            if finite:
                opt.step()
                nonfinite_run = 0
            else:  # applying it would turn every weight NaN
                opt.zero_grad(set_to_none=True)
                skipped, nonfinite_run = skipped + 1, nonfinite_run + 1
                log.warning("step %d: the gradient norm is %s, so the update is skipped (%s)", step + 1, float(grad_norm),
                            _suspects(item["keys"], per_sample.detach(), model))
                if nonfinite_run > cfg.max_nonfinite_steps:
                    last = written[-1] if written else (str(resume_from) if cfg.resume else "none yet")  # a resume's own is one
                    step_loss = (all_sum(per_sample.detach().sum().float()) / item["global_size"]).item()  # every rank
                    if monitor is not None:  # the step that stopped the run, in metrics.csv and the curve
                        monitor.log({"step": step + 1, "loss": step_loss, "grad_norm": float(grad_norm),
                                     "lr": lr, "padding": item["padding"], "tokens_per_s": 0.0,
                                     "samples": item["global_size"], "seconds": run_seconds()})
                    raise TrainingDiverged(
                        f"{nonfinite_run} steps in a row (to step {step + 1}) had a non-finite gradient norm: the run "
                        f"has diverged or its data is broken. Last checkpoint: {last}. Lower --lr or --grad-clip, or "
                        "check the samples named in the warnings above")
            sched.step()
            ema.update(model, step)
            step += 1
            global_loss = (all_sum(per_sample.detach().sum().float()) / item["global_size"]).item()
            if finite:  # a skipped step's loss is in metrics.csv, not in the window means
                window.append(global_loss)
            tokens_seen += item["tokens"]
            padded_seen += item["padded_tokens"]
            # tokens and padded_tokens: for the window's [PAD] share (`_summary`); metrics.csv and TensorBoard take `FIELDS`
            row = {"step": step, "loss": global_loss, "grad_norm": float(grad_norm), "lr": lr, "padding": item["padding"],
                   "tokens_per_s": item["tokens"] / max(time.time() - t0, 1e-9), "samples": item["global_size"],
                   "seconds": run_seconds(), "tokens": item["tokens"], "padded_tokens": item["padded_tokens"]}
            bar.update(1)
            window_rows.append(row)
            if monitor is not None:
                monitor.log(row)
            if batch_log is not None and (ended := batch_log.add(item)) is not None:
                monitor.log_epoch(step, ended)
            if step % cfg.log_every == 0 or step == cfg.steps:
                if close_window():
                    bar.set_postfix(loss=f"{losses[-1][1]:.4f}", pad=f"{pending_rows[-1]['padding_fraction']:.1%}")  # the window's
                    if rank == 0 and not cfg.progress:  # no bar to show the window: a line (a log file reads this)
                        w = pending_rows[-1]
                        log.info("step %d/%d  loss %.4f  grad norm %.3g  lr %.3g  %.0f tokens/s  [PAD] %.1f%%", step, cfg.steps,
                                 w["train_fm_loss"], w["grad_norm"], w["lr"], w["tokens_per_s"], 100 * w["padding_fraction"])
                if batch_log is not None:  # the epochs that ended in the window: one line
                    batch_log.say(log)
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < cfg.steps:
                checkpoint()
            # one decision for all ranks: a rank that stopped alone would leave the others waiting
            # in the next step's all-reduce
            local = stop_request.signum or (stop_file_signal(out_dir) if rank == 0 else 0) or (1 if out_of_time() else 0)
            stop_code = int(all_max(torch.tensor(local, device=device)).item())
            if stop_code > 1 and rank == 0 and step < cfg.steps:
                # the run ends as that signal would (exit code, messages); say where the request came from
                how = (f"{_signal_name(stop_code)} received" if stop_request.signum
                       else f"{out_dir / STOP_FILE}, standing for {_signal_name(stop_code)}" if stop_file_signal(out_dir)
                       else f"{_signal_name(stop_code)} on another rank")
                log.warning("stop requested (%s): stopping after step %d with a checkpoint (a signal from now on stops at once)",
                            how, step)
        bar.close()
        if batch_log is not None:  # what is left unsaid, and the epoch the run stops inside
            batch_log.say(log, run_ended=True)
        seconds = time.time() - start
        # tokens/s of the steps: periodic checkpoints' time left out (a run checkpointing every few
        # steps read as a slower step, and two runs' figures differed by their --checkpoint-every)
        step_seconds = seconds - checkpoint_seconds
        # Stopped inside a log window: it stays open, saved with the checkpoint, and a --resume
        # closes it at its boundary, so the catalog's windows are those of a run never stopped
        # (closing it here added a short window at the stop and another after the resume).
        # The result still reports its mean as the latest loss, and the catalog gets its summary so
        # far, which the window's row at its boundary replaces (same window_start).
        partial = [(step, sum(window) / len(window))] if window and step < cfg.steps else []
        open_window = [_summary(window_rows)] if window_rows and step < cfg.steps else []
        if stop_code > 1 and rank == 0:
            remove_stop_file(out_dir)
        t0 = time.perf_counter()
        writer.wait()  # the last periodic checkpoint: published (or its error raised) before the final one
        checkpoint_seconds += time.perf_counter() - t0
        final = str(checkpoint_dir(out_dir, step))
        # not `written`: only rank 0 publishes, and every rank must take this decision alike
        if checkpointed_at != step:
            pending_rows.extend(open_window)
            checkpoint(wait=True)
        elif open_window and rank == 0 and on_checkpoint is not None:  # stopped right after a periodic checkpoint
            on_checkpoint(final, step, open_window)
        if stop_code > 1 and step < cfg.steps:  # a second signal from here on ends the run naming this checkpoint
            stop_request.stop_checkpoint_written(step, final)
    finally:  # stop the read-ahead thread now, also when a step raised (a traceback would keep it polling)
        lines_above_the_bar.__exit__(None, None, None)
        if hasattr(loader, "close"):
            loader.close()
        writer.close()
        if "checkpoint_stager" in ctx:
            ctx["checkpoint_stager"].close()  # its CPU copy of the state
        # the curve and metrics.csv are closed also when a step raised: a diverged run's are what explains it
        curve = monitor.close() if monitor is not None else None
    barrier()
    stopped_by = None
    if step < cfg.steps:
        stopped_by = "max_seconds" if stop_code == 1 else _signal_name(stop_code)
        if stop_code == 1 and rank == 0:  # a time-boxed slot ended: the run is not done, say how it goes on
            # a stage begun with --init-from is resumed without it (--set init_from=null where its --config holds it)
            log.info("--max-seconds %g reached at step %d of %d; checkpoint %s is written: %s", cfg.max_seconds, step,
                     cfg.steps, final, resume_advice(final, cfg.init_from))
    reported = losses + partial
    return TrainResult(final, step, seconds, reported[-1][1] if reported else math.nan, reported, mname, mversion,
                       checkpoints=written, metrics_csv=str(out_dir / "metrics.csv"), loss_curve=str(curve) if curve else None,
                       padding_fraction=1 - tokens_seen / padded_seen if padded_seen else 0.0,  # [PAD] / padded tokens
                       tokens_per_second=tokens_seen / step_seconds if step > first_step and step_seconds > 0 else 0.0,
                       stopped_by=stopped_by, skipped_steps=skipped, checkpoint_seconds=checkpoint_seconds,
                       resumed_from_step=first_step if cfg.resume else None)


def _say_retired_manifest(catalog: str | None, head) -> None:
    """A manifest version none of whose members is accepted now: a refresh retired them all (every
    file deleted or edited), the version still lists them, and the run trains on them as frozen. Said
    as the refresh says it of a live manifest it emptied (flows/refresh.py: emptied_live_notes); not
    refused: a frozen version is what an earlier run is reproduced from."""
    from catalog.manifest import members_not_accepted

    if members_not_accepted(catalog, head.name, head.version) < head.num_members:
        return
    log.warning("manifest %s: none of its %d members is accepted now (removed or superseded by a refresh since "
                "this version was frozen): this run trains on them as they were frozen; if their files were "
                "deleted by mistake, put them back and refresh the source (that revives them), else train another "
                "manifest", head.id, head.num_members)


def _say_small_manifest(stream: ShardStream, manifest_id: str, members: int, batch_size: int) -> None:
    """A manifest smaller than the batch size, said with the batches it makes: its epoch plan (every
    epoch's alike: no bucket fills, so every sample is a leftover packed by length), not "all of
    it" where lengths split it (a 21-member manifest of two image sizes was batches of 20 and 1)."""
    probe = ShardStream(stream.index, stream.budget, stream.tokens_of, stream.seed, stream.shuffle_buffer)
    probe.says_missing = False  # the loader says it
    try:
        sizes = sorted((len(b) for b in probe.epoch_plan(0)), reverse=True)
    finally:
        probe.reader.close()
    if len(sizes) <= 1:
        log.warning("manifest %s has %d members, fewer than batch_size %d: every batch holds all %d", manifest_id,
                    members, batch_size, members)
        return
    listed = ", ".join(map(str, sizes[:-1])) + f" and {sizes[-1]}"
    log.warning("manifest %s has %d members, fewer than batch_size %d: each epoch is %d batches, of %s samples "
                "(samples of different token counts are batched apart, to keep [PAD] low)", manifest_id, members,
                batch_size, len(sizes), listed)


def warn_other_encoders(folder: Path, encoders: dict[str, str], manifest_id: str) -> None:
    """--init-from weights trained on latents or captions of other encoders than the manifest's: the
    shapes match (two SD-style VAEs both give 4 channels, two sentence encoders may both give 384),
    so they loaded without a word, and the new stage fitted weights of another latent space. A
    warning, not a refusal: changing encoders between stages can be meant. A converted release
    records no encoders."""
    info = folder / "training.json"
    try:
        theirs = read_json(info).get("encoders") if info.is_file() else None
    except (OSError, ValueError):
        return
    if not isinstance(theirs, dict):
        return
    differ = [f"{kind} {theirs[kind]}, here {encoders[kind]}" for kind in ("latent", "text")
              if theirs.get(kind) and encoders.get(kind) and theirs[kind] != encoders[kind]]
    if differ:
        log.warning("--init-from %s was trained on other encodings than manifest %s (%s): its weights were fitted to "
                    "that encoder's features and start this stage from them; to keep a stage on the same features, "
                    "encode the manifest's samples with the checkpoint's encoders", folder, manifest_id, "; ".join(differ))


def _asked_model_differs(cfg: TrainConfig, saved) -> str:
    """What --model/--model-overrides describe that the --init-from checkpoint's model is not, as
    "dim 64, n_layers 2; the checkpoint's: dim 32, n_layers 1" ('' when they describe it, or were
    not given). The flags' preset was compared with the library default, not with the checkpoint's
    model: one YAML for every stage (``model: flag-dit-s``, the same overrides) was warned about
    as "--model/--model-overrides (flag-dit-s) are not used" although it described the model used."""
    from modelzoo import get_config

    asked_model = ("model" in cfg.given) if cfg.given is not None else cfg.model != TrainConfig.model
    if not asked_model and not cfg.model_overrides:
        return ""
    from_data = ("in_channels", "cap_dim", "frame_cond_dim", "grad_checkpointing")  # the data's, or a run setting
    theirs = {**saved.to_dict(), "patch_size": list(saved.patch_hw)}  # 2 is [2, 2]: no warning between them
    try:
        asked_cfg = get_config(cfg.model, **{**cfg.model_overrides, **{k: getattr(saved, k) for k in from_data}})
    except (TypeError, ValueError):  # TrainConfig checked them; whatever still fails describes another model
        return cfg.model
    asked = {**asked_cfg.to_dict(), "patch_size": list(asked_cfg.patch_hw)}
    keys = [k for k in asked if k not in from_data and asked[k] != theirs.get(k)]
    if not keys:
        return ""
    show = lambda d: ", ".join(f"{k} {d.get(k)}" for k in keys)  # noqa: E731
    return f"{show(asked)}; the checkpoint's: {show(theirs)}"


def saved_model_config(cfg: TrainConfig, resume_from: Path | None, first, overrides: dict):
    """--resume or --init-from: the model config saved beside the weights (architecture and
    conventions such as time_scale and patch order, which shapes alone do not pin down; a converted
    release's too), checked against the data."""
    from modelzoo import FlagDiTConfig

    folder, flag = (resume_from, "--resume") if resume_from is not None else (Path(cfg.init_from), "--init-from")
    saved = FlagDiTConfig.from_dict(read_json(folder / "config.json"))
    if resume_from is None and (differ := _asked_model_differs(cfg, saved)):
        log.warning("--init-from: the model is the one saved in %s/config.json; --model/--model-overrides (%s) are "
                    "not used", folder, differ)
    channels, cap_dim = first.latent.shape[0], first.cap_feats.shape[-1]
    frame_cond = overrides.get("frame_cond_dim", 0)
    if (saved.in_channels, saved.cap_dim, saved.frame_cond_dim) != (channels, cap_dim, frame_cond):
        theirs = read_json(folder / "training.json").get("modality") if (folder / "training.json").is_file() else None
        if theirs and cfg.modality and theirs != cfg.modality:  # no encoding makes a camera or frame input match
            raise ValueError(f"{flag} {folder}: it is {with_article(theirs)} model and this manifest holds {cfg.modality} samples, "
                             f"whose inputs it does not take ({saved.in_channels}-channel latents and frame conditioning "
                             f"of width {saved.frame_cond_dim}; here {channels} and {frame_cond}): start from "
                             f"{with_article(cfg.modality)} checkpoint, or without {flag}")
        raise ValueError(f"{flag} {folder}: its model takes {saved.in_channels}-channel latents, {saved.cap_dim}-wide "
                         f"caption features and frame conditioning of width {saved.frame_cond_dim}; this manifest has "
                         f"{channels}, {cap_dim} and {frame_cond} (encode with the encoders it was trained with)")
    return dataclasses.replace(saved, grad_checkpointing=bool(overrides.get("grad_checkpointing", saved.grad_checkpointing)))


def _suspects(keys: list[str], per_sample: torch.Tensor, model: torch.nn.Module | None = None) -> str:
    """Who to look at after a non-finite step: the weights, when they are not finite (a damaged
    checkpoint resumed from, an update that overflowed: every loss is then NaN, and naming the
    samples sent users to their data); else the samples whose own loss is not finite (samples do
    not mix in the forward), else, as for an overflow in the backward, this rank's whole share."""
    if model is not None and (weights := _non_finite_weights(model)):
        return (f"the model's weights hold NaN or inf ({_listed(weights, 3)}), so every loss does, whatever the data: "
                "the checkpoint this run started from is damaged, or an earlier update overflowed")
    bad = [k for k, finite in zip(keys, torch.isfinite(per_sample.float()).tolist()) if not finite]
    return f"samples with a non-finite loss: {_listed(bad)}" if bad else f"every loss is finite; this rank's share: {_listed(keys)}"


def _non_finite_weights(model: torch.nn.Module) -> list[str]:
    """The parameters holding a NaN or inf (under FSDP2, in this rank's shard): after a non-finite step only."""
    return [name for name, p in model.named_parameters()
            if not bool(torch.isfinite((p.to_local() if hasattr(p, "to_local") else p).detach()).all())]


def _listed(names: list[str], at_most: int = 8) -> str:
    return ", ".join(names[:at_most]) + (f" and {len(names) - at_most} more" if len(names) > at_most else "")


def _signal_name(signum: int) -> str:
    import signal

    return signal.Signals(signum).name


def _summary(rows: list[dict]) -> dict:
    """A log window as catalog metrics: mean loss (train_fm_loss, as before), grad norm, tokens/s (the
    window's throughput), padding_fraction ([PAD] as a share of the window's padded tokens, as the epoch lines say it: the
    mean of the steps' fractions weighed a small batch as much as a full one; a window begun in a
    checkpoint written before rows carried token counts keeps that mean); the learning rate at its
    last step. ``step`` and ``window_start`` (its first step) say which steps it covers: a window
    still open has the same start as its closed self."""
    mean = lambda k: sum(r[k] for r in rows) / len(rows)  # noqa: E731
    padded = sum(r["padded_tokens"] for r in rows) if all("padded_tokens" in r for r in rows) else 0
    applied = [r for r in rows if math.isfinite(r["grad_norm"])]  # skipped steps' NaNs stay out of the means
    out = {"step": rows[-1]["step"], "window_start": rows[0]["step"],
           "train_fm_loss": sum(r["loss"] for r in applied) / len(applied) if applied else math.nan,
           "grad_norm": sum(r["grad_norm"] for r in applied) / len(applied) if applied else math.nan, "lr": rows[-1]["lr"],
           "tokens_per_s": _window_tokens_per_s(rows) or mean("tokens_per_s"),
           "padding_fraction": 1 - sum(r["tokens"] for r in rows) / padded if padded else mean("padding")}
    if len(applied) < len(rows):
        out["skipped_steps"] = len(rows) - len(applied)
    return out


def _bar_description(max_seconds: float | None, start: float) -> str:
    """The progress bar's label: with --max-seconds, the time this call stops (at the step boundary after
    it, with a checkpoint). The bar's ETA is for --steps alone: a 3-s slot of a 100,000-step run showed
    only 'ETA 31:56' and stopped 3 s later."""
    if max_seconds is None:
        return "train"
    try:
        stops_at = time.localtime(start + max_seconds)
    except (OverflowError, OSError, ValueError):  # inf, 1e18: a limit no clock reaches, accepted as none
        return "train"
    # another day's 09:00 read as today's: a 3-day run's label gives the date too
    shown = "%H:%M:%S" if stops_at[:3] == time.localtime(start)[:3] else "%Y-%m-%d %H:%M:%S"
    return f"train (--max-seconds: stops at {time.strftime(shown, stops_at)})"


def _window_tokens_per_s(rows: list[dict]) -> float | None:
    """The window's throughput: its real tokens over its steps' time (each step's time is its tokens
    over its tokens_per_s), as the run's tokens_per_second is. The mean of the steps' rates, as before,
    weighed a 2-sample step as much as a 9-sample one: a window of steps of 9, 9, 2, 9 and 9 samples
    read 28,948 tokens/s where it trained 24,724 a second. None where a row lacks its tokens (a window
    begun in a checkpoint written before rows carried them) or a rate."""
    if not all(r.get("tokens") and r.get("tokens_per_s") for r in rows):
        return None
    return sum(r["tokens"] for r in rows) / sum(r["tokens"] / r["tokens_per_s"] for r in rows)


def check_run_folder(out_dir: Path, resume: bool, resume_from: Path | None, check_lock: bool = True) -> None:
    """What a run folder refuses before any training (lumina train checks it before it records a run):
    one another training process holds (RunFolderInUse; ``check_lock=False`` for the holder itself);
    --resume with nothing to resume; a new run where an earlier one's checkpoints are, which it would
    overwrite under the same names."""
    from training.checkpoint_kind import refuse_a_checkpoint_as_run_folder

    refuse_a_checkpoint_as_run_folder(out_dir)  # lumina train asks before it makes the folder
    if check_lock and _launch_rank() == 0:  # torchrun's other ranks check too: their probes must not refuse rank 0's
        refuse_if_in_use(out_dir)  # a job submitted twice; the trainer's lock is what holds it
    if resume and resume_from is None:
        # a job script that always passes --resume meets this at its first launch: say how to start
        raise FileNotFoundError(f"--resume: no resumable checkpoint under {out_dir} "
                                f"({'it holds no checkpoint-N folder' if out_dir.is_dir() else 'no such folder'}): leave out "
                                "--resume to start a run there, or give the --out-dir of the run to continue")
    if not resume and (earlier := checkpoints(out_dir)):
        raise FileExistsError(f"{out_dir} already holds {earlier[-1].name} of an earlier run: --resume continues it, "
                              "another --out-dir starts a new one")


def _launch_rank() -> int:
    """This process's rank as its launcher set it (torchrun's RANK), before any process group."""
    import os

    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def stopped_run_plan(saved: dict, cfg: "TrainConfig", budget: BatchBudget) -> PlanSettings:
    """The plan settings of the run a resume continues, from its training.json (this run's where
    it records none)."""
    get = lambda name, now: saved.get(name, now)  # noqa: E731
    return PlanSettings(get("seed", cfg.seed), get("shuffle_buffer", cfg.shuffle_buffer),
                        BatchBudget(max_tokens=get("tokens_per_batch", cfg.tokens_per_batch),
                                    max_samples=get("batch_size", cfg.batch_size),
                                    bucket_ratio=get("bucket_ratio", cfg.bucket_ratio), min_samples=budget.min_samples))


def _save_checkpoint(out_dir: Path, step: int, rank: int, model, ema: ModelEMA, opt, sched, position: Position,
                     losses: list, window: list, window_rows: list[dict], ctx: dict, writer: CheckpointWriter,
                     published: Callable[[str], None] | None) -> None:
    """Every rank calls this; rank 0 calls `published(folder)` once the folder is complete. FSDP2:
    each rank writes its own shards of the training state, and rank 0 assembles the EMA weights
    from them on disk. Otherwise rank 0 writes whole tensors, through `writer`: now, or from a
    snapshot in the background."""
    cfg: TrainConfig = ctx["cfg"]
    final = checkpoint_dir(out_dir, step)
    writer.wait()  # the previous write's error, if any, before this one's folder is made (it was left behind empty)
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(broadcast(tempfile.mkdtemp(prefix=f".{final.name}-", dir=out_dir) if rank == 0 else None))
    state = {"step": step, "position": [position.epoch, position.index], "plan_version": PLAN_VERSION, "scheduler": copy.deepcopy(sched.state_dict()),
             "losses": list(losses), "window": list(window), "window_rows": [dict(r) for r in window_rows],
             "seconds": ctx["run_seconds"](), "shape_counts": [[list(k), n] for k, n in ctx.get("shapes", Counter()).most_common(64)],
             "nonfinite_run": ctx.get("nonfinite_run", 0), CATALOG_ROWS: [dict(r) for r in ctx.get("catalog_rows", [])],
             "world_size": ctx.get("world", 1)}
    if (head := ctx.get("epoch_head")) is not None and head.epoch == position.epoch:  # still inside the re-planned epoch
        state["epoch_head"] = head.to_json()
    if (batch_log := ctx.get("batch_log")) is not None and (open_epoch := batch_log.open_epoch()) is not None:
        state["epoch_batches"] = open_epoch  # rank 0's: a --resume sums the whole epoch up, as a straight run does
    name, version = ctx["manifest"]
    # the shape lumina sample draws by default: the most common one trained on (the first sample's before a step)
    common = [[list(k), n] for k, n in ctx.get("shapes", Counter()).most_common(8)]
    info = {"train_config": asdict(cfg), "modality": cfg.modality, "manifest": name, "manifest_version": version,
            "encoders": ctx["encoders"], "latent_shape": common[0][0] if common else ctx["latent_shape"],
            "latent_shapes": common, "steps": step, "losses": list(losses)}
    if cfg.parallel == "fsdp":
        def publish_sharded() -> None:  # rank 0, once every rank's shards are on disk
            try:
                ema.module.save_config(tmp)
                publish_weights(tmp, list(ema.module.state_dict()))
                _write_beside(tmp, cfg, ctx, info)
                from training.sharded_state import shard_record  # every rank's files and their checksums, checked before a resume
                state.update(shard_record(tmp))
                (tmp / STATE_JSON).write_text(json.dumps(state, indent=1, default=str))
                publish(tmp, final)
            except WRITE_ERRORS as e:
                raise write_failed(out_dir, final, tmp, e) from e
            published(str(final))

        if writer.asynchronous:
            writer.wait()  # on every rank: the previous save's collectives are over before this one's begin
            saved, groups = save_sharded_async(tmp, model, opt, ema.module, ctx["checkpoint_group"],
                                                 ctx["checkpoint_stager"])
            state.update(sharded=True, param_groups=groups)
            writer.submit(lambda: (saved.result(), publish_sharded() if rank == 0 else None))
            return
        state.update(sharded=True, param_groups=save_sharded(tmp, model, opt, ema.module))
        if rank == 0:
            publish_sharded()
        barrier()
        return
    # asynchronous: staged straight from the device into the writer's buffers (one copy, not two)
    tensors, opt_info = state_tensors(full_state_dict(model, cpu_offload=not writer.asynchronous), opt.state_dict())
    if rank == 0:
        # a write in the background must not read tensors training goes on updating
        tensors = writer.stage(tensors, "state")
        weights = {k: v.contiguous() for k, v in writer.stage(ema.module.state_dict(), "ema").items()}
        opt_info = copy.deepcopy(opt_info)

        def write() -> None:
            from safetensors.torch import save_file

            try:
                ema.module.save_config(tmp)  # as save_pretrained, from the snapshot
                save_file(weights, str(tmp / "model.safetensors"), metadata={"format": "pt"})
                _write_beside(tmp, cfg, ctx, info)
                write_state(tmp, tensors, {**state, **opt_info})
                hold_point("train.checkpoint-written")  # the folder whole under its temporary name, not published (a fault test's kill)
                publish(tmp, final)
            except WRITE_ERRORS as e:  # a full disk: one line with the way on, not the writer's traceback
                raise write_failed(out_dir, final, tmp, e) from e
            published(str(final))

        writer.submit(write)
    barrier()


def _write_beside(tmp: Path, cfg: "TrainConfig", ctx: dict, info: dict) -> None:
    """What a checkpoint carries besides weights and state: null caption, encoder infos, training.json."""
    shutil.copy(cfg.null_caption, tmp / "null_caption.npz")
    _copy_encoder_infos(Path(cfg.null_caption).parent.parent, ctx["encoders"], tmp)
    (tmp / "training.json").write_text(json.dumps(info, indent=1))


def _copy_encoder_infos(encoders_dir: Path, fingerprints: dict[str, str], ckpt: Path) -> None:
    """The checkpoint carries how to reload its encoders (decoding, `lumina sample`): self-contained."""
    from contracts.layout import safe_name

    for kind, fp in fingerprints.items():
        info = encoders_dir / safe_name(fp) / "encoder.json"
        if info.exists():
            shutil.copy(info, ckpt / f"{kind}_encoder.json")
