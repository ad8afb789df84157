"""The Ray launcher's driver-side progress bar follows rank 0's metrics.csv."""

from __future__ import annotations

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


def test_the_bar_moves_as_rank_0_logs(tmp_path, capsys):
    path = tmp_path / "metrics.csv"
    path.write_text(",".join(FIELDS) + "\n" + "1,0.5,1,0.001,10,0,8,1\n")  # a resumed run's earlier row

    def worker():
        for step in range(2, 6):
            time.sleep(0.05)
            with open(path, "a") as f:
                f.write(f"{step},0.5,1,0.001,10,0,8,{step}\n")

    with follow_progress(TrainConfig(out_dir=str(tmp_path), steps=5), every_s=0.02):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    err = capsys.readouterr().err
    assert "1/5" in err and "5/5" in err
    with follow_progress(TrainConfig(out_dir=str(tmp_path), steps=5, progress=False)):
        pass
    assert capsys.readouterr().err == ""
