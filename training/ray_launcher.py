"""`lumina train --launcher ray --workers N`: the same train() in N Ray Train workers (DDP).

Ray Train starts the process group (gloo on CPU, NCCL with GPUs) and places the workers across the
cluster's machines; each worker runs training.trainer.train, rank 0 writes and registers the
checkpoints (the catalog and out_dir must be on storage every worker reaches, as on one machine).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import os
import shutil
import threading
import warnings
from dataclasses import asdict, replace
from pathlib import Path

from contracts.ray_runtime import NoRayCluster, RayClusterLost
from training.distributed import what_is_kept
from training.stopping import StopRequest, remove_stop_file, write_stop_file
from training.trainer import CheckpointHook, TrainConfig, TrainResult


log = logging.getLogger(__name__)


class RayWorkerLost(NoRayCluster):
    """A Ray Train worker's process died mid-training (kill -9, the OOM killer, a crash) or stopped
    answering Ray Train's health check, the cluster still up: one line, exit 2, as a lost cluster's.
    A NoRayCluster for flows.cli.user_errors, not a RayClusterLost: lumina ends at once after that one
    (os._exit, skipping Ray's shutdown against a dead cluster), which on a live private Ray left its
    dashboard and runtime-env agents behind for about 90 s."""


class RayNodeLost(RayWorkerLost):
    """The Ray node this command runs on died mid-training (its raylet stopped or crashed), or Ray Train's
    controller actor on it did, while the cluster's GCS still answers: one line, exit 2, as a lost
    worker's (see controller_lost)."""


RESULT_FILE = "ray_result.json"  # rank 0's TrainResult, beside the checkpoints (Ray Train v2 keeps metrics only with checkpoints)
# rank 0's `training` messages (INFO and up) and Python warnings, one JSON object a line, kept across
# launches into the folder (each tags its own; at most the last contracts.messages.KEEP_LAUNCHES
# launches', see launch_messages): the driver follows it and logs them again (Ray does not forward
# the workers' output, see follow_progress)
MESSAGES_FILE = "messages.jsonl"
WINDOW_LINE = "step %d/%d  loss"  # how the trainer's line per log window (--no-progress) begins


def _worker_loop(config: dict) -> None:
    import json

    import ray.train

    from training.trainer import train

    cfg = config["cfg"]
    rank = ray.train.get_context().get_world_rank()
    with rank_0_messages(cfg.out_dir, **config["messages"]) if rank == 0 else contextlib.nullcontext():
        result = train(cfg, on_checkpoint=config["hook"] if rank == 0 else None)
    if rank == 0:
        ids = list(getattr(config["hook"], "checkpoint_ids", []) or [])
        (Path(cfg.out_dir) / RESULT_FILE).write_text(json.dumps({"result": asdict(result), "checkpoint_ids": ids}, default=str))


@contextlib.contextmanager
def rank_0_messages(out_dir: str, tag: str, window_lines: bool):
    """Rank 0's `training` records, INFO and up, and its Python warnings, into the run folder's
    MESSAGES_FILE while it trains, tagged with its launch: the epoch lines, the batch warnings, the
    --resume lines a local run shows. ``window_lines``: with the line of each log window
    (--no-progress; the workers always train without a bar), else without it (the driver's bar
    shows the window). The `training` logger's level and warnings.showwarning are put back after."""
    from contracts.messages import RecordsToFile

    drop = None if window_lines else (lambda r: r.name == "training.trainer" and str(r.msg).startswith(WINDOW_LINE))
    handler = RecordsToFile(Path(out_dir) / MESSAGES_FILE, tag, drop=drop)
    logger = logging.getLogger("training")
    level = logger.level
    if not logger.isEnabledFor(logging.INFO):  # a worker's loggers show WARNING and up, as Python's default
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    # Python warnings too (modelzoo's patch_dim note, a library's deprecation): a local run prints
    # them on stderr, which Ray does not forward; `py.warnings` records while it trains, as
    # logging.captureWarnings makes them
    warnings_log, shown = logging.getLogger("py.warnings"), warnings.showwarning  # put back after the run

    def as_record(message, category, filename, lineno, file=None, line=None) -> None:
        if file is not None:  # one shown to a given file goes there (as captureWarnings leaves it)
            shown(message, category, filename, lineno, file, line)
        else:
            warnings_log.warning(str(warnings.formatwarning(message, category, filename, lineno, line)))

    warnings.showwarning = as_record
    warnings_log.addHandler(handler)
    try:
        yield
    finally:
        warnings_log.removeHandler(handler)
        warnings.showwarning = shown
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()


def launch_messages(out_dir: str, tag: str):
    """The driver's contracts.messages.ReplayedRecords of the run folder's MESSAGES_FILE for the
    launch ``tag``, made before its workers start: from the file's end. The file is first bounded
    (contracts.messages.keep_last_launches: the lines of the KEEP_LAUNCHES - 1 launches before this
    one), unless a training process holds the folder (its rank 0 may be writing to the file; this
    launch's rank 0 will be refused the folder)."""
    from contracts.messages import KEEP_LAUNCHES, ReplayedRecords, keep_last_launches
    from training.state import RunFolderInUse, refuse_if_in_use

    path = Path(out_dir) / MESSAGES_FILE
    try:
        refuse_if_in_use(out_dir)
    except RunFolderInUse:
        pass
    else:
        keep_last_launches(path, KEEP_LAUNCHES - 1)
    return ReplayedRecords(path, tag)


def check_cluster_fits(workers: int) -> None:
    """A worker takes a CPU: more workers than the cluster's CPUs waited for a placement forever
    (Ctrl-C only wrote the STOP file no worker existed to read). The private Ray is sized to fit."""
    import ray

    cpus = int(ray.cluster_resources().get("CPU", 0))
    if cpus < workers:
        raise ValueError(f"--workers {workers} needs {workers} CPUs (one per Ray Train worker); the Ray cluster has "
                         f"{cpus}: give --workers {max(cpus, 1)} or fewer, or add nodes")


def _worker_config(cfg):
    """What each worker trains with: in its own process (local), without a bar; `workers` no longer
    counts as given (TrainConfig refuses --workers without --launcher ray); launched_by records the
    launcher in training.json for a bare --resume."""
    given = None if cfg.given is None else tuple(g for g in cfg.given if g != "workers")
    return replace(cfg, launcher="local", progress=False, given=given, launched_by="ray")


def train_with_ray(cfg: TrainConfig, on_checkpoint: CheckpointHook | None = None, address: str | None = None) -> tuple[TrainResult, list[str]]:
    """Train in cfg.workers Ray workers; returns rank 0's result and the catalog ids its hook recorded."""
    import uuid

    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig

    from training.distributed import collective_timeout

    from contracts.ray_runtime import ensure_ray, started_private_ray

    verify_checkpoints(cfg)
    timeout = collective_timeout()  # Ray Train starts the process group: $LUMINA_COLLECTIVE_TIMEOUT_S goes to it
    ensure_ray(address, num_cpus=max(os.cpu_count() or 1, cfg.workers + 1))
    check_cluster_fits(cfg.workers)
    use_gpu = _cluster_has_gpus()  # FSDP2 runs on CPU workers too (gloo)
    tag = uuid.uuid4().hex  # this launch's messages: an earlier one's in the same file are not shown again
    messages = launch_messages(cfg.out_dir, tag)  # from the file's end now
    trainer = trainer_class()(
        _worker_loop,
        # the workers' own bars and log lines go nowhere (their output is not forwarded): the driver
        # draws one bar, and shows rank 0's messages from MESSAGES_FILE
        train_loop_config={"cfg": _worker_config(cfg), "hook": on_checkpoint,
                           "messages": {"tag": tag, "window_lines": not cfg.progress}},
        scaling_config=ScalingConfig(num_workers=cfg.workers, use_gpu=use_gpu, resources_per_worker={"CPU": 1}),
        torch_config=TorchConfig(**({"timeout_s": max(1, math.ceil(timeout.total_seconds()))} if timeout else {})),
        run_config=RunConfig(name="train", storage_path=str(Path(cfg.out_dir).resolve() / "ray")),  # = storage below
    )
    # The workers train in threads, where no signal handler can go: a signalled driver asks them to
    # stop through the run folder's STOP file, and they checkpoint at the next step boundary.
    storage = Path(cfg.out_dir).resolve() / "ray"
    with ray_train_env(started_private_ray()), StopRequest(on_first=lambda signum: write_stop_file(cfg.out_dir, signum)), follow_progress(cfg, messages=messages):
        try:
            fit_watched(trainer, cfg)
        finally:  # a failed run too (a worker lost, a user error): the run folder shows only the run
            remove_if_only_markers(storage)
    remove_stop_file(cfg.out_dir)  # served, or too late (the workers had finished): not for a later --resume
    import json

    metrics = json.loads((Path(cfg.out_dir) / RESULT_FILE).read_text())
    r = metrics["result"]
    r["losses"] = [tuple(x) for x in r["losses"]]
    return TrainResult(**r), metrics.get("checkpoint_ids", [])


def trainer_class():
    """Ray Train's TorchTrainer as each launch runs it: the train function by value (train_fn_by_value),
    our SIGINT handling (keeping_our_sigint), no unused DatasetsCallback (without_unused_datasets)."""
    from ray.train.torch import TorchTrainer

    return without_unused_datasets(keeping_our_sigint(train_fn_by_value(TorchTrainer)))


# What each launch sets for Ray Train (v2), which reads these in the driver as fit() starts and passes
# them on to its controller and workers; a value of the user's own in the environment wins. The
# controller polls the workers every RAY_TRAIN_HEALTH_CHECK_INTERVAL_S (Ray's default 2 s): a finished
# run, or a failed worker, is seen at the next poll. Measured with 2 workers on 2 cores: fit() returned
# 1.5 s after the workers' loop ended at 2 s, 1.0 s at 0.5 s; a poll costs ~3 ms of CPU (controller,
# workers, sync actor), so 0.5 s adds ~0.4% of a core while training (~15 s of CPU an hour).
RAY_TRAIN_ENV = {"RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.5"}
# On the private Ray only (one node, this machine, never drained; nobody scrapes its metrics): no
# preemption watcher (one actor process per launch, ~1 s of CPU to start, polling Ray for node drains
# every 5 s) and no Ray Train metrics (gauges for Ray's Prometheus export). A joined cluster keeps both.
RAY_TRAIN_PRIVATE_ENV = {"RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0", "RAY_TRAIN_METRICS_ENABLED": "0"}


@contextlib.contextmanager
def ray_train_env(private: bool):
    """RAY_TRAIN_ENV (and on the private Ray RAY_TRAIN_PRIVATE_ENV) in os.environ while a launch's fit()
    runs, where no value of the user's own is set; what was there is put back after."""
    wanted = {**RAY_TRAIN_ENV, **(RAY_TRAIN_PRIVATE_ENV if private else {})}
    added = [k for k in wanted if k not in os.environ]
    os.environ.update({k: wanted[k] for k in added})
    try:
        yield {k: os.environ[k] for k in wanted}
    finally:
        for k in added:
            os.environ.pop(k, None)


def verify_checkpoints(cfg: TrainConfig) -> None:
    """The checkpoint --resume continues and the one --init-from reads, their checksums compared here,
    once (the whole files read; remembered in this process, which lumina train's checks ran in): the
    workers check headers only (trainer.verified_once), and a damaged one is refused before any
    Ray worker starts."""
    from training.state import check_weights, latest_resumable

    if cfg.resume and cfg.out_dir:
        latest_resumable(cfg.out_dir)
    if cfg.init_from:
        check_weights(cfg.init_from)


def fit_watched(trainer, cfg: TrainConfig):
    """trainer.fit(), watched for the Ray cluster dying under it: RayClusterLost in one line that names
    the run's last checkpoint and --resume, as curate and encode say it (contracts.ray_runtime).

    Without the watch, a head whose processes were killed mid-training ended the driver after Ray's
    60 s GCS timeout, exit 1, and no line of ours: fit()'s ray.get raised ActorUnavailableError within
    about 2 s (the controller actor's node was gone), and Ray's excepthook then waited on the dead GCS
    until its core worker ended the process. Now a failed fit() whose GCS stays unreachable for
    $LUMINA_RAY_LOST_S (10 s) is the lost cluster (one that answers again re-raises fit()'s error, a
    training failure as before), and a fit() that blocks instead is interrupted by gcs_watched."""
    from contracts.ray_runtime import gcs_address, gcs_lost, gcs_watched, lost_after_s

    gcs, lost_after = gcs_address(), lost_after_s()  # a malformed $LUMINA_RAY_LOST_S: refused before training
    try:
        with gcs_watched():
            return trainer.fit()
    except RayClusterLost as e:
        raise cluster_lost_mid_training(cfg, gcs, lost_after) from e
    except Exception as e:
        if (user_error := workers_user_error(e)) is not None:  # a diverged run, a refusal: its one line, exit 2
            raise user_error from e
        if gcs_lost(gcs, lost_after):
            raise cluster_lost_mid_training(cfg, gcs, lost_after) from e
        if (lost := workers_lost(e, cfg)) is not None:  # a worker's process died (killed, out of memory, crashed)
            raise lost from e
        if (lost := controller_lost(e, cfg)) is not None:  # the driver's node died, or Ray Train's controller on it
            raise lost from e
        raise


def workers_user_error(e: BaseException) -> BaseException | None:
    """The user error (`flows.cli.user_errors`: a diverged run, a damaged checkpoint, a refusal) a Ray
    Train worker raised, as its own exception, when ``e`` is the WorkerGroupError fit() raises for it:
    Ray Train hands the driver only that wrapper, without a __cause__, so `lumina train --launcher ray`
    printed its traceback and exited 1 where the same error in a local run is one line, exit 2. The
    lowest failed rank's error, if it is one (the others' are often its consequence); else None.
    Another rank's than 0 names it, as under torchrun (`rank 1: ...`, training.train.say_error): an
    error only that rank met (a sample only it reads) said nothing of where it came from."""
    failures = getattr(e, "worker_failures", None)
    if not isinstance(failures, dict) or not failures:
        return None
    from flows.cli import user_errors

    rank = min(failures)
    error = failures[rank]
    error = getattr(error, "cause", None) or error  # a RayTaskError wraps the worker's own exception
    if not isinstance(error, user_errors()):
        return None
    return error if rank == 0 else of_rank(error, rank)


def of_rank(error: BaseException, rank: int) -> BaseException:
    """A copy of ``error`` whose message begins `rank N: `, its type kept (exit code and handling as
    before); ``error`` itself where its text is not its message (a KeyError's is the key, quoted) or
    it cannot be copied."""
    import copy

    if type(error) is KeyError or not (type(error).__str__ is BaseException.__str__ or isinstance(error, OSError)):
        return error
    try:
        if isinstance(error, OSError):  # one made with an errno says "[Errno N] strerror: filename", not its args
            named = type(error)(f"rank {rank}: {error}")
        else:
            named = copy.copy(error)
            named.args = (f"rank {rank}: {error}",)
    except Exception:  # an exception type that refuses to be copied: its own words, as before
        return error
    return named


def cluster_lost_mid_training(cfg: TrainConfig, gcs: str | None, lost_after: float):
    """The RayClusterLost a Ray Train run ends with: who stopped answering, the run's last checkpoint
    (what --resume continues from: training.state.latest_resumable), and what to run."""
    from contracts.ray_runtime import lost_cluster_where

    where = lost_cluster_where(gcs)
    who = (f"this command's own Ray instance (GCS {gcs}) stopped answering mid-training (was `ray stop` run on this "
           f"host?)" if where is None else
           f"the Ray cluster at {where} stopped answering mid-training (unreachable for {lost_after:g} s)")
    return RayClusterLost(f"{who}{what_is_kept(cfg, '' if where is None else 'restart the cluster and ')}")


def workers_lost(e: BaseException, cfg: TrainConfig):
    """RayWorkerLost naming the workers whose process died or stopped answering, the run's last
    checkpoint and --resume, when ``e`` is the WorkerGroupError fit() raises for them; else None.

    Without it, a worker killed mid-run (kill -9, the OOM killer, a segfault) ended `lumina train
    --launcher ray` with Ray's WorkerGroupError traceback (about 40 lines, exit 1) that neither named
    the checkpoint to continue from nor said --resume. The dead worker's entry is Ray Train's
    WorkerHealthCheckFailedError around an ActorDiedError (a hung one: WorkerHealthCheckTimeoutError);
    another rank's is then often gloo's `Connection reset by peer`, a consequence, left unsaid."""
    import re

    failures = getattr(e, "worker_failures", None)
    if not isinstance(failures, dict) or not failures:
        return None
    said = []
    for rank in sorted(failures):
        error = failures[rank]
        kind = type(error).__name__
        if kind == "WorkerHealthCheckFailedError":
            check = getattr(error, "health_check_failure", None)
            names = {c.__name__ for c in type(check).__mro__}
            how = ("was killed by Ray, its node low on memory" if "OutOfMemoryError" in names else
                   "became unreachable" if "ActorUnavailableError" in names else
                   "died with its node (that node's raylet stopped or crashed)" if any(w in str(check) for w in NODE_DIED) else
                   "died (its process ended: killed, out of memory, or crashed)" if "RayActorError" in names else
                   f"failed Ray's health check ({type(check).__name__})")
        elif kind == "WorkerHealthCheckTimeoutError":
            how = "stopped answering Ray's health check (RAY_TRAIN_WORKER_HEALTH_CHECK_TIMEOUT_S)"
        else:
            continue
        text = str(error)
        pid, ip = re.search(r"\bpid=(\d+)", text), re.search(r"\bnode_ip='([^']+)'", text)
        where = f" (pid {pid[1]}{f' on {ip[1]}' if ip else ''})" if pid else ""
        said.append((f"rank {rank}{where}", how))
    if not said:
        return peer_of_a_worker_lost(failures, cfg)
    hows = {how for _, how in said}
    who = (f"Ray Train worker {said[0][0]} {said[0][1]}" if len(said) == 1 else
           f"Ray Train workers {', '.join(w for w, _ in said)} " + (hows.pop() if len(hows) == 1 else
                                                                    "died or stopped answering"))
    return RayWorkerLost(f"{who} mid-training{what_is_kept(cfg)}")


CONTROLLER = "TrainController"  # the class of Ray Train (v2)'s controller actor, as an ActorDiedError names it
# how Ray (2.60)'s ActorDiedError says the actor's node died, or its owner's (this driver, on the same node):
# "The actor died because its node has died.", "... its owner has died. ... Owner's node has crashed.",
# "the actor's node was terminated: ..."
NODE_DIED = ("its node has died", "node has crashed", "node was terminated")


def controller_lost(e: BaseException, cfg: TrainConfig):
    """RayNodeLost when ``e`` is the RayActorError fit() raises for Ray Train's controller actor, which
    Ray Train places on the driver's own node: that node's raylet stopped or crashed (the actor died
    with its owner's node), or the controller's process itself ended; else None.

    Without it, a raylet stopped under a running `lumina train --launcher ray` while the GCS lived on
    (a joined cluster's node, a `ray stop` of that node) ended the run about 2 s later with Ray's
    ActorDiedError traceback (about 30 lines, exit 1) that named neither the checkpoint to continue
    from nor --resume. The cluster-wide loss (the GCS gone too) is cluster_lost_mid_training's."""
    import re

    names = {c.__name__ for c in type(e).__mro__}
    if "RayActorError" not in names:
        return None
    text = str(e)
    actor = re.search(r"class_name: (\w+)", text)
    if actor is not None and actor[1] != CONTROLLER:  # fit() waits on no other actor: not ours to word
        return None
    pid, ip = re.search(r"\bpid: (\d+)", text), re.search(r"\bip: (\S+)", text)
    if any(words in text for words in NODE_DIED):
        from contracts.ray_runtime import started_private_ray

        node = f"the Ray node this command runs on{f' ({ip[1]})' if ip else ''}"
        # a joined cluster's node is the user's to start again; this command's own Ray, the next command starts
        first = "" if started_private_ray() else "start Ray on this node again and "
        return RayNodeLost(f"{node} died mid-training (its raylet stopped or crashed: `ray stop` on this host, out of "
                           f"memory?), taking Ray Train's controller with it; the cluster still answers"
                           f"{what_is_kept(cfg, first)}")
    unavailable = "ActorUnavailableError" in names
    where = f" (pid {pid[1]}{f' on {ip[1]}' if ip else ''})" if pid else ""
    how = ("became unreachable" if unavailable else "died (its process ended: killed, out of memory, or crashed)")
    return RayNodeLost(f"Ray Train's controller{where} {how} mid-training{what_is_kept(cfg)}")


def peer_of_a_worker_lost(failures: dict, cfg: TrainConfig):
    """RayWorkerLost when the only failures recorded are collectives that lost another worker (its
    process ended, or it hung alive past $LUMINA_COLLECTIVE_TIMEOUT_S: a stopped process, a stalled
    file system): the worker that hung is not among them, and Ray's report was rank 0's traceback of
    gloo's `Timed out waiting 5000ms for send operation to complete`."""
    from training.distributed import COLLECTIVE_TIMEOUT_ENV, PEER_TIMED_OUT, peer_lost

    for rank in sorted(failures):
        error = failures[rank]
        words = peer_lost(getattr(error, "cause", None) or error)
        if words is None:
            continue
        what = (f"did not answer a collective mid-training ({words}; ${COLLECTIVE_TIMEOUT_ENV} sets the wait): it "
                "hangs (a stalled file system, a stopped process)" if any(m in words for m in PEER_TIMED_OUT) else
                f"ended under a collective mid-training ({words}): its process died (killed, out of memory, or crashed)")
        return RayWorkerLost(f"a Ray Train worker other than rank {rank} {what}{what_is_kept(cfg)}")
    return None


def keeping_our_sigint(trainer_cls):
    """``trainer_cls`` whose fit() leaves SIGINT to us: Ray Train's own handler aborts the workers at
    once, so Ctrl-C lost every step since the last checkpoint (the driver exited 1 and said nothing),
    where SIGTERM writes the STOP file and the workers checkpoint at the next step boundary."""

    class KeepingOurSigint(trainer_cls):
        def _register_sigint_handler(self, controller) -> None:
            log.debug("Ray Train's SIGINT handler is not installed: a Ctrl-C stops the workers at a checkpoint")

    return KeepingOurSigint


class ByValue:
    """Ray Train's ObjectRefWrapper (``get()`` gives what it wraps) holding the train function itself,
    not a ray.put of it: it travels pickled in the arguments of the controller and of each worker's
    run_train_fn, as a small argument does (Ray stores one over 100 KiB in the object store itself)."""

    def __init__(self, obj):
        self._obj = obj

    def get(self):
        return self._obj


PUT_WRAPPER = "ObjectRefWrapper"  # the name Ray Train (v2)'s fit() wraps the train function with (a ray.put)


def train_fn_by_value(trainer_cls):
    """``trainer_cls`` whose fit() hands the train function to Ray Train's controller and workers by
    value (ByValue), not as an object the driver ray.put into its own node's object store.

    A driver that owns such an object is ended by Ray itself when the GCS reports that node dead (its
    raylet was stopped, or the head's processes died one by one and the GCS outlived the raylet): Ray's
    core worker tries to recover the object (OBJECT_UNRECONSTRUCTABLE_PUT), stores the error in the
    dead node's object store, and its object store client ends the process on the broken socket
    (plasma connection.cc "The connection to the plasma store is failed. Terminate the process":
    QuickExit, _Exit(1), on Ray's IO thread). `lumina train --launcher ray` exited 1 0.1 s after the
    kill with no line of ours: no Python code runs after that. Where fit() is no longer Ray Train's
    with that name (another Ray version), fit() is left as it is."""

    class TrainFnByValue(trainer_cls):
        def fit(self):
            owner = next((c for c in trainer_cls.__mro__ if "fit" in vars(c)), None)
            names = getattr(vars(owner)["fit"], "__globals__", {}) if owner is not None else {}
            if PUT_WRAPPER not in names:
                return super().fit()
            put, names[PUT_WRAPPER] = names[PUT_WRAPPER], ByValue
            try:
                return super().fit()
            finally:
                names[PUT_WRAPPER] = put

    return TrainFnByValue


DATASETS_CALLBACK = "DatasetsCallback"  # Ray Train (v2)'s callback that serves ray.train.get_dataset_shard


def without_unused_datasets(trainer_cls):
    """``trainer_cls`` that leaves out Ray Train's DatasetsCallback when it is given no datasets (ours never
    is: each worker reads its shards itself): the callback starts a DatasetManager actor every launch
    anyway, one more process (about 1.3 s of CPU to start, importing Ray Data) for get_dataset_shard,
    which nothing calls. With datasets, Ray Train's callbacks are left as they are."""

    class WithoutUnusedDatasets(trainer_cls):
        def _create_default_callbacks(self):
            callbacks = super()._create_default_callbacks()
            if self.datasets:
                return callbacks
            return [c for c in callbacks if type(c).__name__ != DATASETS_CALLBACK]

    return WithoutUnusedDatasets


MARKERS = (".validate_storage_marker",)  # what Ray Train writes to check it can write there


def remove_if_only_markers(folder: Path) -> bool:
    """Ray Train's storage folder, when it holds nothing but its own marker files (our checkpoints
    and results live in the run folder itself): removed, so the run folder shows only the run."""
    if not folder.is_dir():
        return False
    for _, _, files in os.walk(folder):
        if any(f not in MARKERS for f in files):
            return False
    shutil.rmtree(folder, ignore_errors=True)
    return True


@contextlib.contextmanager
def follow_progress(cfg: TrainConfig, every_s: float = 1.0, messages=None):
    """The driver's progress bar, from rank 0's metrics.csv as it grows: Ray does not forward the
    workers' output (contracts.ray_runtime starts it with log_to_driver off), so the bar a worker
    draws is never seen. Its clock starts at the first new step, so the rate and ETA are training's,
    not Ray's start-up; at each log window's end it shows the window's mean loss and [PAD] share, as
    the local bar does.

    ``messages`` (contracts.messages.ReplayedRecords of rank 0's MESSAGES_FILE): rank 0's `training`
    messages, logged again here as they come, above the bar as a local run's, and the last of them
    once the workers are done: the epoch lines, the batch warnings, the --resume lines, and with
    --no-progress the line per log window."""
    from tqdm import tqdm

    from training.monitor import logging_above

    csv_path, done = Path(cfg.out_dir) / "metrics.csv", threading.Event()
    first = _resumed_step(cfg)
    rows = NewRows(csv_path, first)
    bar = tqdm(total=cfg.steps, initial=first, desc="train", unit="step", disable=not cfg.progress)
    bar.set_postfix_str("starting the Ray workers")
    started, window = False, []
    lock = threading.Lock()  # the follower's reads and the final one: each record logged once

    def catch_up() -> None:
        nonlocal started
        with lock:
            new = rows.read()
            if new and not started:  # from now on the rate is training's: the steps of this first read
                # (up to a second's worth) took an unknown time; counted as done in no time, a tiny
                # model's bar showed 14604 step/s
                started = True
                bar.reset(total=cfg.steps)
                bar.initial = bar.n = int(new[-1]["step"])
            for row in new:
                step = int(row["step"])
                if math.isfinite(float(row["grad_norm"] or "nan")):  # a skipped step is not in the window's means (as the trainer's)
                    window.append(row)
                if (step % cfg.log_every == 0 or step == cfg.steps) and window:
                    mean = {k: sum(float(r[k]) for r in window) / len(window) for k in ("loss", "padding")}
                    window.clear()
                    bar.update(max(0, step - bar.n))
                    bar.set_postfix(loss=f"{mean['loss']:.4f}", pad=f"{mean['padding']:.1%}")  # shown now: once a window
                bar.update(max(0, step - bar.n))
            if messages is not None:  # after the rows: a window's epoch line comes with the bar at its step
                messages.replay()

    def follow() -> None:
        while not done.wait(every_s):
            catch_up()

    # the follower logs in the caller's context: a Prefect task's run logger finds its run there
    thread = threading.Thread(target=contextvars.copy_context().run, args=(follow,), name="ray-train-progress", daemon=True)
    with logging_above(bar):  # rank 0's records and warnings too
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
            catch_up()
            bar.close()


def _resumed_step(cfg: TrainConfig) -> int:
    """The step this call starts from: its checkpoint's under --resume, else 0 (metrics.csv may still
    hold later rows of the stopped run, or an earlier attempt's)."""
    if not cfg.resume:
        return 0
    from training.state import latest_resumable

    try:
        ckpt = latest_resumable(cfg.out_dir, content=False)  # its content: verify_checkpoints
    except ValueError:  # damaged: refused with the way on
        return 0
    return int(ckpt.name.split("-")[-1]) if ckpt is not None else 0


class NewRows:
    """The complete rows past `after_step` of the metrics.csv this run writes, as they are appended:
    each read() takes only the bytes written since the last one. The file there at the start is an
    earlier run's until the trainer replaces it (RunMonitor rewrites it, trimmed, as a new file)."""

    def __init__(self, csv_path: Path, after_step: int):
        self.path, self.after, self.offset, self.header = csv_path, after_step, 0, None
        self.stale = self.inode = _inode(csv_path)

    def read(self) -> list[dict[str, str]]:
        inode = _inode(self.path)
        if inode is None or inode == self.stale:
            return []
        if inode != self.inode:  # the run's own file, new: read it from its start
            self.inode, self.offset, self.header, self.stale = inode, 0, None, None
        try:
            with open(self.path, "rb") as f:
                if self.header is None:
                    line = f.readline()
                    if not line.endswith(b"\n"):
                        return []
                    self.header, self.offset = line.decode().strip().split(","), len(line)
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1  # a row still being written waits for the next read
        self.offset += end
        out = []
        for line in data[:end].decode(errors="replace").splitlines():
            cells = line.split(",")
            if cells[0].isdigit() and len(cells) == len(self.header) and int(cells[0]) > self.after:
                out.append(dict(zip(self.header, cells)))
                self.after = int(cells[0])
        return out


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def last_logged_row(csv_path: Path) -> dict[str, str] | None:
    """metrics.csv's last complete row as column -> text (None if none): only the file's tail and
    header are read."""
    try:
        with open(csv_path, "rb") as f:
            header = f.readline().decode().strip().split(",")
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            lines = f.read().split(b"\n")
    except FileNotFoundError:
        return None
    for line in reversed(lines[:-1]):  # the last piece is empty or a row still being written
        cells = line.decode(errors="replace").split(",")
        if cells[0].isdigit() and len(cells) == len(header):
            return dict(zip(header, cells))
    return None


def last_logged_step(csv_path: Path) -> int:
    """The step of metrics.csv's last complete row (0 if none)."""
    row = last_logged_row(csv_path)
    return int(row["step"]) if row else 0


def _cluster_has_gpus() -> bool:
    import ray

    return ray.cluster_resources().get("GPU", 0) > 0
