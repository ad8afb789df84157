"""The speech evaluation says when a held-out phrase it evaluates is also the transcript of a
training take. Helper L's walkthrough (session 54): a user's 'we will meet at noon', recorded twice,
had one take in each split (the split is by take); evaluate printed mcd_db and wer_* for it as if it
were new text, and the only leakage line was about pHashes, which speech has none of."""

from __future__ import annotations

from tests.speech.test_eval import _speech_context


def _trained_on(monkeypatch, captions):
    import evaluation.training_manifest as tm

    monkeypatch.setattr(tm, "query_training_manifest", lambda ckpt, sql, catalog=None: [(c,) for c in captions])


def test_a_held_out_phrase_also_trained_on_is_said(tmp_path, monkeypatch):
    _trained_on(monkeypatch, ["we will meet at noon", "three", "good evening"])
    m, notes = _speech_context(tmp_path, monkeypatch, ["three", "we will meet at noon", "good evening everyone"], 4)
    assert m["num_generated_phrases"] == 2.0
    said = [n for n in notes if "also the transcript of a training take" in n]
    assert said == ["1 of the 2 held-out phrases evaluated are also the transcript of a training take "
                    "(e.g. 'we will meet at noon'): their mcd_db and wer_* measure text the model was trained on, not new text"]


def test_digits_and_unseen_phrases_say_nothing(tmp_path, monkeypatch):
    _trained_on(monkeypatch, ["three", "seven eight nine"])
    _, notes = _speech_context(tmp_path, monkeypatch, ["three", "we will meet at noon"], 4)
    assert not [n for n in notes if "training take" in n], notes
