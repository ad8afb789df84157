"""What a resumed run trains with: its own settings, from the checkpoint, unless a flag changes one.

A bare ``--resume`` used to train on with the library defaults (batch 64, no token budget, lr 1e-3)
and a model built from them, which either crashed on loading the weights or continued a different
run than the one stopped. Here each setting that defines the run comes from the checkpoint's
``training.json`` unless the user gave it (``TrainConfig.given``: the CLI's flags, ``--config`` and
``--set`` keys; without that record, unless it differs from the default); a value given that differs is
either refused (another manifest, another architecture), applied with a warning (learning rate,
weight decay: the optimizer's restored state is updated), or kept with a warning that the
continuation is no longer the run that was stopped (the batch plan, the seed).
"""

from __future__ import annotations

import json
import logging
from dataclasses import fields, replace
from pathlib import Path

from training.stopping import shell_word

log = logging.getLogger(__name__)

ARCHITECTURE = ("model", "model_overrides")
OPTIMIZER = ("lr", "weight_decay", "warmup_steps", "grad_clip")  # take effect from the next step on
DATA_PLAN = ("batch_size", "tokens_per_batch", "bucket_ratio", "shuffle_buffer", "seed", "caption_dropout", "timesteps")
# how the run ran: num_threads and compile change the arithmetic (a bare --resume on torch's default
# threads was not bit-identical), the others its memory, files and speed; a bare --resume dropped them
RUN_SETTINGS = ("num_threads", "parallel", "compile", "loader_workers", "async_checkpoint", "tensorboard")
ADOPTED = ARCHITECTURE + OPTIMIZER + DATA_PLAN + RUN_SETTINGS + (
    "steps", "ema_decay", "log_every", "checkpoint_every", "keep_last", "precision", "grad_checkpointing",
    "max_nonfinite_steps", "max_seconds")  # max_seconds: each call's own clock, as the stopped call had (a job's slot)


def manifest_of_run_folder(out_dir: str | Path) -> str | None:
    """The manifest name the newest checkpoint of run folder ``out_dir`` records (training.json's
    train_config), or None: what `--resume --out-dir RUN` trains on when --manifest is left out (the
    version comes from the checkpoint, as for any --resume). Torch-free: the command line asks before
    its heavy imports."""
    import re

    from training.checkpoint_kind import refuse_a_checkpoint_as_run_folder

    refuse_a_checkpoint_as_run_folder(out_dir)  # a checkpoint's own training.json names a manifest too
    folder = Path(out_dir)
    found = sorted((p for p in folder.glob("checkpoint-*") if re.fullmatch(r"checkpoint-\d+", p.name)),
                   key=lambda p: int(p.name.split("-")[1]), reverse=True) if folder.is_dir() else []
    for ckpt in found:
        try:
            manifest = json.loads((ckpt / "training.json").read_text()).get("train_config", {}).get("manifest")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(manifest, str) and manifest:
            return manifest.split("@v")[0]
    return None


def saved_train_config(ckpt: Path) -> dict:
    from training.state import read_json

    info = ckpt / "training.json"
    return read_json(info).get("train_config", {}) if info.is_file() else {}


def run_settings(ckpt: Path) -> dict:
    """The settings ``ckpt``'s run trained with (training.json's ``train_config``), for --resume.
    Raises DamagedCheckpoint (a ValueError: one line) when it records none: every checkpoint is
    written with them, and without them a bare --resume trained on with the library's defaults
    (batch 64, lr 0.001, seed 0, ...) without a word, which continues another run."""
    from training.state import DamagedCheckpoint

    if saved := saved_train_config(ckpt):
        return saved
    info = ckpt / "training.json"
    raise DamagedCheckpoint(f"--resume: {ckpt} records none of its run's settings ({info} "
                            f"{'records no train_config' if info.is_file() else 'is missing'}), so the run cannot be "
                            "continued as it was; put that file back from a copy of the run, move the folder out of "
                            f"the run folder to continue from the checkpoint before it, or --init-from {shell_word(ckpt)} to start "
                            "a new stage from its weights")


def resumed_config(cfg, ckpt: Path, announce: bool = True):
    """``cfg`` with the stopped run's settings where the user did not give one. Raises
    ValueError for a change that cannot continue that run, or when the checkpoint records no
    settings (`run_settings`); warns about the others when ``announce`` (rank 0: under torchrun
    every rank resolves its config, and each printed the same lines)."""
    saved = run_settings(ckpt)
    if saved.get("manifest") and cfg.manifest and saved["manifest"].split("@v")[0] != cfg.manifest.split("@v")[0]:
        raise ValueError(f"--resume: {ckpt} was trained on manifest {saved['manifest']!r}, not {cfg.manifest!r}: its "
                         "data position belongs to that manifest (--init-from starts a new stage on another)")
    version = saved.get("manifest_version")
    asked = cfg.manifest_version or (int(cfg.manifest.split("@v")[1]) if "@v" in (cfg.manifest or "") else None)
    if version is not None and asked is not None and asked != version:
        raise ValueError(f"--resume: {ckpt} was trained on version {version} of manifest {saved['manifest']!r}, not "
                         f"{asked}: its data position belongs to that version (--init-from {shell_word(ckpt)} starts a new stage "
                         "on the newer one)")
    if version is not None and cfg.manifest_version is None:
        cfg = replace(cfg, manifest_version=version)  # not the newest version a refresh made since
    defaults = type(cfg)()
    names = {f.name for f in fields(cfg)}
    given = set(cfg.given) if getattr(cfg, "given", None) is not None else None
    adopted, changed = {}, []

    def not_given(name: str) -> bool:
        return (name not in given) if given is not None else (getattr(cfg, name) == getattr(defaults, name))

    for name in ADOPTED:
        if name not in saved or name not in names:
            continue
        mine, theirs = getattr(cfg, name), saved[name]
        if mine == theirs:
            continue
        if not_given(name):
            adopted[name] = theirs  # not given: the run's own
        elif name in ARCHITECTURE:
            # the model this resume would train: what was given, the run's own for what was not
            model, overrides = (saved.get(k, getattr(cfg, k)) if not_given(k) else getattr(cfg, k) for k in ARCHITECTURE)
            if differ := _model_differs(model, overrides, saved):
                raise ValueError(f"--resume: {ckpt} holds a {saved.get('model')} with overrides "
                                 f"{json.dumps(saved.get('model_overrides', {}))}; --{name.replace('_', '-')} "
                                 f"{json.dumps(mine)} describes another model ({differ}; leave it out to continue)")
        else:
            changed.append(f"{name} {theirs!r} -> {mine!r}")
    if adopted and announce:
        log.info("--resume: the run's own settings for what was not given: %s",
                 ", ".join(f"{k}={v!r}" for k, v in adopted.items()))
    plan = [c for c in changed if c.split()[0] in DATA_PLAN]
    if changed and announce:
        log.warning("--resume with changed settings: %s%s", ", ".join(changed),
                    "; the batches from here on are not those the stopped run would have trained on" if plan else "")
    try:
        return replace(cfg, **adopted)
    except ValueError as e:  # a value older code accepted (checkpoint_every -1 meant every step)
        raise ValueError(f"--resume: a setting saved in {ckpt}/training.json is no longer valid ({e}); give that "
                         "setting on the command line") from None


# FlagDiTConfig fields that are not the architecture a resume must keep: the data's, or a run setting
NOT_ARCHITECTURE = ("in_channels", "cap_dim", "frame_cond_dim", "grad_checkpointing")


def _model_differs(model: str, overrides: dict, saved: dict) -> str:
    """The model fields ``model`` with ``overrides`` sets otherwise than the stopped run's, as "dim 64;
    the checkpoint's: dim 32" ('' when both describe one model). The overrides were compared as
    written: a train.yaml that spelled out a default (qk_norm: layernorm), wrote patch_size 2 as
    [2, 2] or added grad_checkpointing (a memory setting) was refused as "another model". ``model``
    is the run's own where --model was left out: --model-overrides alone were read on the default
    preset, and a flag-dit-s run's own overrides refused as "dim 64; the checkpoint's: dim 384"."""
    from modelzoo.config import get_config

    def resolved(model: str, overrides: dict) -> dict:
        config = get_config(model, **{k: v for k, v in overrides.items() if k not in NOT_ARCHITECTURE})
        fields = {k: v for k, v in config.to_dict().items() if k not in NOT_ARCHITECTURE}
        return {**fields, "patch_size": list(config.patch_hw)}  # 2 is [2, 2]

    try:
        theirs = resolved(saved.get("model", model), saved.get("model_overrides", {}))
        mine = resolved(model, overrides)
    except (TypeError, ValueError, KeyError):  # TrainConfig checked them; whatever still fails is another model
        return f"model {model}"
    keys = [k for k in mine if mine[k] != theirs.get(k)]
    show = lambda d: ", ".join(f"{k} {json.dumps(d.get(k), default=str)}" for k in keys)  # noqa: E731
    return f"{show(mine)}; the checkpoint's: {show(theirs)}" if keys else ""


def resumed_launcher(cfg, ckpt: Path) -> None:
    """A bare --resume of a Ray Train run launches it again with its workers (they record
    launched_by "ray" and train with launcher local, so RUN_SETTINGS cannot carry it): set on ``cfg``
    unless --launcher was given; --workers given keeps its value. It trained on in one process."""
    saved = saved_train_config(ckpt)
    if saved.get("launched_by") != "ray" or cfg.launcher == "ray":
        return
    given = set(cfg.given) if getattr(cfg, "given", None) is not None else None
    if given is not None and "launcher" in given:
        return  # --launcher local asked for: one process, the same global batch
    import torch.distributed as dist

    if dist.is_torchelastic_launched():  # torchrun's processes are the launcher here
        return
    cfg.launcher = "ray"
    if given is None or "workers" not in given:
        cfg.workers = int(saved.get("workers", cfg.workers))
    log.info("--resume: the run trained in %d Ray Train workers: launching them again (--launcher local trains on in "
             "this process, with the same global batch)", cfg.workers)


def apply_optimizer_settings(cfg, opt, sched) -> None:
    """After restoring a checkpoint's optimizer and scheduler: the learning rate and weight decay
    of ``cfg`` (equal to the saved ones unless a flag changed them)."""
    for group in opt.param_groups:
        group["weight_decay"] = cfg.weight_decay
        group["initial_lr"] = cfg.lr
    sched.base_lrs = [cfg.lr for _ in opt.param_groups]
    for group, factor in zip(opt.param_groups, (f(sched.last_epoch) for f in sched.lr_lambdas)):
        group["lr"] = cfg.lr * factor


def nothing_to_train(cfg) -> dict | None:
    """For an entry point, before it registers a run: when ``cfg.resume`` finds its checkpoint at or
    past the step budget the resume would train to (``--steps`` if given, else the run's own),
    ``{"checkpoint", "steps", "nothing_to_train": message}``; else None. A no-op resume was recorded as
    a completed train run with no checkpoints and 0 tokens/s."""
    if not cfg.resume or not cfg.out_dir:
        return None
    from training.state import STATE_JSON, latest_resumable, read_json

    # a damaged or state-less newest one raises here, naming it; its content is compared by the entry
    # point (once, rank 0) and the trainer, so not again on every rank here
    ckpt = latest_resumable(cfg.out_dir, content=False)
    if ckpt is None:
        return None
    step = int(read_json(ckpt / STATE_JSON)["step"])
    saved = run_settings(ckpt)  # none recorded: refused here, before the entry point registers a run
    given = set(cfg.given) if getattr(cfg, "given", None) is not None else None
    adopted = ("steps" not in given) if given is not None else cfg.steps == type(cfg)().steps
    steps = int(saved["steps"]) if adopted and "steps" in saved else cfg.steps
    if step < steps:
        return None
    return {"checkpoint": str(ckpt), "steps": step,
            "nothing_to_train": f"--resume: {ckpt.name} is at step {step}, {'already' if step == steps else 'past'} "
                                f"--steps {steps}: nothing to train (raise --steps to go on)"}
