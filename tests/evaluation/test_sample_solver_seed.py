"""`--solver heun` said only "'heun' is not a valid Solver" (after the model loaded), and `--seed
99999999999999999999` ended in "Overflow when unpacking long long": both are refused before any
model loads, in one line with what is allowed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from evaluation.evaluate import EvalConfig
from evaluation.sample import SampleConfig
from modelzoo.transport.samplers import Solver

MAKERS = [lambda **k: SampleConfig(checkpoint="c", prompt="p", **k), lambda **k: EvalConfig(manifest="m", checkpoint="c", **k)]


def test_an_unknown_solver_names_the_solvers():
    with pytest.raises(ValueError, match=r"^'heun' is not a solver: choose from euler, midpoint, rk4, dopri5$"):
        Solver("heun")
    assert Solver("rk4") is Solver.RK4


@pytest.mark.parametrize("make", MAKERS)
def test_the_configs_refuse_it(make):
    with pytest.raises(ValueError, match=r"^--solver: 'heun' is not a solver: choose from euler, midpoint, rk4, dopri5$"):
        make(solver="heun")


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("seed", [-1, 2**63, 99999999999999999999])
def test_a_seed_torch_cannot_take_is_refused(make, seed):
    with pytest.raises(ValueError, match=rf"^--seed must be between 0 and {2**63 - 1} \(2\*\*63 - 1\); got {seed}$"):
        make(seed=seed)


@pytest.mark.parametrize("make", MAKERS)
def test_the_ends_of_the_range_pass(make):
    make(seed=0)
    make(seed=2**63 - 1, solver="dopri5")


@pytest.mark.parametrize("args", [["--solver", "heun"], ["--seed", "99999999999999999999"]])
def test_lumina_sample_says_it_in_one_line_exit_2(tmp_path, args):
    proc = subprocess.run([sys.executable, "-m", "flows.cli", "sample", "--home", str(tmp_path), "--checkpoint", str(tmp_path),
                           "--prompt", "a", *args], capture_output=True, text=True)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert ("choose from euler" if args[0] == "--solver" else "--seed must be between 0 and") in proc.stderr
