"""`python -m training.train` refuses a catalog that is not there before torch is imported: it
imported torch (through flows.steps, ~1.5 s of CPU) and DuckDB first, then said the same line.
The line and the exit code are train_step's (contracts.layout.catalog_not_found_message, exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "ray", "prefect", "duckdb", "pyarrow")


def _run(args: list[str], cwd: Path) -> tuple[int, list[str], set[str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("TORCHELASTIC_RUN_ID", "LUMINA_CATALOG", "LUMINA_TRACEBACK")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "training.train", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, env=env)
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    said = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
    return done.returncode, said, imported & set(HEAVY)


def test_a_missing_catalog_is_refused_before_torch(tmp_path):
    from contracts.layout import catalog_not_found_message as not_found_message

    nothing = tmp_path / "nothing"
    cases = [
        (["--home", str(nothing), "--manifest", "m"], nothing / "catalog.duckdb"),
        (["--home", str(nothing), "--manifest", "m", "--resume"], nothing / "catalog.duckdb"),  # the --resume lookup's refusal
        (["--manifest", "m", "--catalog", "rel/typo.duckdb"], tmp_path / "rel" / "typo.duckdb"),  # relative: resolved as Catalog.open does
    ]
    for args, path in cases:
        code, said, heavy = _run(args, tmp_path)
        assert code == 2, (args, said)
        assert said == [f"python -m training.train: error: {not_found_message(path)}"], (args, said)
        assert heavy == set(), (args, sorted(heavy))
    code, said, heavy = _run(["--home", str(nothing), "--steps", "10"], tmp_path)  # no --manifest: refused first
    assert (code, heavy) == (2, set()) and said == ["python -m training.train: error: --manifest is required (--help for usage)"], said


def test_a_catalog_that_is_there_is_not_refused(tiny_home, tmp_path):
    """The check only refuses what is missing: with the catalog there, train_step's own refusal
    (an unknown manifest) comes as before."""
    code, said, _ = _run(["--home", str(tiny_home.home), "--manifest", "no-such-manifest"], tmp_path)
    assert code == 2 and len(said) == 1 and "no-such-manifest" in said[0] and "no catalog" not in said[0], said
