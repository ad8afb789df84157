"""What the speech evaluation says beside figures a reader would otherwise misread: a missing
real-vs-real MCD floor, WER above 1 and the recogniser's vocabulary (evaluation/speech/metrics.py)."""

from __future__ import annotations

from tests.speech.test_eval import _speech_context


def test_without_two_takes_of_a_caption_the_missing_mcd_floor_is_explained(tmp_path, monkeypatch):
    """Held-out sentences, each said once: mcd_real_vs_real_db was silently absent."""
    m, notes = _speech_context(tmp_path, monkeypatch, ["good morning", "hello there", "thank you"], 3)
    assert "mcd_db" in m and "mcd_real_vs_real_db" not in m
    assert [n for n in notes if n.startswith("no mcd_real_vs_real_db: no caption has two held-out takes")], notes


def test_a_wer_above_one_is_explained(tmp_path, monkeypatch):
    """wer_real_vocoded_digits 1.43 was printed with no word on how a rate exceeds 1."""
    m, notes = _speech_context(tmp_path, monkeypatch, ["three", "three", "good morning"], 2,
                               hear=lambda audio: ["one two three"] * len(audio))  # two words inserted in every clip
    assert m["wer_generated_digits"] == 2.0 and m["wer_real_vocoded_digits"] == 2.0
    (said,) = [n for n in notes if "above 1" in n]
    assert said.startswith("wer_generated, wer_generated_digits, wer_real_vocoded, wer_real_vocoded_digits above 1")
    assert "insertions" in said


def test_the_recogniser_s_vocabulary_is_in_the_metrics(tmp_path, monkeypatch):
    m, notes = _speech_context(tmp_path, monkeypatch, ["three", "three", "good morning"], 2)
    assert m["asr_vocabulary_words"] == 3.0  # three, good, morning
    assert not [n for n in notes if "above 1" in n or "mcd_real_vs_real" in n]  # WERs of 1.0 and a floor: nothing to say


def test_reference_words_the_recogniser_lacks_are_named(tmp_path, monkeypatch):
    m, notes = _speech_context(tmp_path, monkeypatch, ["three", "three", "qxzv"], 2, unknown=lambda vocab: ["qxzv"])
    assert m["asr_vocabulary_words"] == 1.0  # three; qxzv cannot be heard
    assert [n for n in notes if n.startswith("1 of the 2 reference words are not in pocketsphinx's dictionary") and n.endswith("qxzv")], notes
