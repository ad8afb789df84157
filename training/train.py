"""Command line for the trainer, for launchers that start a Python module on every process:

    python -m training.train --manifest demo-train --home lumina_home --steps 800
    torchrun --nproc_per_node=2 -m training.train --manifest demo-train --home lumina_home --out-dir runs/ddp
    python -m training.train --manifest demo-train --resume --out-dir runs/ddp

Every TrainConfig option is a flag (as in `lumina train`); rank 0 registers checkpoints and metrics
in the catalog as they are written.
"""

from __future__ import annotations

import json
import os
import sys

from contracts.config import ArgumentParser
from training.config import MODEL_OVERRIDES_HELP, TrainConfig, model_overrides_arg  # torch-free: the trainer after the checks


def main(argv: list[str] | None = None, as_command: bool = False) -> int:
    """``as_command``: run as ``python -m training.train`` (the process ends with this call)."""
    from flows.cli_config import add_common_args, add_config_args, config_from_args

    p = _Parser(prog="python -m training.train", description="Train a Flag-DiT with flow matching on a catalog manifest.")
    add_common_args(p, "lr=0.0005")
    add_config_args(p, TrainConfig)
    p.add_argument("--out", dest="out_dir_alias", help="same as --out-dir")
    p.add_argument("--model-overrides", type=model_overrides_arg, help=MODEL_OVERRIDES_HELP)
    a = p.parse_args(argv)
    extra = {"model_overrides": a.model_overrides} if a.model_overrides is not None else {}
    if a.out_dir_alias and not a.out_dir:
        extra["out_dir"] = a.out_dir_alias
    try:
        cfg = config_from_args(TrainConfig, a, extra)
    except ValueError as e:  # a bad option value: one line, exit 2, as lumina train does
        p.error(str(e))
    if not cfg.manifest:
        p.error("--manifest is required")
    from contracts.layout import missing_catalog
    from flows.cli import EXIT_USAGE, end_now_if_cluster_lost, user_error_line, user_errors

    # train_step's first refusal, before flows.steps imports torch (~1.5 s of CPU) and DuckDB; where
    # flows.steps is imported already (a process that trained, a test's stand-in), it says the same line
    if "flows.steps" not in sys.modules and (missing := missing_catalog(a.home, cfg.catalog)) is not None:
        say_error(f"{p.prog}: error: {missing}")
        return EXIT_USAGE
    from flows.steps import train_step
    from training.stopping import TrainingStopped
    from training.trainer import show_training_messages

    show_training_messages()
    from training.distributed import restarted_attempt

    cfg = restarted_attempt(cfg)  # a torchrun --max-restarts attempt continues its run from its last checkpoint
    try:
        out = train_step(a.home, cfg)
    except TrainingStopped as e:  # SIGTERM/SIGINT: the checkpoint is written; exit as the signal would
        if _rank() == 0:  # every rank stops; torchrun printed the line once per rank
            print(str(e), file=sys.stderr)
        return stopped_exit_code(e)
    except user_errors() as e:  # a damaged checkpoint, a refused --resume, a diverged run: one line, as lumina train
        say_error(f"{p.prog}: error: {user_error_line(e)}")
        if as_command:  # as lumina train: not Ray's shutdown against a dead cluster
            end_now_if_cluster_lost(e)
        return EXIT_USAGE
    except RuntimeError as e:  # under torchrun, another rank ended under a collective: one line, not gloo's traceback
        from training.distributed import peer_lost_line

        if "TORCHELASTIC_RUN_ID" not in os.environ or (line := peer_lost_line(e, cfg)) is None:
            raise
        user_error_line(e)  # the traceback with LUMINA_TRACEBACK=1
        print(f"{p.prog}: error: rank {_rank()}: {line}", file=sys.stderr, flush=True)  # no error file: the rank that ended is the root cause
        return 1
    if out.get("run_id"):  # rank 0
        keep = ("checkpoint", "checkpoint_id", "steps", "resumed_from_step", "seconds", "final_loss", "padding_fraction",
                "tokens_per_second", "loss_curve")
        print(json.dumps({k: out[k] for k in keep if k in out}, default=str))
    return 0


# how long a rank other than 0 waits before it prints its own error line: rank 0 meets the same
# refusal and prints it; a rank that exited first had torchrun kill rank 0 before it printed (1 in 8)
OTHER_RANKS_WAIT_S = 10.0


def say_error(line: str) -> None:
    """A user error's one line, said once per run: rank 0 prints it at once. Another rank first waits
    `OTHER_RANKS_WAIT_S` for rank 0, which meets the same refusal, prints it and exits, whereupon
    torchrun ends the other ranks; one still there has an error of its own (a file only it cannot
    read, ...), and prints it naming its rank. Under torchrun the line also goes to the rank's error
    file (TORCHELASTIC_ERROR_FILE), so the agent's failure report shows it where it showed "<N/A>"."""
    import time

    rank = _rank()
    if rank != 0:
        time.sleep(OTHER_RANKS_WAIT_S)
        prog, _, text = line.partition(": error: ")
        line = f"{prog}: error: rank {rank}: {text}" if text else f"rank {rank}: {line}"
    _write_error_file(line)
    print(line, file=sys.stderr, flush=True)


def _write_error_file(line: str) -> None:
    """torchrun's error file for this rank, in the format of torch.distributed.elastic's ErrorHandler
    (its `record_exception` would put our traceback in the report): the line, where the report prints
    a traceback."""
    import os
    import time

    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path:
        return
    try:
        with open(path, "w") as f:
            json.dump({"message": {"message": line, "extraInfo": {"py_callstack": line,
                                                                  "timestamp": str(int(time.time()))}}}, f)
    except OSError:  # the report says "<N/A>" then, as before; the line is printed anyway
        pass


class _Parser(ArgumentParser):
    """A usage error (an unknown flag, a bad value) said once under torchrun, as other user errors
    (`say_error`): every rank printed it."""

    def error(self, message: str):
        say_error(f"{self.prog}: error: {message} (--help for usage)")
        self.exit(2)


def stopped_exit_code(e) -> int:
    """128 + the signal, as the shell reports a process a signal ended; under torchrun 0: its agent
    takes any other code for a failed worker, kills the ranks still finishing (rank 0 after its
    bookkeeping), prints a ChildFailedError report, exits 1, and with --max-restarts starts the
    stopped run again. A signal to torchrun itself ends it with exit 1 and a SignalException
    traceback whatever its workers return: its agent raises that signal again once they have stopped."""
    import torch.distributed as dist

    return 0 if dist.is_torchelastic_launched() else e.exit_code


def _rank() -> int:
    """This process's rank: torchrun's RANK (the process group may be gone by now), else 0 (a $RANK
    set without torchrun, by a batch system or a shell, is no rank of ours: its error waited 10 s and
    was labelled "rank N")."""
    import os

    if "TORCHELASTIC_RUN_ID" not in os.environ:  # torch.distributed.is_torchelastic_launched(), before torch is imported
        return 0
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main(as_command=True))
