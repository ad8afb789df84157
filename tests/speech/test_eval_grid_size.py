"""`lumina evaluate --grid-size N` on a speech checkpoint: the spectrogram grid drew the first 12
distinct captions (generated beside real) whatever N was, though --help says the grid size applies
to spectrograms."""

from __future__ import annotations

import pytest

from tests.speech.test_eval import _speech_context

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
PHRASES = ["good morning", "hello there", "thank you", "see you soon", "bring eight apples", "open the door"]


@pytest.mark.parametrize("grid_size, shown", [(2, 2), (14, 14), (16, 16), (40, 16)])
def test_the_spectrogram_grid_shows_grid_size_captions(tmp_path, monkeypatch, grid_size, shown):
    panels: list[str] = []
    _speech_context(tmp_path, monkeypatch, WORDS + PHRASES, 6, grid_size=grid_size, panels=panels)
    # 16 distinct captions (10 digits, 6 phrases): each one's generated panel beside its real one
    assert len(panels) == 2 * shown
    assert panels[:2] == ["generated: zero", "real: zero"]
