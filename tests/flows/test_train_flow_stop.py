"""SIGTERM to a process running a training flow, which is what a cancelled or preempted deployment
run gets: the checkpoint is written and registered, the catalog run is 'cancelled', and the Prefect
flow run ends Cancelled (not Crashed), its message saying where to resume."""

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.training.test_distributed import ENV, TINY, own_home



def _rows(metrics: list[Path]) -> int:
    try:
        return max(0, metrics[0].read_text().count("\n") - 1) if metrics else 0
    except FileNotFoundError:
        return 0


def _flow_runs(api_url: str, flow_name: str, home: Path) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])))
    return [r for r in runs if r.parameters.get("home") == str(home)]


def _small_source(tiny_home, folder: Path, n: int = 32) -> Path:
    """The first ``n`` digits of the tiny workspace's corpus, with their captions: all the
    data_to_model variant needs before its training starts (the whole corpus, 220 inputs, cost
    seconds of curating and encoding first)."""
    digits = folder / "source" / "digits"
    digits.mkdir(parents=True)
    for png in sorted((tiny_home.home / "source" / "digits").glob("*.png"))[:n]:
        shutil.copy(png, digits / png.name)
        shutil.copy(png.with_suffix(".txt"), digits / f"{png.stem}.txt")
    return folder


def _call(flow: str, home: Path, tiny_home) -> tuple[str, str]:
    common = {"model_overrides": TINY, "batch_size": 8}
    if flow == "train":
        options = {**common, "progress": False, "tensorboard": False, "steps": 100000, "log_every": 1, "num_threads": 1,
                   "shuffle_buffer": 16, "null_caption": tiny_home.null_caption}
        return "from flows.train import train_flow as f", f"f(manifest={tiny_home.train_manifest!r}, home={str(home)!r}, options={options!r})"
    source = "source"  # relative to the process's folder (_small_source's): the run must record it absolute
    # the phone text encoder (as the fault suite's chain): MiniLM's imports and weights are seconds of
    # CPU before training, for captions nothing here reads
    return ("from flows.data_to_model import data_to_model as f",
            f"f(source={source!r}, home={str(home)!r}, backend='local', train_steps=100000, train_max_seconds=600, "
            f"model_overrides={TINY!r}, batch_size=8, encode_options={{'text': 'phone'}})")


@pytest.mark.slow
@pytest.mark.xdist_group("prefect_server")
@pytest.mark.parametrize("flow", ["train", "data_to_model"])
def test_sigterm_to_a_training_flow_ends_it_cancelled_with_a_registered_checkpoint(flow, tiny_home, tmp_path, prefect_api_url):
    from catalog import Catalog

    home = own_home(tiny_home, tmp_path) if flow == "train" else tmp_path / "home"
    cwd = tiny_home.home if flow == "train" else _small_source(tiny_home, tmp_path / "cwd")
    imp, call = _call(flow, home, tiny_home)
    proc = subprocess.Popen([sys.executable, "-c", f"{imp}; {call}"], env={**ENV, "PREFECT_API_URL": prefect_api_url},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd)
    deadline = time.time() + 300
    while _rows(sorted(home.glob("runs/*/metrics.csv"))) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert "stopping after step" in out, out[-5000:]

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, ckpts = cat.sql("SELECT step, uri FROM checkpoints")
        _, runs = cat.sql("SELECT status FROM runs WHERE flow_name = ?", [flow])
        _, sources = cat.sql("SELECT parameters->>'source' FROM runs WHERE flow_name = 'data_to_model'")
    # as curate and refresh record it, so a refresh finds what this run curated
    assert sources == ([(str((cwd / "source").resolve()),)] if flow == "data_to_model" else [])
    assert len(ckpts) == 1 and ckpts[0][0] >= 3 and Path(ckpts[0][1], "train_state.json").exists(), ckpts
    assert runs == [("cancelled",)]
    (prefect_run,) = _flow_runs(prefect_api_url, flow, home)
    assert prefect_run.state.is_cancelled(), prefect_run.state
    assert f"at step {ckpts[0][0]}" in prefect_run.state.message and "--resume" in prefect_run.state.message


def test_the_stop_comes_back_from_a_cancelled_states_message():
    from training.stopping import TrainingStopped

    stopped = TrainingStopped.from_message(str(TrainingStopped(signal.SIGINT, 12, "/runs/r1/checkpoint-0000012")))
    assert (stopped.signum, stopped.step, stopped.checkpoint, stopped.exit_code) == (signal.SIGINT, 12, "/runs/r1/checkpoint-0000012", 130)
    assert TrainingStopped.from_message("Flow run was cancelled by a user") is None


def test_lumina_demo_exits_as_the_signal_would_when_training_was_stopped(monkeypatch, capsys, tmp_path):
    """data_to_model ends Cancelled when training is signalled; `lumina demo` prints where to resume and exits 143."""
    from contextlib import nullcontext

    from prefect.logging.handlers import APILogWorker
    from prefect.states import Cancelled

    import flows.data_to_model
    import flows.local_prefect
    from flows.cli import main
    from training.stopping import TrainingStopped

    message = str(TrainingStopped(signal.SIGTERM, 7, str(tmp_path / "checkpoint-0000007")))
    monkeypatch.setattr(flows.data_to_model, "data_to_model", lambda **kw: Cancelled(message=message))
    monkeypatch.setattr(flows.local_prefect, "local_prefect_server", lambda **kw: nullcontext())
    monkeypatch.setattr(APILogWorker, "drain_all", classmethod(lambda cls, timeout=None: None))
    assert main(["demo", "--home", str(tmp_path / "home")]) == 143
    err = capsys.readouterr().err
    assert "stopped by SIGTERM at step 7" in err and "--resume" in err


@pytest.mark.parametrize("stop, status", [(KeyboardInterrupt, "cancelled"), (SystemExit, "cancelled"),
                                          ("termination", "cancelled"), (ValueError, "failed")])
def test_a_stage_stopped_from_outside_is_recorded_cancelled_not_failed(tmp_path, stop, status):
    """A Prefect cancellation of a refresh deployment ended its catalog run `failed`, so an operator
    could not tell a deliberate cancel from a real failure."""
    from prefect.exceptions import TerminationSignal

    from catalog import Catalog
    from contracts.layout import Workspace
    from flows.steps import catalog_run

    ws = Workspace.at(tmp_path)
    error = TerminationSignal(signal=15) if stop == "termination" else stop()
    with pytest.raises(type(error)):
        with catalog_run(ws, "refresh", {}) as rid:
            raise error
    with Catalog.open(ws.catalog, read_only=True) as cat:
        assert cat.sql("SELECT status FROM runs WHERE run_id = ?", [rid])[1] == [(status,)]
