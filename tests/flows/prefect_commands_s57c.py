"""Several `prefect` commands in one interpreter, each as the console script runs it (prefect.cli.app
with its argv): tests/flows/test_deployment.py's documented set-up lines (docs/deployments.md: work
pool, work queue, gcl, deploy --all) cost one interpreter's imports (~2.5 s of CPU each) instead of
four. Prints each command and its output; exits with the first failing command's code.

    python -m tests.flows.prefect_commands_s57c '["work-pool", "create", "p", "--type", "process"]' '[...]'
"""

from __future__ import annotations

import json
import sys


def exit_code(e: SystemExit) -> int:
    return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)


def run_commands(commands: list[list[str]]) -> int:
    from prefect.cli import app

    for argv in commands:
        print(f"$ prefect {' '.join(argv)}", flush=True)
        sys.argv = ["prefect", *argv]
        try:
            app()
            code = 0
        except SystemExit as e:
            code = exit_code(e)
        sys.stdout.flush()
        if code:
            print(f"prefect {' '.join(argv)}: exit {code}", flush=True)
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(run_commands([json.loads(a) for a in sys.argv[1:]]))
