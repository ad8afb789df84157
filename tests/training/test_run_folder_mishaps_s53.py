"""A week of training a user's own corpus (helper R's walkthrough, session 53): a run folder whose path
holds a space or a non-ASCII letter, and keep_last on a disk where an old checkpoint cannot go.

- The commands the messages hand out (`--resume --out-dir RUN`, `mv DAMAGED ASIDE`, `--init-from CKPT`)
  printed such a path bare: `lumina train: stopped by SIGTERM at step 1; ... continue with --resume
  --out-dir /tmp/runs/my stop é`, which a pasted command splits into two arguments.
- `prune` ignored every error: a checkpoint it could not delete (read-only, immutable) stayed on
  disk with nothing said, so keep_last quietly kept them all on a filling disk; and it deleted in
  place, so a kill midway left a published `checkpoint-N` with files missing.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
from pathlib import Path

from training import state
from training.config import TrainConfig
from training.distributed import without_init_from
from training.state import checkpoints, clear_unfinished, latest_resumable, prune, write_failed
from training.stopping import resume_advice


def _run_folder(tmp_path: Path) -> Path:
    run = tmp_path / "my runs" / "été 1"
    for step in (1, 2, 3):
        (run / f"checkpoint-{step:07d}").mkdir(parents=True)
    return run


def _words_after(message: str, flag: str) -> str:
    """The argument a shell gives ``flag`` when the message's command from it on is pasted."""
    words = shlex.split(message[message.index(flag):].split(";")[0].split(" continues")[0])
    return words[1]


def test_resume_advice_quotes_a_run_folder_with_a_space(tmp_path):
    run = _run_folder(tmp_path)
    advice = resume_advice(run / "checkpoint-0000003")
    assert _words_after(advice, "--out-dir") == str(run), advice
    assert resume_advice("/plain/run/checkpoint-0000003") == "continue with --resume --out-dir /plain/run"


def test_a_run_begun_from_init_from_keeps_its_advice_under_a_quoted_folder(tmp_path):
    """without_init_from cuts resume_advice after the --out-dir part: with the folder quoted there
    it must still find it (else the 'and without --init-from' half was lost)."""
    run = _run_folder(tmp_path)
    cfg = TrainConfig(out_dir=str(run), init_from=str(tmp_path / "stage1" / "checkpoint-0000009"))
    assert without_init_from(cfg, run / "checkpoint-0000003").startswith(" and without --init-from"), \
        without_init_from(cfg, run / "checkpoint-0000003")


def test_write_failed_and_damaged_newest_give_pastable_commands(tmp_path, monkeypatch):
    run = _run_folder(tmp_path)
    newest = run / "checkpoint-0000004"
    failed = str(write_failed(run, newest, run / ".checkpoint-0000004-x", OSError(28, "No space left on device")))
    assert _words_after(failed, "--out-dir") == str(run), failed
    (run / "checkpoint-0000002" / "train_state.json").write_text("{}")
    monkeypatch.setattr(state, "checkpoint_problems", lambda *a, **k: [])  # the folders' files are not the point
    try:
        latest_resumable(run, content=False)
        raise AssertionError("a newest checkpoint without train_state.json was resumed")
    except ValueError as e:
        msg = str(e)
    mv = shlex.split(msg[msg.index("mv "):].split(";")[0])
    assert mv[1:] == [str(run / "checkpoint-0000003"), str(run / "damaged-checkpoint-0000003")], msg


def test_prune_says_once_that_it_could_not_delete_a_checkpoint(tmp_path, monkeypatch, caplog):
    run = _run_folder(tmp_path)
    stuck = run / "checkpoint-0000001"
    real_replace, real_rmtree = os.replace, shutil.rmtree

    def replace(src, dst, *a, **k):  # what an immutable (chattr +i) or read-only folder answers
        if Path(src) == stuck:
            raise PermissionError(1, "Operation not permitted", str(src))
        return real_replace(src, dst, *a, **k)

    def rmtree(path, ignore_errors=False, *a, **k):
        if Path(path) == stuck:
            if ignore_errors:
                return None
            raise PermissionError(1, "Operation not permitted", str(path))
        return real_rmtree(path, ignore_errors, *a, **k)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(shutil, "rmtree", rmtree)
    with caplog.at_level(logging.WARNING):
        prune(run, 1)
        (run / "checkpoint-0000004").mkdir()
        prune(run, 1)
    said = [r.getMessage() for r in caplog.records if "could not delete" in r.getMessage()]
    assert len(said) == 1 and str(stuck) in said[0] and "Operation not permitted" in said[0], said
    assert [p.name for p in checkpoints(run)] == ["checkpoint-0000001", "checkpoint-0000004"]


def test_a_kill_while_pruning_leaves_no_half_deleted_published_checkpoint(tmp_path, monkeypatch):
    run = _run_folder(tmp_path)
    (run / "checkpoint-0000001" / "model.safetensors").write_bytes(b"x")
    (run / "checkpoint-0000001" / "train_state.json").write_text("{}")
    real_rmtree = shutil.rmtree

    class Killed(BaseException):
        pass

    def rmtree_killed_midway(path, *a, **k):  # one file gone, then the process dies
        os.remove(Path(path) / "model.safetensors")
        raise Killed

    monkeypatch.setattr(shutil, "rmtree", rmtree_killed_midway)
    try:
        prune(run, 2)
    except Killed:
        pass
    monkeypatch.setattr(shutil, "rmtree", real_rmtree)
    assert [p.name for p in checkpoints(run)] == ["checkpoint-0000002", "checkpoint-0000003"]
    assert [p.name for p in clear_unfinished(run)] == [".checkpoint-0000001-pruned"]


def test_weights_of_random_bytes_are_not_called_cut_short(tmp_path):
    """A model.safetensors overwritten with another file's bytes said 'cut short: 284176 bytes, but its
    header alone says 11406548041968746919' (walkthrough: --init-from of such a folder)."""
    from training.state import safetensors_problem

    path = tmp_path / "model.safetensors"
    path.write_bytes(bytes(range(256)) * 8)
    assert safetensors_problem(path).startswith("not a safetensors file (its first 8 bytes give a header of ")


def _csv_with_tail(tmp_path: Path, tail: str) -> Path:
    from training.monitor import FIELDS

    path = tmp_path / "metrics.csv"
    rows = [",".join(FIELDS)] + [f"{s},{2 - s / 100},1.5,0.001,5000.0,0.04,8,{s / 10}" for s in range(1, 71)]
    path.write_text("\n".join(rows) + "\n" + tail)
    return path


def test_resume_keeps_metrics_csv_rows_past_a_power_loss_tail(tmp_path):
    """A power loss can bring a file's last blocks back as zero bytes: --resume stopped with "lumina train:
    error: could not convert string to float: '\\x00\\x00...'" (walkthrough: printf '\\0...' >> metrics.csv)."""
    from training.monitor import RunMonitor

    path = _csv_with_tail(tmp_path, "\0" * 12)
    RunMonitor(tmp_path, start_step=60, tensorboard=False).close()
    steps = [line.split(",")[0] for line in path.read_text().splitlines()[1:]]
    assert steps == [str(s) for s in range(1, 61)]


def test_resume_drops_a_row_a_kill_cut_short(tmp_path):
    """A kill mid-write left '1' of the row of step 125: it was kept as a row of step 1 after step 60."""
    from training.monitor import RunMonitor

    path = _csv_with_tail(tmp_path, "1")
    RunMonitor(tmp_path, start_step=60, tensorboard=False).close()
    steps = [line.split(",")[0] for line in path.read_text().splitlines()[1:]]
    assert steps == [str(s) for s in range(1, 61)]
