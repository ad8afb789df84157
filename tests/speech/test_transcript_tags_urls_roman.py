"""Transcript readings a TTS corpus needs (TRANSCRIPT_VERSION 9):
- ASR and book markup ("[noise]", "<unk>", "[laughter]") is no spoken word: dropped from the reading
  (it read "noise", "unk"), and a take whose transcript holds one is rejected transcript_tags (its
  audio holds a sound or word no phone stands for);
- URLs and e-mail addresses as said ("example dot com"; they read "https www example com");
- Roman numerals only where they cannot be a word or an initial: after chapter/part/volume ... and,
  of two letters or more, after a name ("Henry VIII": "henry the eighth"); they read as letters.
Upper-case transcripts (LibriSpeech) read as mixed case does."""

from __future__ import annotations

import pytest

from encoders.audio.transcript import normalise_transcript
from preprocess.sources import SourceSpec, list_entries, read_caption
from preprocess.speech.plugin import SpeechOptions, SpeechPlugin


@pytest.mark.parametrize("text, said", [
    ("[noise] hello <unk> world [laughter]", "hello world"),
    ("x < y and y > z", "x y and y z"),  # comparisons are no tags
    ("Visit https://www.example.com/docs.", "visit w w w dot example dot com slash docs"),
    ("see example.org or jane.doe@example.co.uk", "see example dot org or jane dot doe at example dot co dot uk"),
    ("e.g. Mr. Smith and Co. of the U.S.", "e g mister smith and company of the u s"),  # no URL
    ("Henry VIII met Louis XIV in Chapter IV of Part II.", "henry the eighth met louis the fourteenth in chapter four of part two"),
    ("World War I, Vol. XII, Act III, Scene V; Chapter I.", "world war one volume twelve act three scene five chapter one"),
    ("the part I liked, Malcolm X, John Smith MD, chapter iv, Type II", "the part i liked malcolm x john smith md chapter iv type two"),
])
def test_readings(text, said):
    assert normalise_transcript(text) == said


@pytest.mark.parametrize("mixed", ["Henry VIII's wives in Chapter XI, the part I liked", "World War II and Elizabeth II"])
def test_upper_case_reads_as_mixed_case(mixed):
    assert normalise_transcript(mixed.upper()) == normalise_transcript(mixed)


def _take(root, transcript: str):
    import soundfile as sf

    from preprocess.speech.espeak import synthesise

    y, sr = synthesise("hello world", seed=0)
    sf.write(root / "take.wav", y, sr)
    (root / "take.txt").write_text(transcript)
    plugin, opts = SpeechPlugin(), SpeechOptions()
    (item,), _ = plugin.group(list_entries(SourceSpec(str(root))), opts)
    caption = read_caption(item.caption)[0]
    (cand,) = plugin.analyse(item, caption, "0" * 32, opts)
    return cand


def test_a_take_with_a_tag_is_rejected_transcript_tags(tmp_path):
    clean = _take(tmp_path, "hello world")
    assert clean.record.status == "accepted"
    tagged = _take(tmp_path, "hello [noise] world <unk>")
    assert tagged.record.status == "rejected" and tagged.record.caption == "hello world"
    assert tagged.record.reason.startswith("transcript_tags: [noise], <unk> in the transcript (")
    verdict = next(v for v in tagged.verdicts if v.filter == "transcript_tags")
    assert (verdict.score, verdict.threshold, verdict.passed) == (2.0, 0.0, False)
