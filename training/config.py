"""The trainer's options (TrainConfig) and the flags built from them, without torch: `lumina train
--help`, `python -m training.train --help` and their refusals (an unknown option, a bad value)
import this module only, and the trainer (training/trainer.py, which re-exports every name here)
only once the arguments are checked. The model check (TrainConfig._check_model) imports
modelzoo.config when a TrainConfig is made."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field

COMPILE_HELP = ("torch.compile every transformer block before training (default: off). Faster steps "
                "(bench/bench_step.py --compile) for a one-off compile of tens of seconds to minutes on CPU, "
                "cached by Inductor for later runs; checkpoints keep the eager state_dict keys")


MODEL_OVERRIDES_HELP = 'JSON object of FlagDiTConfig fields, e.g. \'{"dim": 256, "n_layers": 6}\' (keys in double quotes)'


def model_overrides_arg(text: str) -> dict:
    """argparse type of --model-overrides: a JSON object; anything else is one line saying so (argparse's
    own "invalid loads value" did not say the value must be JSON)."""
    import argparse

    try:
        value = json.loads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"must be a JSON object with double-quoted keys, e.g. '{{\"dim\": 256, "
                                         f"\"n_layers\": 6}}'; got {text!r} ({e})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object of model fields, e.g. '{{\"dim\": 256}}'; got {text!r}")
    return value


@dataclass
class TrainConfig:
    manifest: str = ""  # the training selection in the catalog: name or name@vN
    catalog: str | None = None  # default: the workspace's catalog.duckdb
    out_dir: str | None = None  # default: <home>/runs/<run id>
    null_caption: str | None = None  # .npz with the text encoder's features for ""; default: the workspace's, by fingerprint
    manifest_version: int | None = None  # default: the newest (or the N of name@vN)
    modality: str | None = None  # checked against the manifest's samples (default: theirs)
    model: str = "flag-dit-tiny"  # a size in modelzoo.config.CONFIGS: flag-dit-tiny, -s, -b, -600m, -2b, -5b, -7b, -t2v-2b, -t2mv-2b, -t2speech
    model_overrides: dict = field(default_factory=dict)
    steps: int = 1000  # optimizer steps in all (a resumed run counts the steps already done)
    max_seconds: float | None = None  # wall-clock seconds for this call, positive (a resumed call counts from its own start): it stops at steps or here, whichever comes first, with a checkpoint
    batch_size: int = 64  # samples per global batch (all ranks together); with tokens_per_batch: an upper bound
    lr: float = 1e-3  # small models on small data tolerate a larger rate than the paper's 1e-4
    warmup_steps: int = 50  # linear warm-up of the learning rate, then constant
    weight_decay: float = 0.0  # AdamW's decoupled weight decay
    grad_clip: float = 2.0  # the gradient's global norm is clipped to this
    # a step whose gradient norm is inf/NaN (a broken sample, an overflow) is skipped, not applied;
    # more than this many in a row stop the run with an error (it has diverged)
    max_nonfinite_steps: int = 3
    ema_decay: float = 0.999  # upper bound; 0.9999 in the paper is for 100k+ steps
    caption_dropout: float = 0.1  # each sample's chance that its caption is replaced by the null caption, so guidance has an unconditional model
    timesteps: str = "logit_normal"  # how t is drawn: logit_normal (the paper's) or uniform
    seed: int = 0  # initial weights, and each sample's timestep, noise and caption dropout
    log_every: int = 25  # steps per log window (loss, grad norm, lr, tokens/s, [PAD] share)
    num_threads: int | None = None  # torch threads per process; default: torch's own
    # data (issue 11)
    tokens_per_batch: int | None = None  # padded tokens per global batch; None: batch_size samples
    bucket_ratio: float | None = 1.02  # longest/shortest tokens in a bucket; None: no buckets
    shuffle_buffer: int = 1024  # samples (references only) shuffled across shard boundaries
    loader_workers: int = 0  # DataLoader processes per rank; 0 reads in the training process
    # checkpoints and resume
    checkpoint_every: int = 0  # steps; 0: only the final checkpoint
    keep_last: int = 3  # checkpoints kept on disk, 0: all (the catalog keeps every registration)
    resume: bool = False  # continue from the newest resumable checkpoint in out_dir (without out_dir: the manifest's newest run in the catalog that stopped before its steps, else its newest)
    async_checkpoint: bool = field(default=False, metadata={"help": (
        "write checkpoints in a background thread at the lowest CPU priority: training waits only for "
        "an in-memory copy of the state (one more copy of weights, EMA and AdamW moments, kept for the "
        "run). Pays where a core is free for the writer (GPU training, or --num-threads below the "
        "cores): 1.32x here; a CPU run on every core gained nothing (bench/bench_async_checkpoint.py). "
        "FSDP2 runs stage and write through torch.distributed.checkpoint.async_save (default: off)")})
    init_from: str | None = None  # checkpoint (folder or catalog id) whose weights start a new stage (fresh optimizer and data)
    # scale
    launcher: str = field(default="local", metadata={"help": "local: this process, or each torchrun process; "
                                                             "ray: Ray Train, --workers processes (default: local)"})
    workers: int = 2  # Ray Train workers
    parallel: str = field(default="ddp", metadata={"help": "ddp, or fsdp: FSDP2 fully_shard per block "
                                                           "(gloo on CPU, NCCL on GPU) (default: ddp)"})
    precision: str = field(default="fp32", metadata={"help": "fp32, or bf16: autocast; with fsdp bf16 parameters "
                                                             "and fp32 gradient reduction (default: fp32)"})
    grad_checkpointing: bool = False  # recompute each block in backward
    # torch.compile each transformer block in place (compile_blocks): faster steps after a compile
    # of tens of seconds to minutes on CPU (cached by Inductor for later runs); off for the demos
    compile: bool = field(default=False, metadata={"help": COMPILE_HELP})
    tensorboard: bool = True  # TensorBoard event files in <out_dir>/tensorboard (metrics.csv is written either way)
    progress: bool = True  # a progress bar with ETA on rank 0
    # the options a user set (the CLI records its flags, --config and --set keys): --resume takes
    # every other setting from the checkpoint. None (a library call): those that differ from the defaults
    given: tuple[str, ...] | None = field(default=None, metadata={"internal": True})
    # "ray" in a Ray Train worker's config (which trains with launcher local): recorded in training.json,
    # so a bare --resume launches the run as it ran (resume_config.resumed_launcher)
    launched_by: str | None = field(default=None, metadata={"internal": True})

    def __post_init__(self) -> None:
        # a typo such as precision="bf-16" would otherwise train in fp32 without a word
        for name, allowed in (("launcher", ("local", "ray")), ("parallel", ("ddp", "fsdp")), ("precision", ("fp32", "bf16"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        # numbers out of range would fail deep in the loop (log_every 0) or do something else than
        # asked (checkpoint_every -1 checkpointed every step)
        for name, low, why in (("steps", 1, " (a run of 0 steps registered its random weights as a checkpoint)"),
                               ("batch_size", 1, ""), ("log_every", 1, ""),
                               ("shuffle_buffer", 1, " (1: each shard's samples in file order)"),
                               ("checkpoint_every", 0, " (0: only the final checkpoint)"),
                               ("keep_last", 0, " (0: keep every checkpoint)"), ("warmup_steps", 0, ""),
                               ("loader_workers", 0, ""), ("workers", 1, ""), ("max_nonfinite_steps", 0, "")):
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be at least {low}{why}; got {getattr(self, name)}")
        if self.resume and self.init_from:  # resume loaded its own weights over init_from's without a word
            # a stopped --init-from run's own command line with --resume added: say which flag to drop
            raise ValueError("--resume and --init-from exclude each other: --resume continues a run with its own weights, "
                             "optimizer and data position; --init-from starts a new run from a checkpoint's weights: "
                             "leave out --init-from (an init_from: in the --config file: add --set init_from=null) to "
                             "continue the stopped run (a run begun with --init-from keeps training its own weights), or "
                             "leave out --resume (and any --out-dir of the stopped run) to start a new stage")
        self._check_seed_threads_timesteps()
        if self.max_seconds is not None and not self.max_seconds > 0:  # 0 trained one step and ended "completed"
            raise ValueError(f"max_seconds must be positive (or unset: no time limit); got {self.max_seconds}")
        if self.tokens_per_batch is not None and self.tokens_per_batch < 1:
            raise ValueError(f"tokens_per_batch must be at least 1 (or unset: batch_size samples); got {self.tokens_per_batch}")
        if self.bucket_ratio is not None and not self.bucket_ratio > 1:  # nan too: int(nan) at the first batch
            raise ValueError(f"bucket_ratio must be greater than 1 (or unset: no buckets); got {self.bucket_ratio}")
        for name, low, high in (("caption_dropout", 0.0, 1.0), ("ema_decay", 0.0, 1.0)):
            if not low <= getattr(self, name) <= high:
                raise ValueError(f"{name} must lie in [{low:g}, {high:g}]; got {getattr(self, name)}")
        # an infinite lr or weight decay made every weight -inf at the first AdamW step; grad_clip .inf is "no clipping"
        if not (0 < self.lr < math.inf and self.grad_clip > 0 and 0 <= self.weight_decay < math.inf):
            raise ValueError(f"lr and grad_clip must be positive and weight_decay not negative (lr and weight_decay finite); got "
                             f"{self.lr}, {self.grad_clip}, {self.weight_decay}")
        if self.given is not None and "workers" in self.given and self.launcher != "ray":
            # it was dropped without a word: the local launcher trains in this process (torchrun: one per process)
            raise ValueError(f"workers {self.workers} needs --launcher ray (Ray Train workers); without it training runs "
                             "in this process (for several processes on one machine: torchrun --nproc_per_node=N -m "
                             "training.train ...)")
        self._check_model()

    def _check_seed_threads_timesteps(self) -> None:
        """These failed inside the run, after its folder and catalog row were made: a seed of -1 as numpy's
        bare "expected non-negative integer", num_threads -2 as a traceback (0 silently meant torch's
        default), timesteps 'foo' as "'foo' is not a valid TimestepSampling"."""
        if not 0 <= self.seed <= MAX_SEED:  # torch.manual_seed takes no more (and numpy nothing negative)
            raise ValueError(f"seed must be between 0 and {MAX_SEED} (2**63 - 1); got {self.seed}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError(f"num_threads must be at least 1 (or unset: torch's own); got {self.num_threads}")
        if self.timesteps not in TIMESTEPS:
            raise ValueError(f"timesteps must be one of {', '.join(TIMESTEPS)}; got {self.timesteps!r}")

    def _check_model(self) -> None:
        """The model and its overrides, checked before any run is registered: an unknown field ended in
        a traceback from inside the run, and n_layers 0 trained a model without blocks."""
        import warnings

        from modelzoo.config import CONFIGS, check_name, check_overrides

        check_name(self.model)
        if not isinstance(self.model_overrides, dict):
            raise ValueError(f"model_overrides must be a JSON object of FlagDiTConfig fields, e.g. "
                             f'{{"dim": 256, "n_layers": 6}}; got {self.model_overrides!r}')
        check_overrides(self.model_overrides)
        if from_data := sorted(set(self.model_overrides) & set(DATA_SIZED_FIELDS)):
            # passed twice to get_config: a TypeError traceback from inside the run
            raise ValueError(f"model_overrides cannot set {' or '.join(from_data)}: "
                             + "; ".join(DATA_SIZED_FIELDS[k] for k in from_data))
        try:
            with warnings.catch_warnings():  # the data's channels are not known yet: its warnings come with the model
                warnings.simplefilter("ignore")
                dataclasses.replace(CONFIGS[self.model], **self.model_overrides)
        except (TypeError, ValueError) as e:
            raise ValueError(f"model {self.model} with model_overrides {json.dumps(self.model_overrides, default=str)}: {e}") from None


MAX_SEED = 2**63 - 1
# modelzoo.transport.flow_matching.TimestepSampling's values (not imported: it needs torch)
TIMESTEPS = ("logit_normal", "uniform")

# model fields the manifest's data sizes, not the user (why, for the refusal)
DATA_SIZED_FIELDS = {"in_channels": "in_channels comes from the manifest's latents (their channels)",
                     "cap_dim": "cap_dim comes from the manifest's caption features (the text encoder's width)",
                     # on an image manifest it failed at step 1 with "this model has frame_cond_dim > 0: pass frame_cond"
                     "frame_cond_dim": "frame_cond_dim comes from the manifest's per-frame conditioning (its width; "
                                       "none where the samples have no per-frame conditioning)"}
