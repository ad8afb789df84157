"""Run any stage: locally (tests, debugging) or on Ray (tasks for per-chunk CPU work, a Ray Data
actor pool for model inference). The stage decides what; the runner decides where."""

from __future__ import annotations

import logging
from typing import Any

from tqdm.auto import tqdm

from preprocess.stage import Stage


def chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]


def run_stage(stage: Stage, items: list, backend: str = "ray", num_actors: int = 1, desc: str | None = None) -> list:
    """Process every item; results come back flattened, in the order of the input batches."""
    if not items:
        return []
    desc = desc or f"{stage.modality}: {stage.name}".strip(": ")
    batches = chunks(items, stage.batch_size)
    if backend == "local":
        return _run_local(stage, batches, desc)
    if backend != "ray":
        raise ValueError(f"backend must be 'ray' or 'local', got {backend!r}")
    if stage.execution == "actors":
        return _run_actor_pool(stage, batches, num_actors, desc)
    return _run_tasks(stage, batches, desc)


def _run_local(stage: Stage, batches: list[list], desc: str) -> list:
    stage.setup()
    out: list = []
    for b in tqdm(batches, desc=desc, unit="batch"):
        out.extend(stage.process(b))
    return out


def _process_batch(stage: Stage, batch: list) -> list:
    stage.setup()
    return stage.process(batch)


def _run_tasks(stage: Stage, batches: list[list], desc: str) -> list:
    import ray

    from contracts.ray_runtime import ensure_ray, gather

    ensure_ray()
    remote = ray.remote(_process_batch).options(**stage.resources.ray_options())
    stage_ref = ray.put(stage)
    refs = [remote.remote(stage_ref, b) for b in batches]
    return [x for part in gather(refs, desc) for x in part]


class _StageActor:
    """One stage instance per actor: setup() once, then a batch per call."""

    def __init__(self, stage: Stage):
        self.stage = stage
        stage.setup()

    def __call__(self, row: dict) -> dict:
        import pickle

        batch = pickle.loads(row["batch"][0])
        return {"i": row["i"], "out": [pickle.dumps(self.stage.process(batch))]}


def _run_actor_pool(stage: Stage, batches: list[list], num_actors: int, desc: str) -> list:
    import pickle

    import ray.data
    from ray.data import ActorPoolStrategy

    from contracts.ray_runtime import ensure_ray

    ensure_ray()
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # our own bar below; Ray Data's is a log line per second off a TTY
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "progress bars disabled": we know
    # Ray Data's own actors log "constructor arguments in the object store" (ray-project/ray#57733):
    # its MapWorker's arguments, not the stage, which is small and travels inline
    rows = [{"i": i, "batch": pickle.dumps(b)} for i, b in enumerate(batches)]
    ds = ray.data.from_items(rows, override_num_blocks=len(rows))
    opts: dict[str, Any] = {"num_cpus": stage.resources.cpus}
    if stage.resources.gpus:
        opts["num_gpus"] = stage.resources.gpus
    ds = ds.map_batches(
        _StageActor, batch_size=1, fn_constructor_kwargs={"stage": stage},
        compute=ActorPoolStrategy(size=max(1, min(num_actors, len(batches)))), **opts,
    )
    results: dict[int, list] = {}
    for row in tqdm(ds.iter_rows(), total=len(batches), desc=desc, unit="batch"):
        results[int(row["i"])] = pickle.loads(row["out"])  # rows arrive in completion order
    return [x for i in sorted(results) for x in results[i]]
