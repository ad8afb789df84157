"""The --max-seconds label names the day when the call stops on another one: a 3-day run's
'stops at 09:00:00' read as this morning's or today's."""

import time

from training.trainer import _bar_description


def _noon_today() -> float:
    now = time.localtime()
    return time.mktime((now.tm_year, now.tm_mon, now.tm_mday, 12, 0, 0, 0, 0, -1))


def test_a_stop_later_today_is_a_time_and_one_on_another_day_has_its_date():
    noon = _noon_today()
    assert _bar_description(3600, noon) == f"train (--max-seconds: stops at {time.strftime('%H:%M:%S', time.localtime(noon + 3600))})"
    three_days = 3 * 86400
    stops = time.localtime(noon + three_days)
    assert _bar_description(three_days, noon) == f"train (--max-seconds: stops at {time.strftime('%Y-%m-%d %H:%M:%S', stops)})"
    assert _bar_description(float("inf"), noon) == "train"
    assert _bar_description(None, noon) == "train"
