"""--max-seconds inf (or one beyond the platform's calendar, 1e18) is accepted as "no limit in
practice", and trained so until eb3f6da put the stop time in the progress bar's label: time.localtime
raised OverflowError (inf) or OSError (1e18) before the first step, for every such call, bar shown or
not. The label names no time it cannot say."""

import pytest

from training.trainer import train

from .test_trainer import tiny_cfg


@pytest.mark.parametrize("limit", [float("inf"), 1e18])
def test_a_limit_beyond_the_calendar_trains(tiny_home, tmp_path, limit):
    result = train(tiny_cfg(tiny_home, tmp_path / "run", steps=1, max_seconds=limit))
    assert result.steps == 1 and result.stopped_by is None
