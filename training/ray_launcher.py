"""`lumina train --launcher ray --workers N`: the same train() in N Ray Train workers (DDP).

Ray Train starts the process group (gloo on CPU, NCCL with GPUs) and places the workers across the
cluster's machines; each worker runs training.trainer.train, rank 0 writes and registers the
checkpoints (the catalog and out_dir must be on storage every worker reaches, as on one machine).
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import asdict, replace
from pathlib import Path

from training.stopping import StopRequest, remove_stop_file, write_stop_file
from training.trainer import CheckpointHook, TrainConfig, TrainResult


RESULT_FILE = "ray_result.json"  # rank 0's TrainResult, beside the checkpoints (Ray Train v2 keeps metrics only with checkpoints)


def _worker_loop(config: dict) -> None:
    import json

    import ray.train

    from training.trainer import train

    cfg = config["cfg"]
    rank = ray.train.get_context().get_world_rank()
    result = train(cfg, on_checkpoint=config["hook"] if rank == 0 else None)
    if rank == 0:
        ids = list(getattr(config["hook"], "checkpoint_ids", []) or [])
        (Path(cfg.out_dir) / RESULT_FILE).write_text(json.dumps({"result": asdict(result), "checkpoint_ids": ids}, default=str))


def _worker_config(cfg):
    """What each worker trains with: in its own process (local), without a bar; `workers` no longer
    counts as given (TrainConfig refuses --workers without --launcher ray)."""
    given = None if cfg.given is None else tuple(g for g in cfg.given if g != "workers")
    return replace(cfg, launcher="local", progress=False, given=given)


def train_with_ray(cfg: TrainConfig, on_checkpoint: CheckpointHook | None = None, address: str | None = None) -> tuple[TrainResult, list[str]]:
    """Train in cfg.workers Ray workers; returns rank 0's result and the catalog ids its hook recorded."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from contracts.ray_runtime import ensure_ray

    ensure_ray(address, num_cpus=max(os.cpu_count() or 1, cfg.workers + 1))
    use_gpu = _cluster_has_gpus()  # FSDP2 runs on CPU workers too (gloo)
    trainer = TorchTrainer(
        _worker_loop,
        # the workers' own bars go nowhere (their output is not forwarded): the driver draws one
        train_loop_config={"cfg": _worker_config(cfg), "hook": on_checkpoint},
        scaling_config=ScalingConfig(num_workers=cfg.workers, use_gpu=use_gpu, resources_per_worker={"CPU": 1}),
        run_config=RunConfig(name="train", storage_path=str(Path(cfg.out_dir).resolve() / "ray")),
    )
    # The workers train in threads, where no signal handler can go: a signalled driver asks them to
    # stop through the run folder's STOP file, and they checkpoint at the next step boundary.
    with StopRequest(on_first=lambda signum: write_stop_file(cfg.out_dir, signum)), follow_progress(cfg):
        trainer.fit()
    remove_stop_file(cfg.out_dir)  # served, or too late (the workers had finished): not for a later --resume
    import json

    metrics = json.loads((Path(cfg.out_dir) / RESULT_FILE).read_text())
    r = metrics["result"]
    r["losses"] = [tuple(x) for x in r["losses"]]
    return TrainResult(**r), metrics.get("checkpoint_ids", [])


@contextlib.contextmanager
def follow_progress(cfg: TrainConfig, every_s: float = 1.0):
    """The driver's progress bar, from rank 0's metrics.csv as it grows: Ray does not forward the
    workers' output (contracts.ray_runtime starts it with log_to_driver off), so the bar a worker
    draws is never seen."""
    if not cfg.progress:
        yield
        return
    from tqdm import tqdm

    csv_path, done = Path(cfg.out_dir) / "metrics.csv", threading.Event()
    bar = tqdm(total=cfg.steps, initial=last_logged_step(csv_path), desc="train", unit="step")

    def follow() -> None:
        while not done.wait(every_s):
            bar.update(max(0, last_logged_step(csv_path) - bar.n))

    thread = threading.Thread(target=follow, name="ray-train-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        bar.update(max(0, last_logged_step(csv_path) - bar.n))
        bar.close()


def last_logged_step(csv_path: Path) -> int:
    """The step of metrics.csv's last complete row (0 if none): only the file's tail is read."""
    try:
        with open(csv_path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            lines = f.read().split(b"\n")
    except FileNotFoundError:
        return 0
    for line in reversed(lines[:-1]):  # the last piece is empty or a row still being written
        head = line.split(b",", 1)[0]
        if head.isdigit():
            return int(head)
    return 0


def _cluster_has_gpus() -> bool:
    import ray

    return ray.cluster_resources().get("GPU", 0) > 0
