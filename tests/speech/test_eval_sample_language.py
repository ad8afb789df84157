"""`lumina sample --text` in a script the checkpoint's language is not written in (evaluation/speech/sample.py)."""

from __future__ import annotations

import logging

from evaluation.speech.sample import warn_if_foreign


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "evaluation.speech.sample" and r.levelno == logging.WARNING]


def test_a_prompt_in_another_script_is_warned_about_once(caplog):
    """"你好" on an en-us checkpoint was spoken as "Chinese letter Chinese letter" without a word."""
    caplog.set_level(logging.WARNING)
    warn_if_foreign("你好", "en-us")
    (said,) = _warnings(caplog)
    assert "not in the checkpoint's language en-us" in said and "zh (Han script)" in said and "wrong_language" in said
    assert "\n" not in said


def test_a_prompt_in_the_checkpoint_s_language_is_not_warned_about(caplog):
    caplog.set_level(logging.WARNING)
    warn_if_foreign("Dr. Smith paid $5 for 2 teas.", "en-us")
    warn_if_foreign("hello world, my friend 你好", "en-us")  # one foreign word in five: curation's threshold (0.25) keeps it
    assert _warnings(caplog) == []


def test_lumina_sample_s_speech_hook_warns_and_still_speaks(tmp_path, caplog):
    from types import SimpleNamespace

    from evaluation.speech.sample import prepare

    caplog.set_level(logging.WARNING)
    shape, _ = prepare(SimpleNamespace(prompt="你好", catalog=None), tmp_path, [80, 1, 1, 8])  # no text_encoder.json: en-us
    assert shape[-1] > 8  # a length from the phones en-us reads ("Chinese letter" twice)
    assert [w for w in _warnings(caplog) if "not in the checkpoint's language en-us" in w]
