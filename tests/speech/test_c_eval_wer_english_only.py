"""pocketsphinx's model is US English: on a checkpoint of another language the speech evaluation
gives no WER and says why. Before, a French checkpoint logged wer_real_vocoded 0.81 and
wer_generated 1.0 (English phones heard in French speech) as if they measured intelligibility."""

from __future__ import annotations

import json

import pytest

from tests.speech.test_eval import _speech_context


def _said(tmp_path, monkeypatch, language: str | None):
    if language:
        (tmp_path / "text_encoder.json").write_text(json.dumps({"language": language}))
    heard = []
    m, notes = _speech_context(tmp_path, monkeypatch, ["bonjour marie", "il fait beau"], 2,
                               hear=lambda audio: heard.append(len(audio)) or ["bonjour"] * len(audio))
    return m, notes, heard


def test_a_french_checkpoint_has_no_wer_and_says_why(tmp_path, monkeypatch):
    m, notes, heard = _said(tmp_path, monkeypatch, "fr-fr")
    assert not [k for k in m if k.startswith(("wer_", "asr_"))] and heard == []
    assert "no wer_*: pocketsphinx's model is US English and this checkpoint speaks fr-fr" in notes


@pytest.mark.parametrize("language", ["en-gb", None])  # None: a checkpoint from before the language was recorded is en-us
def test_an_english_checkpoint_keeps_its_wer(tmp_path, monkeypatch, language):
    m, notes, heard = _said(tmp_path, monkeypatch, language)
    assert "wer_generated" in m and "wer_real_vocoded" in m and heard == [2, 2]
    assert not [n for n in notes if n.startswith("no wer_")]
