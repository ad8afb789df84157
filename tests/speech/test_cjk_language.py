"""Han under ja, ko and cmn: Japanese kanji are read in kana (espeak-ng's ja voice has no kanji
readings and said "Chinese letter" in English for each, so every kanji transcript was rejected as
wrong_language); kana mark a word as Japanese, not Chinese; Han a voice cannot read is rejected
with a reason that says why."""

from __future__ import annotations

import numpy as np
import pytest

from encoders.audio.transcript import kanji_as_kana, normalise_transcript, read_transcript
from encoders.audio.language import check

pytest.importorskip("espeakng_loader")
pytest.importorskip("pykakasi")

CHINESE_LETTER = ["tʃ", "aɪ", "n", "iː", "z"]  # espeak-ng's "Chinese" in "Chinese letter"


def _has(phones: list[str], run: list[str]) -> bool:
    return any(phones[i : i + len(run)] == run for i in range(len(phones)))


@pytest.mark.parametrize("raw,kana", [
    ("日本語を話します。", "にほんごをはなします"),
    ("私は学生です", "わたしはがくせいです"),
    ("漢字とカタカナ", "かんじとカタカナ"),  # kana stay as written
    ("21人", "にじゅういち にん"),  # num2words writes Japanese numbers in kanji: read after them
])
def test_japanese_kanji_are_read_in_kana_and_accepted_under_ja(raw, kana):
    text = normalise_transcript(raw, "ja")
    assert text == kana and normalise_transcript(text, "ja") == text  # idempotent: the phone encoder normalises again
    reading = read_transcript(text, "ja")
    assert check(text, "ja", reading).share == 0.0
    assert not _has(reading.phones, CHINESE_LETTER) and reading.phones


def test_a_kanji_the_dictionary_lacks_stays_as_written():
    """pykakasi reads "你" as nothing and drops the "好" after it: both stay, for the check to see."""
    assert kanji_as_kana("你好世界") == "你好せかい"
    assert kanji_as_kana("hello ひらがな") == "hello ひらがな"


def test_kana_make_a_word_japanese_not_chinese():
    assert check("你好世界", "cmn").share == 0.0
    assert check("東京大学の学生", "cmn").reason("cmn").startswith("wrong_language: transcript is in ja (Hiragana script), 1 of 1")
    assert check("東京大学の学生", "cmn").share == 1.0  # one kana among six kanji: still Japanese
    assert check("こんにちは", "ko").share == 1.0 and check("안녕하세요 세계", "ko").share == 0.0


@pytest.mark.parametrize("language,raw,why", [
    ("ja", "你好世界", "kanji pykakasi has no reading for, or Chinese"),
    ("ko", "한국어 漢字", "hanja, which need a hangul transcript"),
])
def test_han_a_voice_cannot_read_is_rejected_saying_why(language, raw, why):
    text = normalise_transcript(raw, language)
    got = check(text, language)
    assert got.share > 0.25
    assert f"(its {language} voice reads each Han character as 'Chinese letter': {why})" in got.reason(language)


def test_curation_accepts_japanese_with_kanji_under_ja_and_rejects_it_under_cmn(tmp_path):
    import soundfile as sf

    from contracts.records import Batch
    from preprocess.curate import CurateConfig, curate

    t = np.arange(int(1.5 * 22050)) / 22050
    y = (0.4 * np.clip(np.sin(2 * np.pi * 3 * t), 0, None) * np.sin(2 * np.pi * 180 * t)).astype(np.float32)
    root = tmp_path / "src"
    root.mkdir()
    for name, text in (("japanese", "日本語を話します"), ("chinese", "你好世界")):
        sf.write(root / f"{name}.wav", y, 22050)
        (root / f"{name}.txt").write_text(text, encoding="utf-8")
    got = {}
    for language in ("ja", "cmn"):
        result = curate(str(root), tmp_path / language, CurateConfig(modality="speech", options={"language": language}), backend="local")
        got[language] = {s.source_uri.rsplit("/", 1)[-1]: s for p in result.batch_paths for s in Batch.read(p).samples}
    ja, cmn = got["ja"], got["cmn"]
    assert ja["japanese.wav"].status == "accepted", ja["japanese.wav"].reason
    assert ja["japanese.wav"].caption == "にほんごをはなします" and ja["japanese.wav"].meta["transcript"] == "日本語を話します"
    assert ja["chinese.wav"].reason.startswith("wrong_language: espeak-ng switched to en")
    assert cmn["japanese.wav"].reason.startswith("wrong_language: transcript is in ja (Hiragana script)")
    assert cmn["chinese.wav"].status == "accepted", cmn["chinese.wav"].reason
