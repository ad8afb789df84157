"""Ctrl-C twice: the first ends the command ("interrupted", exit 130), the second arrived while the
exit ran Ray's atexit shutdown, which it broke into with "Exception ignored in atexit callback", a
traceback, and at times a segfault (exit 139). The `lumina` command now leaves at once on the second.

Ray's shutdown is stood in for by an atexit callback that sleeps; the command by one that raises
KeyboardInterrupt, as a first Ctrl-C does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

SCRIPT = """
import atexit, sys, time
import flows.cli as cli

def slow_shutdown():  # what ray.shutdown does at exit: seconds of flushing and joining
    print("shutting down", file=sys.stderr, flush=True)
    time.sleep(30)

def interrupted(argv):
    raise KeyboardInterrupt

atexit.register(slow_shutdown)
cli.COMMANDS["curate"] = ("curate", interrupted)
sys.argv = ["lumina", "curate"]
sys.exit(cli.main())
"""


def test_a_second_ctrl_c_during_the_exit_leaves_at_once_without_a_traceback():
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    env.pop("LUMINA_TRACEBACK", None)
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    for line in proc.stderr:  # wait until the exit is in its (stand-in) Ray shutdown
        lines.append(line)
        if line.startswith("shutting down"):
            break
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    rc = proc.wait(timeout=20)
    err = "".join(lines) + rest
    assert rc == 130, err
    assert time.monotonic() - start < 10, err  # not the 30 s shutdown
    assert "lumina curate: interrupted\n" in err
    assert "Traceback" not in err and "Exception ignored" not in err, err


def test_main_called_by_a_program_keeps_its_ctrl_c(monkeypatch):
    """A caller of main(argv) (tests, scripts) keeps its own SIGINT handler: only the command installs one."""
    import flows.cli as cli

    monkeypatch.setitem(cli.COMMANDS, "curate", ("curate", lambda argv: (_ for _ in ()).throw(KeyboardInterrupt)))
    before = signal.getsignal(signal.SIGINT)
    assert cli.main(["curate"]) == 130
    assert signal.getsignal(signal.SIGINT) is before
