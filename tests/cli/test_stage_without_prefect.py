"""A stage run from the command line, outside any Prefect flow, does not import Prefect: the catalog
writer's flow-run limit and the loss-curve artifact asked `prefect.context` whether a flow was
running, which cost about 2 s of CPU on every `lumina curate`, `encode` and `train`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import sys
from flows.cli import main
from preprocess.image.demo import write_corpus
src = write_corpus(sys.argv[1] + "/src", num_digits=12, num_shapes=6)
code = main(["curate", str(src), "--home", sys.argv[1] + "/home", "--local", "--json"])
print("EXIT", code, "PREFECT", "prefect" in sys.modules)
"""


def test_lumina_curate_outside_a_flow_imports_no_prefect(tmp_path):
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "EXIT 0 PREFECT False" in done.stdout, done.stdout[-2000:]
