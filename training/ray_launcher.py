"""`lumina train --launcher ray --workers N`: the same train() in N Ray Train workers (DDP).

Ray Train starts the process group (gloo on CPU, NCCL with GPUs) and places the workers across the
cluster's machines; each worker runs training.trainer.train, rank 0 writes and registers the
checkpoints (the catalog and out_dir must be on storage every worker reaches, as on one machine).
"""

from __future__ import annotations

import contextlib
import os
import shutil
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
        run_config=RunConfig(name="train", storage_path=str(Path(cfg.out_dir).resolve() / "ray")),  # = storage below
    )
    # The workers train in threads, where no signal handler can go: a signalled driver asks them to
    # stop through the run folder's STOP file, and they checkpoint at the next step boundary.
    storage = Path(cfg.out_dir).resolve() / "ray"
    with StopRequest(on_first=lambda signum: write_stop_file(cfg.out_dir, signum)), follow_progress(cfg):
        trainer.fit()
    remove_stop_file(cfg.out_dir)  # served, or too late (the workers had finished): not for a later --resume
    remove_if_only_markers(storage)
    import json

    metrics = json.loads((Path(cfg.out_dir) / RESULT_FILE).read_text())
    r = metrics["result"]
    r["losses"] = [tuple(x) for x in r["losses"]]
    return TrainResult(**r), metrics.get("checkpoint_ids", [])


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
def follow_progress(cfg: TrainConfig, every_s: float = 1.0):
    """The driver's progress bar, from rank 0's metrics.csv as it grows: Ray does not forward the
    workers' output (contracts.ray_runtime starts it with log_to_driver off), so the bar a worker
    draws is never seen. Its clock starts at the first new step, so the rate and ETA are training's,
    not Ray's start-up; loss and [PAD] share as the local bar shows them."""
    if not cfg.progress:
        yield
        return
    from tqdm import tqdm

    csv_path, done = Path(cfg.out_dir) / "metrics.csv", threading.Event()
    first = last_logged_step(csv_path)
    bar = tqdm(total=cfg.steps, initial=first, desc="train", unit="step")
    bar.set_postfix_str("starting the Ray workers")
    started = False

    def catch_up() -> None:
        nonlocal started
        row = last_logged_row(csv_path)
        step = int(row["step"]) if row else 0
        if step <= bar.n:
            return
        if not started:  # the first new step: from now on the rate is training's
            started = True
            bar.reset(total=cfg.steps)
            bar.initial = bar.n = first
        bar.set_postfix(loss=f"{float(row['loss']):.4f}", pad=f"{float(row['padding']):.1%}", refresh=False)
        bar.update(step - bar.n)

    def follow() -> None:
        while not done.wait(every_s):
            catch_up()

    thread = threading.Thread(target=follow, name="ray-train-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        catch_up()
        bar.close()


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
