"""Training inside a Prefect flow (`make demo`, the train deployment): the `training` messages (epoch
lines, --resume lines, warnings) reach the flow run's log, in the Prefect UI and on the console, each
once. Prefect sends only its own loggers to a run's log and the root logger shows WARNING and up, so
before none of the INFO lines were seen, and the warnings were on the console only."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from tests.training.test_distributed import ENV, TINY, own_home


def _run_logs(api_url: str, flow_run_id) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        return client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
                                sort=LogSort.TIMESTAMP_ASC)


def test_outside_a_prefect_run_nothing_changes():
    """`lumina train` shows the messages itself (show_messages): no handler, no level of ours."""
    from flows.steps import in_run_log

    logger = logging.getLogger("training")
    before = (list(logger.handlers), logger.level)
    with in_run_log("training"):
        assert (list(logger.handlers), logger.level) == before


@pytest.mark.slow
@pytest.mark.xdist_group("prefect_server")
def test_a_training_flow_runs_log_has_the_epoch_lines_once(tiny_home, tmp_path, prefect_api_url):
    """flows/train.py's train_flow (what `make demo`'s train task calls too: flows.steps.train_step)
    in a process of its own, as a deployment runs it, with its progress bar."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.settings import PREFECT_API_URL, temporary_settings

    home = own_home(tiny_home, tmp_path)
    options = {"model_overrides": TINY, "batch_size": 64, "steps": 4, "log_every": 2, "num_threads": 1,
               "tensorboard": False, "null_caption": tiny_home.null_caption}
    code = ("from flows.train import train_flow; "
            f"train_flow(manifest={tiny_home.train_manifest!r}, home={str(home)!r}, options={options!r})")
    proc = subprocess.run([sys.executable, "-c", code], env={**ENV, "PREFECT_API_URL": prefect_api_url},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with temporary_settings(updates={PREFECT_API_URL: prefect_api_url}), get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["train"])))
    (run,) = [r for r in runs if r.parameters.get("home") == str(home)]
    said = [(r.name, r.message) for r in _run_logs(prefect_api_url, run.id) if not r.name.startswith("prefect")]
    epochs = ["epoch 0: 3 batches, 61.3 samples per batch on average, 0 batches hold a single sample, [PAD] 0.0%",
              "epoch 1, batch 0 (so far): 1 batch, 64.0 samples per batch on average, 0 batches hold a single sample, [PAD] 0.0%"]
    assert said == [("training.trainer", m) for m in epochs], said
    console = proc.stderr.replace("\r", "\n").splitlines()
    for m in epochs:  # Prefect's console handler, above the bar
        assert sum(line.endswith(f"| INFO    | training.trainer - {m}") for line in console) == 1, proc.stderr[-3000:]


FLOWS = """
import logging, threading
from prefect import flow
from prefect.logging.handlers import APILogHandler
from flows.steps import in_run_log

log = logging.getLogger("training.trainer")

@flow(name="lumina-test-run-log")
def logs_training(extra: bool) -> str:
    from prefect.runtime import flow_run

    extra_handler = APILogHandler()  # what PREFECT_LOGGING_EXTRA_LOGGERS=training puts on the logger
    if extra:
        logging.getLogger("training").addHandler(extra_handler)
    with in_run_log("training"):
        log.info("epoch 0: in the run's context (extra loggers: %s)", extra)
        if not extra:
            t = threading.Thread(target=log.warning, args=("from a thread outside the run's context",))
            t.start()
            t.join()
    logging.getLogger("training").removeHandler(extra_handler)
    return flow_run.get_id()

barrier = threading.Barrier(2)


@flow(name="lumina-test-run-log-side-by-side")
def side_by_side(n: int) -> str:
    from prefect.runtime import flow_run

    with in_run_log("training"):
        barrier.wait()  # both runs' handlers on the logger
        log.info("run %d", n)
        barrier.wait()
    return flow_run.get_id()


import flows.steps as steps

steps._evaluate_step = lambda home, cfg, run_id=None: logging.getLogger("evaluation.judging").info("judge: loaded from cache") or {}


@flow(name="lumina-test-eval-log")
def evaluates() -> str:
    from prefect.runtime import flow_run

    steps.evaluate_step(None, None)  # what make demo's evaluate task calls
    return flow_run.get_id()


ids = [logs_training(False), logs_training(True), evaluates()]
side = [None, None]
threads = [threading.Thread(target=lambda n=n: side.__setitem__(n, side_by_side(n))) for n in (0, 1)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("RUNS", *ids, *side, logging.getLogger("training").level)
"""


@pytest.mark.slow
@pytest.mark.xdist_group("prefect_server")
def test_a_run_log_that_prefects_extra_loggers_feed_gets_each_message_once(prefect_api_url):
    """PREFECT_LOGGING_EXTRA_LOGGERS=training puts Prefect's API handler on `training` already: each
    message still once. A record from a thread outside the run's context (a loader's) goes to this
    run's log too (Prefect's handler alone warns that it has no flow run id, and drops it). Two runs
    side by side in one process: each message in its own run's log, once. evaluate_step sends the
    `evaluation` messages to its run's log the same way."""
    proc = subprocess.run([sys.executable, "-c", FLOWS], env={**ENV, "PREFECT_API_URL": prefect_api_url},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "without a flow run id" not in proc.stderr, proc.stderr[-3000:]
    *ids, level = proc.stdout.split("RUNS ")[1].split()
    said = [[(r.level, r.message) for r in _run_logs(prefect_api_url, i) if r.name in ("training.trainer", "evaluation.judging")]
            for i in ids]
    assert said == [[(20, "epoch 0: in the run's context (extra loggers: False)"),
                     (30, "from a thread outside the run's context")],
                    [(20, "epoch 0: in the run's context (extra loggers: True)")],
                    [(20, "judge: loaded from cache")],  # evaluate_step's messages (the judge cache) in the run's log
                    [(20, "run 0")], [(20, "run 1")]]  # two runs side by side in one process: each its own, once
    assert level == "0"  # the logger's level as it was (NOTSET)
