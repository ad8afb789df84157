"""`lumina train --launcher ray`: a Python warning of rank 0's (a `py.warnings` record in
messages.jsonl) replayed by the driver prints above its progress bar, as its `training` records do.
No handler took it on a command line (it prints only the `training` logger's records), so logging's
last resort wrote it to stderr on the bar's own line: `train:  50%|... 1/2 [...]x.py:1: UserWarning`."""

from __future__ import annotations

import contextlib
import logging
import re
import sys

import tqdm

from contracts.messages import RecordsToFile, ReplayedRecords
from training.monitor import logging_above
from training.ray_launcher import MESSAGES_FILE, follow_progress
from training.trainer import TrainConfig

WARNING = "/venv/modelzoo/dit.py:88: UserWarning: patch_dim 48 is larger than dim 32\n  warnings.warn(\n"


class Bar(tqdm.tqdm):
    """tqdm, noting what it wrote above its bars (tqdm.write: the bars cleared, the line, the bars again)."""

    above: list[str] = []

    @classmethod
    def write(cls, s, file=None, end="\n", nolock=False):
        Bar.above.append(s)
        super().write(s, file=file, end=end, nolock=nolock)


@contextlib.contextmanager
def command_line_logging():
    """Logging as `lumina train` sets it up (contracts.messages.show_messages): a stderr handler on
    `training`, none on the root logger (pytest's, taken off for the while) nor on `py.warnings`."""
    root, warnings_log, training = logging.getLogger(), logging.getLogger("py.warnings"), logging.getLogger("training")
    taken = [(lg, h) for lg in (root, warnings_log) for h in lg.handlers]
    for lg, h in taken:
        lg.removeHandler(h)
    console, level = logging.StreamHandler(sys.stderr), training.level
    console.setFormatter(logging.Formatter("%(message)s"))
    training.addHandler(console)
    training.setLevel(logging.INFO)
    Bar.above = []
    try:
        yield
    finally:
        training.removeHandler(console)
        training.setLevel(level)
        for lg, h in taken:
            lg.addHandler(h)


def on_the_bars_line(err: str, text: str) -> list[str]:
    """The stderr pieces (between carriage returns and newlines) holding ``text`` after something else."""
    return [p for p in re.split(r"[\r\n]", err) if text in p and not p.startswith(text)]


def test_a_replayed_python_warning_prints_above_the_drivers_bar(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tqdm, "tqdm", Bar)  # follow_progress's bar
    path = tmp_path / MESSAGES_FILE
    replay, writer = ReplayedRecords(path, "t"), RecordsToFile(path, "t")
    writer.handle(logging.LogRecord("training.trainer", logging.INFO, __file__, 0, "epoch 0: 1 batch", None, None))
    writer.handle(logging.LogRecord("py.warnings", logging.WARNING, __file__, 0, WARNING, None, None))
    writer.close()
    with command_line_logging():
        with follow_progress(TrainConfig(out_dir=str(tmp_path), steps=2, log_every=1), every_s=60, messages=replay):
            pass  # the driver replays them as the workers end
    err = capsys.readouterr().err
    assert Bar.above == ["epoch 0: 1 batch", WARNING.rstrip("\n")]  # both above the bar
    assert "train:" in err and not on_the_bars_line(err, "/venv/modelzoo/dit.py:88"), err
    assert err.count("UserWarning: patch_dim 48") == 1, err


def test_without_a_bar_or_with_a_handler_for_them_records_go_where_they_went(capsys):
    """logging_above takes only the records logging's last resort would print, and only while a bar
    shows: with a root handler (Prefect's, pytest's) they stay its."""
    warnings_log = logging.getLogger("py.warnings")
    with command_line_logging():
        with logging_above(Bar(total=2, disable=True)):
            assert not warnings_log.handlers
            warnings_log.warning("no bar: %s", "logging's last resort prints it")
        assert Bar.above == []
        assert capsys.readouterr().err == "no bar: logging's last resort prints it\n"
        bar = Bar(total=2)
        with logging_above(bar):
            warnings_log.warning("with a bar: above it")
            logging.getLogger("training.trainer").warning("training's: above it")
        assert not warnings_log.handlers  # as it was
        bar.close()
        assert Bar.above == ["with a bar: above it", "training's: above it"]
    caught = logging.getLogger().handlers  # pytest's
    assert caught
    bar = Bar(total=2)
    with logging_above(bar):
        assert not warnings_log.handlers
    bar.close()

