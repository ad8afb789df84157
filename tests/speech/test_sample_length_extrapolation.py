"""lumina sample on a speech checkpoint past its longest training clip says so in frames and seconds."""

import logging

from evaluation.sample import choose_extrapolation, sampling_of


def test_a_longer_utterance_than_trained_is_named_in_frames_and_seconds(caplog):
    from modelzoo import FlagDiT, get_config

    model = FlagDiT(get_config("flag-dit-tiny", cap_dim=8, in_channels=80, patch_size=(1, 1), rope="1d"))
    describe = sampling_of("speech").describe_size
    with caplog.at_level(logging.WARNING, logger="evaluation.sample"):
        got = choose_extrapolation(model, [[80, 1, 1, 682], [80, 1, 1, 400]], [80, 1, 1, 1056], "auto", 1, describe)
    assert got is not None and got.train_seq_len == model.seq_len((1, 1, 682))
    assert [r.getMessage() for r in caplog.records] == [
        "1056 frames (12.3 s) is 1.5x the training size (682 frames (7.9 s)): sampling with time-aware scaled RoPE "
        "and proportional attention (--extrapolation none samples as trained)"]
