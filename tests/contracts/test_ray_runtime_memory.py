"""The driver of a Ray stage holds a task's ObjectRef only until its result is in, and keeps only a few
tasks submitted ahead (contracts.ray_runtime.stream_tasks): as long as a ref lives, Ray keeps the
task's result (a small one in the driver's own object store, beside the copy ray.get made) and its
arguments (for lineage). Before, every task of a stage was submitted at once and every ref held to
the stage's end (~1.4 KB an input of the curate driver's RSS at 2k-8k images, Ray backend).

Ray itself is faked here (a module in sys.modules): no Ray starts, the test takes well under a second."""

from __future__ import annotations

import gc
import pickle
import sys
import types
import weakref

import pytest

from contracts import ray_runtime as rt
from contracts.records import SampleRecord, VerdictRecord
from preprocess.stage import Stage


class _Ref:
    """An ObjectRef: the task's pickled result, as Ray keeps it while a ref lives."""

    def __init__(self, i: int, blob: bytes):
        self.i, self.blob = i, blob


class _FakeRay(types.ModuleType):
    """What stream_tasks and the runner use of ray; tasks finish last-submitted first."""

    def __init__(self, cpus: int = 2):
        super().__init__("ray")
        self.cpus = cpus
        self.live: weakref.WeakSet = weakref.WeakSet()
        self.refs_of: dict[int, weakref.ref] = {}
        self.most_live = 0
        self.submitted = 0

    def is_initialized(self) -> bool:
        return False  # the GCS watch then has nothing to probe

    def cluster_resources(self) -> dict:
        return {"CPU": self.cpus}

    def submit(self, value) -> _Ref:
        ref = _Ref(self.submitted, pickle.dumps(value))  # Ray pickles the arguments and the result
        self.refs_of[self.submitted] = weakref.ref(ref)
        self.submitted += 1
        self.live.add(ref)
        self.most_live = max(self.most_live, len(self.live))
        return ref

    def wait(self, pending: list, num_returns: int = 1, timeout=None):
        return pending[-num_returns:], pending[:-num_returns]

    def get(self, ref: _Ref):
        return pickle.loads(ref.blob)

    def put(self, value):
        return value

    def remote(self, fn):
        fake = self

        class _Remote:
            def options(self, **kw):
                return self

            def remote(self, *args):
                args = pickle.loads(pickle.dumps(args))  # as the worker gets them
                return fake.submit(fn(*args))

        return _Remote()


@pytest.fixture
def fake_ray(monkeypatch):
    fake = _FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    return fake


def test_each_ref_is_dropped_once_its_result_is_in_and_few_are_in_flight(fake_ray):
    stream = getattr(rt, "stream_tasks", None)
    assert stream is not None, "contracts.ray_runtime.stream_tasks is missing"
    seen = []

    def on_result(value):  # no gc.collect(): a ref is in no cycle, it dies with its last reference
        assert fake_ray.refs_of[value]() is None, f"task {value}'s ref is still held as its result is taken in"
        seen.append(value)

    out = stream(lambda i: fake_ray.submit(i), 50, "test", on_result=on_result, window=5)
    assert out == list(range(50))  # in submission order, whatever order they finished in
    assert sorted(seen) == out
    assert fake_ray.most_live <= 5
    assert rt.tasks_in_flight() == max(rt.MIN_TASKS_IN_FLIGHT, rt.TASKS_PER_CPU * 2)


def test_gather_takes_the_refs_and_drops_each_as_its_result_is_in(fake_ray):
    refs = [fake_ray.submit(i) for i in range(8)]
    dropped = []

    def on_result(value):  # no gc.collect(): a ref is in no cycle, it dies with its last reference
        dropped.append(fake_ray.refs_of[value]() is None)

    assert rt.gather(refs, "test", on_result=on_result) == list(range(8))
    assert refs == [] and all(dropped)


class _Keys(Stage):
    name, batch_size = "keys", 2

    def process(self, batch):
        return [c.record.key for c in batch]

    def adopt(self, batch, results):  # the driver's hook on each task's results, with that task's batch
        assert results == [c.record.key for c in batch]
        return [k.upper() for k in results]


def _instance_dict(obj) -> bool:
    return any(type(r) is dict and {"record"} <= r.keys() for r in gc.get_referents(obj))


def test_a_ray_stage_keeps_few_tasks_in_flight_and_the_driver_objects_without_a_dict(fake_ray, monkeypatch):
    """Through the runner (preprocess.runner._run_tasks): the same window, results in input order, and
    the driver's candidates sent to the shard writer pickled by their fields: pickled as they are,
    each would get (and keep) a __dict__."""
    from preprocess.modality import Candidate
    from preprocess.runner import run_stage

    monkeypatch.setattr(rt, "ensure_ray", lambda *a, **k: None)
    rec = SampleRecord("k0", "image", "/x/a.png", "accepted")
    cands = [Candidate(SampleRecord(f"k{i}", "image", f"/x/{i}.png", "accepted"), [VerdictRecord(f"k{i}", "f", "1", 1.0, 2.0, True)])
             for i in range(100)]
    assert run_stage(_Keys(), cands, backend="ray") == [f"K{i}" for i in range(100)]
    assert fake_ray.submitted == 50
    assert fake_ray.most_live <= rt.tasks_in_flight() < 50
    assert not any(_instance_dict(c) for c in cands)
    assert not hasattr(rec, "__dict__") and not hasattr(cands[0].verdicts[0], "__dict__")  # records have slots
