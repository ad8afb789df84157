"""speech options.dedup_max_distance: a distance of 0 or more, else one line before any work. A NaN
was taken (it matched nothing, and near-duplicate search could then read the key of no take)."""

from __future__ import annotations

import pytest

from contracts.config import ConfigError
from preprocess.modality import get_plugin


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -0.01, "nan"])
def test_a_distance_that_is_no_distance_is_refused(value):
    # a NaN is refused by the config loader for every float option (tests/contracts/test_option_ranges.py)
    with pytest.raises((ValueError, ConfigError), match="dedup_max_distance(: expected a number| must be a distance of 0 or more)"):
        get_plugin("speech").options({"dedup_max_distance": value})


@pytest.mark.parametrize("value", [0, 0.0, 0.15, 2.5])
def test_a_distance_is_taken(value):
    assert get_plugin("speech").options({"dedup_max_distance": value}).dedup_max_distance == value
