"""tests/flows/prefect_commands_s57c.py, which runs test_deployment.py's set-up commands in one
interpreter, each as the `prefect` console script would (prefect.cli.app reading sys.argv): a
failing command fails the whole set-up with its exit code, and the ones after it do not run (they
would act on a server the failed one left unprepared). Prefect's CLI is stood in for: the real
one runs in test_deployment.py."""

import sys
import types

from tests.flows.prefect_commands_s57c import run_commands


def test_the_commands_run_in_order_and_the_first_failure_stops_them(monkeypatch, capsys):
    seen = []

    def app():  # as the console script's entry point: the command line from sys.argv, SystemExit on failure
        seen.append(sys.argv[1:])
        if sys.argv[1] == "fails":
            raise SystemExit(3)
        if sys.argv[1] == "exits":
            raise SystemExit(0)

    monkeypatch.setattr(sys, "argv", list(sys.argv))  # restored afterwards
    monkeypatch.setitem(sys.modules, "prefect.cli", types.SimpleNamespace(app=app))
    assert run_commands([["work-pool", "create", "p"], ["exits"], ["--no-prompt", "deploy", "--all"]]) == 0
    assert seen == [["work-pool", "create", "p"], ["exits"], ["--no-prompt", "deploy", "--all"]]
    seen.clear()
    assert run_commands([["a"], ["fails", "x"], ["never"]]) == 3
    assert seen == [["a"], ["fails", "x"]]
    assert "prefect fails x: exit 3" in capsys.readouterr().out
