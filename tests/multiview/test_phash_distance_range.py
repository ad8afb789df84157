"""Multi-view's phash_max_distance past 15 is refused with the other options, before any work: the
banded near-duplicate search refused it only after the whole analysis (as image's did, 398682e)."""

from __future__ import annotations

import pytest

from preprocess.multiview.plugin import MultiviewOptions


def test_a_distance_the_banded_search_cannot_take_is_refused_up_front():
    with pytest.raises(ValueError, match=r"phash_max_distance must be between 0 and 15, got 16"):
        MultiviewOptions(phash_max_distance=16)
    assert MultiviewOptions(phash_max_distance=15).phash_max_distance == 15
