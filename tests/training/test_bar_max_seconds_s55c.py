"""With --max-seconds the progress bar says when this call stops: its ETA is for --steps alone, so a
3-s slot of a 100,000-step run showed only 'ETA 31:56' and stopped 3 s later."""

import re
import time

from training.trainer import train

from .test_trainer import tiny_cfg


def test_the_bar_says_when_max_seconds_stops_the_call(tiny_home, tmp_path, capsys):
    before = time.time()
    train(tiny_cfg(tiny_home, tmp_path / "run", steps=2, max_seconds=3600, progress=True))
    err = capsys.readouterr().err
    said = re.search(r"train \(--max-seconds: stops at ((?:\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d)\)", err)
    assert said, err
    # the date is given only when the stop falls on another day (CI near midnight: 23:11 + 1 h)
    expected = set()
    for d in range(0, 60):
        stop = time.localtime(before + 3600 + d)
        same_day = stop[:3] == time.localtime(before)[:3]
        expected.add(time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S", stop))
    assert said.group(1) in expected, (said.group(1), err)
