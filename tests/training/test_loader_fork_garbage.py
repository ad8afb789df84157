"""A loader worker forked while this process held an uncollected gloo ProcessGroup (an earlier run's,
left in a reference cycle) collected it in the child, where its destructor waited on threads a fork
does not copy: the worker hung for good (the full suite hung in test_trainer's resume with loader
workers after a torch.distributed test on the same pytest worker). Run in a child process with a
time limit, since the old code never returns."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import gc, sys, tempfile
import torch, torch.distributed as dist
import training.stream as ts
from training.buckets import BatchBudget
from training.stream import ManifestIndex, Position, ShardStream, batch_loader
from training.synthetic import write_synthetic_shards

tmp = tempfile.mkdtemp()
manifest = write_synthetic_shards(tmp + "/shards", [(4, 1, 8, 8)] * 24, per_shard=8)
stream = ShardStream(ManifestIndex(manifest), BatchBudget(max_samples=4), lambda s: 16, seed=0, shuffle_buffer=4)

store = dist.FileStore(tmp + "/store", 1)
gc.disable()  # the group stays garbage until a collection: in the parent, or in a forked worker
group = dist.ProcessGroupGloo(store, 0, 1)
group.allreduce([torch.ones(1)]).wait()  # its threads have run
cycle = [group]
cycle.append(cycle)
del group, cycle
own_init = ts.leave_stop_signals_to_the_trainer


def collect_first(worker_id):  # a worker's collector runs, as it does once the worker has allocated enough
    gc.enable()
    gc.collect()
    own_init(worker_id)


ts.leave_stop_signals_to_the_trainer = collect_first
n = sum(1 for _ in zip(range(3), batch_loader(stream, Position(), workers=1)))
print("batches", n, flush=True)
"""


def test_a_loader_worker_forked_beside_garbage_process_group_does_not_hang():
    child = subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    try:
        out, err = child.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)  # the hung worker too
        child.communicate()
        raise AssertionError("the loader hung (its worker collected the inherited process group)") from None
    assert child.returncode == 0, err[-3000:]
    assert "batches 3" in out
