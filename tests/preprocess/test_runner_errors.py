"""A stage's own error under the Ray backend reaches the caller as itself (type and message), once,
promptly and without Ray's tracebacks: a wrong --vae that fails a model's setup is one line and
exit 2 from the CLI, as with --local, not Ray's actor restarts and four tracebacks.

The tests join the suite's shared private Ray cluster (tests/shared_ray_cluster.py): a local Ray of
this module's own cost a start and a stop (~20 s on 2 cores) for seven small stages."""

from __future__ import annotations

import time

import pytest

from preprocess.runner import run_stage
from preprocess.stage import Stage
from tests.shared_ray_cluster import ray_cluster_group

SETUP_MESSAGE = "--vae at /nowhere/vae.safetensors could not be loaded: not a VAE"
PROCESS_MESSAGE = "item 2 is not an image"


class FailingSetup(Stage):
    name = "failing-setup"
    batch_size = 1

    def __init__(self, execution: str):
        self.execution = execution

    def setup(self) -> None:
        raise ValueError(SETUP_MESSAGE)

    def process(self, batch: list) -> list:
        return batch


class FailingProcess(Stage):
    name = "failing-process"
    batch_size = 1

    def __init__(self, execution: str):
        self.execution = execution

    def process(self, batch: list) -> list:
        if 2 in batch:
            raise ValueError(PROCESS_MESSAGE)
        return batch


class Doubling(Stage):
    name = "doubling"
    batch_size = 2

    def __init__(self, execution: str):
        self.execution = execution

    def process(self, batch: list) -> list:
        return [2 * x for x in batch]


class TwoArgumentError(Exception):
    def __init__(self, path: str, why: str):
        super().__init__(f"{path}: {why}")


# before the Ray tests: they follow one another on the shared cluster, which stops after the last of a row
def test_an_error_that_does_not_pickle_keeps_its_type_name_and_message():
    from preprocess.runner import _process_batch

    class Unpicklable(Stage):
        def process(self, batch):
            raise TwoArgumentError("/data/a.png", "truncated")

    with pytest.raises(RuntimeError, match=r"^TwoArgumentError: /data/a.png: truncated$"):
        _process_batch(Unpicklable(), [1]).reraise()  # as a Ray task returns it, without starting Ray


@pytest.fixture
def joined_ray(ray_cluster):
    """This process joined to the shared cluster for the one test: a driver still joined once the cluster
    stopped (after the last test that needs it) is ended by Ray's core worker 60 s later, pytest with it."""
    import ray

    from contracts.ray_runtime import ensure_ray

    ensure_ray(address=ray_cluster)
    yield
    ray.shutdown()


@ray_cluster_group
@pytest.mark.parametrize("execution", ["actors", "tasks"])
@pytest.mark.parametrize("stage_class, message", [(FailingSetup, SETUP_MESSAGE), (FailingProcess, PROCESS_MESSAGE)])
def test_a_stage_error_reaches_the_caller_as_itself(joined_ray, capfd, execution, stage_class, message):
    start = time.monotonic()
    with pytest.raises(ValueError) as raised:
        run_stage(stage_class(execution), [1, 2, 3], backend="ray", num_actors=2)
    assert type(raised.value) is ValueError  # not Ray's wrapper that also passes for one
    assert str(raised.value) == message
    assert time.monotonic() - start < 60  # no restarts of a failing actor
    err = capfd.readouterr().err
    assert "Traceback" not in err and "retries" not in err, err
    # the worker's traceback is kept as the cause, where it was raised, for LUMINA_TRACEBACK=1 (a test of
    # its own ran a fifth failing stage for it)
    where = "in setup" if stage_class is FailingSetup else "in process"
    assert where in str(raised.value.__cause__), raised.value.__cause__


@ray_cluster_group
@pytest.mark.parametrize("execution", ["actors", "tasks"])
def test_results_still_come_back_in_input_order(joined_ray, execution):
    assert run_stage(Doubling(execution), list(range(7)), backend="ray", num_actors=2) == [2 * x for x in range(7)]
