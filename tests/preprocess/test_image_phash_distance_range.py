"""options.phash_max_distance past the banded search's limit (15) is refused before any work: it
was taken, the whole source analysed, and the run then failed in the near-duplicate search."""

from __future__ import annotations

import pytest

from contracts.config import ConfigError, from_mapping
from preprocess.image.plugin import ImageOptions


def test_a_distance_the_banded_search_cannot_find_is_refused_with_the_options():
    with pytest.raises(ConfigError, match="phash_max_distance must be between 0 and 15, got 16"):
        from_mapping(ImageOptions, {"phash_max_distance": 16}, where="image options")
    assert ImageOptions(phash_max_distance=15).phash_max_distance == 15  # the largest it finds every pair of


def test_curate_refuses_it_before_analysing_anything(tmp_path):
    from preprocess.curate import CurateConfig, curate

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.png").write_bytes(b"not analysed")
    with pytest.raises(ValueError, match="phash_max_distance must be between 0 and 15"):
        curate(str(tmp_path / "src"), tmp_path / "home", CurateConfig(options={"phash_max_distance": 16}), backend="local")
    assert not (tmp_path / "home" / "journal").exists()  # no analysis chunk was journaled
