"""lumina sample on a multi-view checkpoint names a view set's size in views: `--views 8` on a
4-view demo checkpoint said "16x16 x 8 frames is 2.0x the training size (16x16 x 4 frames)", a
word its users never gave (found running `lumina sample --views 8` on a multiview demo checkpoint)."""

import logging

from evaluation.sample import choose_extrapolation, sampling_of


def test_more_views_than_trained_are_named_in_views(caplog):
    from modelzoo import FlagDiT, get_config

    model = FlagDiT(get_config("flag-dit-tiny", cap_dim=8, in_channels=3, patch_size=2))
    describe = sampling_of("multiview").describe_size
    with caplog.at_level(logging.WARNING, logger="evaluation.sample"):
        got = choose_extrapolation(model, [[3, 4, 16, 16]], [3, 8, 16, 16], "auto", 1, describe)
    assert got is not None
    [message] = [r.getMessage() for r in caplog.records]
    assert message.startswith("16x16 x 8 views is 2.0x the training size (16x16 x 4 views): "), message
