"""lumina sample on a speech checkpoint sizes the output by the phones its text encoder reads. A prompt
past the phone encoder's max_tokens (256 in the demo) was sized by all its phones while the
encoder read the first 256 tokens: `--text "seven seven ..."` (60 times, 361 tokens) gave a 23.7 s clip
whose last ~30% had no text to follow, and the command said the 105 dropped tokens "change nothing
in the sample". Now the length counts the phones read (212 of the 300 there)."""

from __future__ import annotations

import json
from types import SimpleNamespace

from evaluation.speech import durations
from evaluation.speech.sample import prepare


def _checkpoint(tmp_path, max_tokens: int):
    (tmp_path / "text_encoder.json").write_text(json.dumps({"name": "phone", "max_tokens": max_tokens, "language": "en-us"}))
    return tmp_path


def _width(tmp_path, monkeypatch, text: str, max_tokens: int) -> int:
    monkeypatch.setattr(durations, "from_checkpoint", lambda ckpt, catalog=None: durations.DurationModel(10.0, 0.0))
    cfg = SimpleNamespace(prompt=text, size=None, frames=None, catalog=None)
    shape, _ = prepare(cfg, _checkpoint(tmp_path, max_tokens), [80, 1, 1, 100])
    return shape[-1]


def test_a_prompt_past_max_tokens_is_as_long_as_the_phones_read(tmp_path, monkeypatch):
    # 16 tokens: a boundary at each end and 14 inside: seven | seven | se -> 12 phones
    assert durations.count_phones("seven " * 10) == 50
    assert _width(tmp_path, monkeypatch, "seven " * 10, 16) == 120  # 500 before


def test_a_prompt_within_max_tokens_is_as_long_as_all_its_phones(tmp_path, monkeypatch):
    assert _width(tmp_path, monkeypatch, "seven seven", 16) == 100
