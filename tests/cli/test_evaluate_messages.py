"""`lumina evaluate` shows the evaluation's INFO messages on stderr (the --max-heldout cut, the judge
cache's hit); the command configured no logging, so they were never printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# evaluate_step replaced by one that says what the evaluation would say: the command's wiring only
PROBE = """
import logging, sys
import flows.steps
def fake_evaluate_step(home, cfg):
    logging.getLogger("evaluation.judging").info("judge: loaded from cache X")
    logging.getLogger("evaluation.judging").debug("not shown")
    return {"ok": 1}
flows.steps.evaluate_step = fake_evaluate_step
import flows.cli
from flows.cli import main
sys.exit(main(["evaluate", "--manifest", "m", "--checkpoint", "c"]))
"""


def test_lumina_evaluate_prints_the_evaluations_info_messages():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["judge: loaded from cache X"], done.stderr
