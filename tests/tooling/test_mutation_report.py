"""bench/mutation/run.py: a run of some modules never replaces the committed whole-run report."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "bench" / "mutation" / "run.py"


def _run_module():
    spec = importlib.util.spec_from_file_location("mutation_run", RUN)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_only_a_report_of_every_module_goes_to_the_committed_file(tmp_path):
    run = _run_module()
    one = run.Mutant("modelzoo.linear.x_f__mutmut_1", "killed")
    done = [run.ModuleResult(name, 1.0, [one]) for name in ("a", "b")]
    assert run.report_path(done, ["a", "b"], tmp_path) == RUN.parent / "REPORT.md"
    assert run.report_path(done[:1], ["a", "b"], tmp_path) == tmp_path / "REPORT-partial.md"
    not_run = [done[0], run.ModuleResult("b", 0.0, error="not run (no stored result in --work)")]
    assert run.report_path(not_run, ["a", "b"], tmp_path) == tmp_path / "REPORT-partial.md"


def test_a_one_module_report_leaves_report_md_alone(tmp_path):
    """run.py in a copy of bench/mutation/ (its files are found next to it), so the test never
    writes to the real tree."""
    here = tmp_path / "bench" / "mutation"
    here.mkdir(parents=True)
    for name in ("run.py", "modules.toml", "equivalent.toml", "notes.md", "REPORT.md"):
        shutil.copy2(RUN.parent / name, here / name)
    committed = (here / "REPORT.md").read_bytes()
    work = tmp_path / "work"
    work.mkdir()
    (work / "linear.json").write_text(json.dumps(
        {"name": "linear", "seconds": 3.0, "error": None, "load": "0.1/0.1/0.1", "cpu_seconds": 3.0,
         "mutants": [["modelzoo.linear.x_f__mutmut_1", "killed", ""]]}))
    proc = subprocess.run([sys.executable, str(here / "run.py"), "linear", "--report-only", "--work", str(work)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (here / "REPORT.md").read_bytes() == committed
    partial = (work / "REPORT-partial.md").read_text()
    assert "| linear | 1 | 1 | 0 | 0 | 100.0% |" in partial
    assert "REPORT.md kept" in proc.stdout
