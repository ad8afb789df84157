"""Run any stage: locally (tests, debugging) or on Ray (tasks for per-chunk CPU work, a Ray Data
actor pool for model inference). The stage decides what; the runner decides where."""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import pickle
import sys
import traceback
from typing import Any

from tqdm.auto import tqdm

from preprocess.stage import Stage


# Records a stage returns, pickled by their fields (compact_dumps): the classes of contracts.records and
# preprocess.modality.Candidate, taken on first use (a stage's results are these, by the thousand).
_COMPACT: dict[type, tuple[str, ...]] = {}


def _compact_types() -> dict[type, tuple[str, ...]]:
    if not _COMPACT:
        from contracts.records import EncodingRecord, SampleRecord, ShardRecord, VerdictRecord
        from preprocess.modality import Candidate

        for cls in (SampleRecord, VerdictRecord, ShardRecord, EncodingRecord, Candidate):
            _COMPACT[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return _COMPACT


def _from_fields(cls: type, values: tuple) -> Any:
    """A record from its fields' values, as unpickling makes it (no __init__, no __post_init__), but
    set attribute by attribute: the instance keeps CPython's compact attribute values and gets no
    __dict__ of its own. A plain pickle's (and Ray's) rebuild gives every record one: ~64 bytes each,
    and a candidate has a dozen of them (its record, its verdicts), kept to the end of a curation."""
    obj = cls.__new__(cls)
    for name, value in zip(_COMPACT[cls], values):
        object.__setattr__(obj, name, value)
    return obj


class _CompactPickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        names = self.types.get(type(obj))
        if names is None:
            return NotImplemented
        return _from_fields, (type(obj), tuple(getattr(obj, n) for n in names))  # getattr: never obj.__dict__


def compact_dumps(obj: Any) -> bytes:
    """pickle.dumps, with records (_compact_types) by their fields. Pickling a record the ordinary way
    reads its __dict__, which makes CPython create one for it (and keep it): the driver's candidates
    grew ~780 bytes an input when the analysis journal saved them. Load with compact_loads."""
    buf = io.BytesIO()
    p = _CompactPickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
    p.types = _compact_types()
    p.dump(obj)
    return buf.getvalue()


def compact_loads(data: bytes) -> Any:
    _compact_types()  # _from_fields names the fields
    return pickle.loads(data)


class Compact:
    """A value that pickles as compact_dumps of itself and unpickles as the value (not a Compact):
    a list of them in an ordinary pickle (the analysis journal's file) loads as the values."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __reduce__(self) -> tuple:
        try:
            return compact_loads, (compact_dumps(self.value),)
        except Exception:  # noqa: BLE001 - what plain pickle cannot take (a lambda): the outer pickler's way
            return _itself, (self.value,)


def _itself(value: Any) -> Any:
    return value


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
    """The bar counts the stage's progress_units where it has them (Stage.tick), else batches. Each
    batch's results go through stage.adopt as they come, as a Ray stage's do."""
    stage.setup()
    out: list = []
    units = [stage.progress_units(b) for b in batches]
    if None in units:
        for b in tqdm(batches, desc=desc, unit="batch"):
            out.extend(stage.adopt(b, stage.process(b)))
        return out
    with tqdm(total=sum(units), desc=desc, unit="input") as bar:
        stage.tick = bar.update
        try:
            for b in batches:
                out.extend(stage.adopt(b, stage.process(b)))
        finally:
            stage.tick = None
    return out


class _WorkerTraceback(Exception):
    """Where a stage's error was raised, in a Ray worker: the cause of the error raised again here."""

    def __str__(self) -> str:
        return self.args[0]


class _Failed:
    """A stage's error as a worker's result, raised again as itself in the driver. Raised in the
    worker, Ray would wrap it (a task) or kill and restart the actor (an actor's setup), and print
    tracebacks either way; a user's error (a wrong --vae) is one line and exit 2 from the CLI."""

    def __init__(self, e: Exception):
        self.where = "".join(traceback.format_exception(e))
        try:
            pickle.loads(pickle.dumps(e))
        except Exception:  # an exception that does not survive pickling: its type and message still do
            e = RuntimeError(f"{type(e).__name__}: {e}")
        self.error = e

    def reraise(self) -> None:
        raise self.error from _WorkerTraceback(self.where)


def _raise_if_failed(result: list | _Failed) -> None:
    if isinstance(result, _Failed):
        result.reraise()


def _process_batch(stage: Stage, batch: list) -> list | _Failed:
    try:
        stage.setup()
        return Compact(stage.process(batch))  # the driver keeps the results: records without a __dict__ each
    except Exception as e:
        return _Failed(e)


RAY_START_LINE = "starting Ray (this takes ~15 s; --local skips it)"


def say_ray_starts() -> str | None:
    """One line on stderr before a stage starts Ray in this process (or joins the cluster at
    RAY_ADDRESS), which is returned; nothing once Ray is up. Importing ray and starting it took
    17-19 s before its first progress bar, with nothing on the screen."""
    ray = sys.modules.get("ray")
    if ray is not None and getattr(ray, "is_initialized", lambda: False)():
        return None
    address = os.environ.get("RAY_ADDRESS")
    line = f"joining the Ray cluster at {address} (--local runs without Ray)" if address else RAY_START_LINE
    print(line, file=sys.stderr, flush=True)
    return line


def _run_tasks(stage: Stage, batches: list[list], desc: str) -> list:
    say_ray_starts()
    import ray

    from contracts.ray_runtime import ensure_ray, stream_tasks

    ensure_ray()
    remote = ray.remote(_process_batch).options(**stage.resources.ray_options())
    stage_ref = ray.put(stage)
    # a few tasks ahead of the results taken in, not every one at once; each batch pickled by its fields
    # (Compact): pickled as they are, the driver's candidates (the shard writer's batches) would each get
    # and keep a __dict__
    parts = stream_tasks(lambda i: remote.remote(stage_ref, Compact(batches[i])), len(batches), desc, on_result=_raise_if_failed,
                         keep=lambda i, part: stage.adopt(batches[i], part))
    return [x for part in parts for x in part]


class _StageActor:
    """One stage instance per actor: setup() once, then a batch per call. A setup error is kept and
    is every call's result: raised in the constructor, it would kill the actor, which Ray restarts."""

    def __init__(self, stage: Stage):
        self.stage = stage
        self.setup_failed: _Failed | None = None
        try:
            stage.setup()
        except Exception as e:
            self.setup_failed = _Failed(e)

    def __call__(self, row: dict) -> dict:
        return {"i": row["i"], "out": [compact_dumps(self._process(pickle.loads(row["batch"][0])))]}

    def _process(self, batch: list) -> list | _Failed:
        if self.setup_failed:
            return self.setup_failed
        try:
            return self.stage.process(batch)
        except Exception as e:
            return _Failed(e)


def _run_actor_pool(stage: Stage, batches: list[list], num_actors: int, desc: str) -> list:
    say_ray_starts()
    import ray.data
    from ray.data import ActorPoolStrategy

    from contracts.ray_runtime import ensure_ray, gcs_watched

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
    # watched: a cluster that dies mid-stage is one line (RayClusterLost), not Ray's exit after 60 s
    with gcs_watched():
        for row in tqdm(ds.iter_rows(), total=len(batches), desc=desc, unit="batch"):
            results[int(row["i"])] = out = compact_loads(row["out"])  # rows arrive in completion order
            _raise_if_failed(out)
    return [x for i in sorted(results) for x in results[i]]
