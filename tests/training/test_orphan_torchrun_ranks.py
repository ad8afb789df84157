"""torchrun's agent SIGKILLed (the OOM killer, `kill -9`, a scheduler that kills only the process it
started): torchrun starts each rank in a session of its own and ends them itself only when it is
signalled, so its ranks trained on as orphans (2 CPU ranks: still in their all-reduce loop 10 s after
the kill; a real run goes on for days, writing checkpoints, holding the run folder and its devices).
training.distributed.watch_launcher ends each rank as torchrun would have: SIGTERM (the trainer stops
at the next step with a checkpoint), then SIGKILL after a grace for a rank that does not stop.
A SIGTERM to torchrun was already passed on to its ranks by torchrun itself (they ended in 0.6 s)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.training.test_distributed import torchrun_env

RANKS = """
import os, signal, sys, time, torch
import training.distributed as d
d.LAUNCHER_POLL_S, d.LAUNCHER_GONE_GRACE_S = 0.2, float(os.environ["TEST_GRACE_S"])
rank, world, _ = d.init_distributed()
d.all_sum(torch.ones(1))  # the ranks talk to each other, not to the agent
if rank == 1:  # a rank that does not stop on SIGTERM (a handler that only asks for a stop, in a call that never returns)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(os.path.join(os.environ["TEST_OUT"], f"rank{rank}.pid"), "w").write(str(os.getpid()))
while True:  # rank 0 waits in an all-reduce rank 1 never joins; neither needs the agent
    if rank == 0:
        d.all_sum(torch.ones(1))
    time.sleep(0.1)
"""

GRACE_S = 2.0


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_the_ranks_of_a_sigkilled_torchrun_end_within_seconds(tmp_path):
    script = tmp_path / "ranks.py"
    script.write_text(RANKS)
    env = {**torchrun_env(tmp_path), "TEST_OUT": str(tmp_path), "TEST_GRACE_S": str(GRACE_S)}
    agent = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                              "--monitor-interval=0.5", str(script)], env=env, stdout=subprocess.DEVNULL,
                             stderr=open(tmp_path / "err", "w"))
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 120
        pid_files = [tmp_path / f"rank{r}.pid" for r in (0, 1)]
        while not all(f.exists() and f.read_text() for f in pid_files) and agent.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert agent.poll() is None, (tmp_path / "err").read_text()[-3000:]
        pids = [int(f.read_text()) for f in pid_files]
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait(10)
        killed = time.monotonic()
        ended: dict[int, float] = {}
        while len(ended) < 2 and time.monotonic() - killed < GRACE_S + 10:
            ended.update({pid: time.monotonic() - killed for pid in pids if pid not in ended and not _alive(pid)})
            time.sleep(0.05)
    finally:
        for pid in pids:  # before: both were still there, training
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    err = (tmp_path / "err").read_text()
    print({f"rank {r}": f"{ended.get(pid, float('nan')):.1f} s" for r, pid in enumerate(pids)})
    assert set(ended) == set(pids), f"ranks still alive {GRACE_S + 10:g} s after torchrun's SIGKILL: " \
                                    f"{[p for p in pids if p not in ended]}\n{err[-3000:]}"
    assert ended[pids[0]] < 3, ended  # SIGTERM, within a poll of the agent's death
    assert GRACE_S <= ended[pids[1]] < GRACE_S + 3, ended  # the one that ignored it: SIGKILL after the grace
    for r, pid in enumerate(pids):
        assert (f"rank {r} (pid {pid}): its launcher (pid {agent.pid}, torchrun's agent) is gone: stopping at the next "
                f"step with a checkpoint (SIGTERM; SIGKILL in {GRACE_S:g} s)") in err, err[-3000:]
