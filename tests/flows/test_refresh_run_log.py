"""The scheduled refresh's own messages reach its flow run's log (the Prefect UI), each once: "waiting
for the catalog ... (PID n)" (catalog) and "resuming an interrupted curation" (preprocess) were on
the worker's console only, since Prefect sends only its own loggers to a run's log (helper D's
scheduled-refresh walk)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.flows.test_flow_training_messages import _run_logs
from tests.training.test_distributed import ENV

pytestmark = pytest.mark.xdist_group("prefect_server")  # the shared test server's worker

REFRESH = """
import logging, sys
from pathlib import Path
import flows.refresh as refresh
from preprocess.image.demo_corpus import write_demo_corpus

src = write_demo_corpus(Path(sys.argv[1]) / "corpus", num_digits=2, num_shapes=0).root / "digits"
real = refresh.refresh_source

def said_by_the_stages(*a, **k):  # what the stages log while they work, as the catalog and curation do
    logging.getLogger("catalog.db").warning("waiting for the catalog (a test's stand-in)")
    logging.getLogger("preprocess.curate").info("resuming an interrupted curation (a test's stand-in)")
    return real(*a, **k)

refresh.refresh_source = said_by_the_stages
from prefect import get_client
state = refresh.refresh_flow(source=str(src), home=sys.argv[1] + "/home", options={"vae_factor": 1},
                             encode_options={"text": "phone"}, backend="local", return_state=True)
print("RUN", state.state_details.flow_run_id)
"""


def test_the_stages_messages_are_in_the_refresh_runs_log_once(tmp_path, prefect_api_url):
    proc = subprocess.run([sys.executable, "-c", REFRESH, str(tmp_path)], env={**ENV, "PREFECT_API_URL": prefect_api_url},
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_id = proc.stdout.split("RUN ")[1].split()[0]
    said = [(r.name, r.level, r.message) for r in _run_logs(prefect_api_url, run_id)
            if r.name.startswith(("catalog", "preprocess"))]
    assert said == [("catalog.db", 30, "waiting for the catalog (a test's stand-in)"),
                    ("preprocess.curate", 20, "resuming an interrupted curation (a test's stand-in)")], said
