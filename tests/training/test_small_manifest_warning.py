"""A manifest smaller than --batch-size trains every step on all its members: said once (a user's
28-member manifest at batch_size 32 trained without a word)."""

from __future__ import annotations

import logging

from tests.training.test_trainer import tiny_cfg
from training.trainer import train


def test_a_manifest_smaller_than_the_batch_is_said(tiny_home, tmp_path, caplog):
    from catalog import load_manifest_header

    members = load_manifest_header(tiny_home.catalog, tiny_home.train_manifest).num_members
    with caplog.at_level(logging.WARNING, logger="training.trainer"):
        train(tiny_cfg(tiny_home, tmp_path / "big", steps=1, batch_size=members + 1))
        train(tiny_cfg(tiny_home, tmp_path / "fits", steps=1, batch_size=members))
    said = [r.getMessage() for r in caplog.records if "fewer than batch_size" in r.getMessage()]
    assert len(said) == 1 and said[0].endswith(f"has {members} members, fewer than batch_size {members + 1}: "
                                               f"every batch holds all {members}")
