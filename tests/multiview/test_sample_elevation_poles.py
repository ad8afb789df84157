"""`lumina sample --elevation -90` on a multi-view checkpoint said "--elevation must be between -90
and 90 degrees; got -90": the refusal named the value it refused as allowed. The poles are out
(every camera of the ring would be the same one), and the line says so."""

from __future__ import annotations

import pytest

from evaluation.multiview.sample_flags import MultiviewSampleOptions


@pytest.mark.parametrize("elevation", [-90.0, 90.0])
def test_a_pole_is_refused_in_words_that_exclude_it(elevation):
    with pytest.raises(ValueError) as e:
        MultiviewSampleOptions(elevation=elevation)
    assert str(e.value) == (f"--elevation must be between -90 and 90 degrees, both excluded (at a pole every camera of the "
                            f"ring is the same one); got {elevation:g}")


@pytest.mark.parametrize("elevation", [-89.9, 0.0, 89.9])
def test_short_of_the_poles_is_allowed(elevation):
    assert MultiviewSampleOptions(elevation=elevation).elevation == elevation
