"""The Ray launcher's driver-side progress bar follows rank 0's metrics.csv."""

from __future__ import annotations

import os
import threading
import time

from training.monitor import FIELDS
from training.ray_launcher import follow_progress, last_logged_step
from training.trainer import TrainConfig


def test_last_logged_step_reads_the_last_complete_row(tmp_path):
    path = tmp_path / "metrics.csv"
    assert last_logged_step(path) == 0  # not written yet
    rows = "".join(f"{i},0.5,1,0.001,10,0,8,{i}\n" for i in range(1, 2001))
    path.write_text(",".join(FIELDS) + "\n" + rows + "2001,0.4")  # a row still being written
    assert last_logged_step(path) == 2000
    path.write_text(",".join(FIELDS) + "\n")
    assert last_logged_step(path) == 0


def followed(tmp_path, capsys, steps, row: str, start_up_s: float = 0.0, start_over: bool = False, **cfg) -> str:
    """The driver's bar (5 steps) while a thread plays rank 0: after `start_up_s` with no metrics.csv
    rows, one row per step 0.05 s apart. Returns what the bar wrote."""
    path = tmp_path / "metrics.csv"

    def rank_0():
        time.sleep(start_up_s)
        # as RunMonitor starts: metrics.csv rewritten as a new file, with the rows up to the resumed step
        kept = path.read_text() if path.exists() and not start_over else ",".join(FIELDS) + "\n"
        (tmp_path / "m.tmp").write_text(kept)
        os.replace(tmp_path / "m.tmp", path)
        for step in steps:
            time.sleep(0.05)
            with open(path, "a") as f:
                f.write(row.format(step=step))

    with follow_progress(TrainConfig(out_dir=str(tmp_path), **{"steps": 5, **cfg}), every_s=0.02):
        t = threading.Thread(target=rank_0)
        t.start()
        t.join()
    return capsys.readouterr().err


def test_the_bar_moves_as_rank_0_logs(tmp_path, capsys, monkeypatch):
    import training.ray_launcher as launcher

    path = tmp_path / "metrics.csv"
    path.write_text(",".join(FIELDS) + "\n" + "1,0.5,1,0.001,10,0,8,1\n")  # a resumed run's earlier row
    monkeypatch.setattr(launcher, "_resumed_step", lambda cfg: 1)  # resumed from checkpoint 1

    err = followed(tmp_path, capsys, range(2, 6), "{step},0.5,1,0.001,10,0,8,{step}\n")
    assert "1/5" in err and "5/5" in err
    with follow_progress(TrainConfig(out_dir=str(tmp_path), steps=5, progress=False)):
        pass
    assert capsys.readouterr().err == ""  # --no-progress: no bar


def test_the_bar_shows_each_windows_mean_loss_and_padding_not_the_last_steps(tmp_path, capsys):
    """The local bar shows the window's mean loss; the Ray bar showed the last row's loss and [PAD]."""
    row = "{step},{step}.5,1,0.001,10,0.{step},8,{step}\n"  # loss step + 0.5, [PAD] step / 10
    err = followed(tmp_path, capsys, range(1, 6), row, log_every=4)
    assert "loss=3.0000" in err and "pad=25.0%" in err  # steps 1-4
    assert "loss=5.5000" in err and "pad=50.0%" in err  # step 5, the last
    assert "loss=4.5000" not in err and "pad=40.0%" not in err


def test_without_a_bar_the_driver_makes_no_window_lines_of_its_own(tmp_path, capsys, caplog):
    """--launcher ray --no-progress: no bar, and the line per log window is rank 0's own, shown
    through its messages (tests/training/test_ray_messages.py); one made here from metrics.csv as
    well printed each window twice."""
    with caplog.at_level("INFO", logger="training"):
        err = followed(tmp_path, capsys, range(1, 6), "{step},0.25,2,0.001,100,0.125,8,{step}\n", log_every=2, progress=False)
    assert err == ""
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")] == []


def test_the_rate_counts_from_the_first_step_and_the_bar_shows_loss_and_padding(tmp_path, capsys):
    """Ray's start-up (seconds with no row) must not count in the rate or the ETA, and the bar
    shows the loss and [PAD] share, as the local bar does."""
    import re

    err = followed(tmp_path, capsys, range(1, 6), "{step},0.25,1,0.001,10,0.125,8,{step}\n", start_up_s=2.0)
    assert "starting the Ray workers" in err
    assert "loss=0.2500" in err and "pad=12.5%" in err
    rate = float(re.findall(r"([\d.]+)step/s", err)[-1])
    assert rate > 5, err  # counted from 2 s before the first step, it was about 2 steps/s


def test_ray_trains_storage_folder_goes_when_it_holds_only_its_markers(tmp_path):
    from training.ray_launcher import remove_if_only_markers

    only = tmp_path / "a" / "ray"
    (only / "train").mkdir(parents=True)
    (only / "train" / ".validate_storage_marker").write_text("")
    assert remove_if_only_markers(only) and not only.exists()
    kept = tmp_path / "b" / "ray"
    (kept / "train").mkdir(parents=True)
    (kept / "train" / ".validate_storage_marker").write_text("")
    (kept / "train" / "result.json").write_text("{}")
    assert not remove_if_only_markers(kept) and (kept / "train" / "result.json").exists()
    assert not remove_if_only_markers(tmp_path / "missing")


def test_a_skipped_step_is_left_out_of_the_windows_means(tmp_path, capsys):
    """A step skipped for a non-finite gradient logs an inf loss; the driver's window mean was inf."""
    rows = {1: "1,0.5,1,0.001,100,0.1,8,1\n", 2: "2,inf,inf,0.001,100,0.1,8,2\n"}
    path = tmp_path / "metrics.csv"
    with follow_progress(TrainConfig(out_dir=str(tmp_path), steps=2, log_every=2), every_s=0.02):
        path.write_text(",".join(FIELDS) + "\n" + rows[1] + rows[2])
    err = capsys.readouterr().err
    assert "2/2" in err and "loss=0.5000" in err and "loss=inf" not in err


def test_an_earlier_attempts_rows_are_not_this_runs(tmp_path, capsys):
    """A fresh run into a folder whose metrics.csv a killed attempt left up to step 50: the driver took
    that as where the run was and showed nothing for this run's first 50 steps."""
    path = tmp_path / "metrics.csv"
    path.write_text(",".join(FIELDS) + "\n" + "".join(f"{i},9.0,1,0.001,10,0,8,{i}\n" for i in range(1, 51)))
    err = followed(tmp_path, capsys, range(1, 6), "{step},0.25,1,0.001,10,0,8,{step}\n", log_every=2, start_over=True,
                   start_up_s=0.2)  # the driver looks at the earlier attempt's file meanwhile
    assert "5/5" in err and "loss=0.2500" in err and "loss=9" not in err and "50/" not in err


def test_steps_logged_before_the_bar_first_looks_do_not_inflate_its_rate(tmp_path, capsys):
    """A fast model logs several steps before the driver's first read: they count as done, not as
    done in no time (the bar opened at '5/20 ... 14604.12step/s')."""
    import re

    path = tmp_path / "metrics.csv"

    def rank_0():
        time.sleep(0.1)
        path.write_text(",".join(FIELDS) + "\n")  # as RunMonitor starts: a new file
        with open(path, "a") as f:  # four steps between two looks of the bar
            f.write("".join(f"{step},0.5,1,0.001,10,0,8,{step}\n" for step in range(1, 5)))
        for step in range(5, 11):
            time.sleep(0.1)
            with open(path, "a") as f:
                f.write(f"{step},0.5,1,0.001,10,0,8,{step}\n")

    with follow_progress(TrainConfig(out_dir=str(tmp_path), steps=10, log_every=2), every_s=0.3):
        t = threading.Thread(target=rank_0)
        t.start()
        t.join()
    err = capsys.readouterr().err
    rates = [float(r) for r in re.findall(r"([\d.]+)step/s", err)]
    assert "10/10" in err and rates and max(rates) < 50  # 10 step/s written; with the burst counted, hundreds
