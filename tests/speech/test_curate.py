"""Speech curation on a small espeak-ng corpus: every planted bad input ends with its expected
status and reason, the stereo file is accepted after downmix, LJSpeech metadata.csv is read, and a
second run gives the same records."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from contracts.records import Batch
from preprocess.curate import CurateConfig, curate
from preprocess.speech.demo_corpus import write_speech_corpus
from tests.speech.planted import check_planted

@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    root = tmp_path_factory.mktemp("speech")
    corpus = write_speech_corpus(root / "corpus", voices=1, rates=(130,), pitches=(35,))
    runs = [curate(corpus.root, root / "home", CurateConfig(modality="speech"), backend="local") for _ in range(2)]
    records = [[s for p in r.batch_paths for s in Batch.read(p).samples] for r in runs]
    verdicts = [v for p in runs[0].batch_paths for v in Batch.read(p).verdicts]
    return corpus, runs, records, verdicts


def test_planted_inputs_end_with_expected_status_and_reason(curated):
    corpus, _, records, _ = curated
    by_name = {s.source_uri.split(str(corpus.root) + "/")[-1]: s for s in records[0]}
    check_planted({k: (s.status, s.reason) for k, s in by_name.items()}, corpus.planted)
    assert by_name[corpus.planted["stereo"]].meta["channels"] == 2


def test_every_input_accounted_and_clean_speech_accepted(curated):
    corpus, runs, records, verdicts = curated
    recs = records[0]
    clean = [s for s in recs if "/planted/" not in s.source_uri]
    assert clean and all(s.status == "accepted" for s in clean), [(s.source_uri, s.reason) for s in clean if s.status != "accepted"]
    assert sum(runs[0].counts.values()) == corpus.num_digits + corpus.num_phrases + len(corpus.planted)
    lj = [s for s in recs if "/ljspeech/" in s.source_uri]
    assert len(lj) == 4 and {s.caption for s in lj} >= {"bring eight apples"}  # metadata.csv, numbers spelled out
    s = next(s for s in clean if s.caption == "doctor smith has two cats")
    assert s.sample_rate == 22050 and s.meta["n_phones"] > 10 and s.meta["phonemes"].startswith("d ")
    assert {c.meta["language"] for c in clean} == {"en-us"}  # the voice the phone encoder must read them in
    near = next(v for v in verdicts if v.filter == "audio_fingerprint_dedup" and not v.passed)
    assert near.score < near.threshold


def test_rerun_gives_identical_records(curated):
    _, runs, records, _ = curated
    key = lambda s: (s.key, s.status, s.reason, s.caption)  # noqa: E731
    assert sorted(map(key, records[0])) == sorted(map(key, records[1]))
    assert runs[0].shard_uris == runs[1].shard_uris


def test_curated_shard_holds_normalised_audio_and_mel(curated):
    import io
    import json

    import soundfile as sf

    from contracts.shards import iter_samples, npy_load
    from preprocess.modality import get_plugin

    _, runs, _, _ = curated
    key, fields = next(iter(iter_samples(runs[0].shard_uris[0])))
    y, sr = sf.read(io.BytesIO(fields["flac"]))
    assert sr == 22050 and y.ndim == 1
    mel = npy_load(fields["mel.npy"])
    assert mel.shape[0] == 80 and abs(mel.shape[1] - (len(y) // 256 + 1)) <= 1
    z = get_plugin("speech").media_array(fields)  # the encoder's input: the log-mel in its layout (the encoder normalises)
    assert json.loads(fields["json"])["mel_layout"] == "channels"
    assert z.shape == (80, 1, 1, mel.shape[1])
    np.testing.assert_array_equal(z[:, 0, 0], mel)


def test_every_metadata_line_is_an_input_or_a_leftover_with_its_reason(tmp_path):
    """LJSpeech metadata.csv: a line goes with the audio it names; a malformed line, a line with no
    audio, a second line for the same audio and a line whose audio has a caption file beside it
    are each recorded, under the line's own name, with what is wrong."""
    import soundfile as sf

    from preprocess.speech.plugin import SpeechOptions, SpeechPlugin
    from preprocess.sources import SourceSpec, list_entries

    root = tmp_path / "lj"
    (root / "wavs").mkdir(parents=True)
    tone = (0.3 * np.sin(np.linspace(0, 2000, 22050))).astype(np.float32)
    for name in ("a", "b"):
        sf.write(root / "wavs" / f"{name}.wav", tone, 22050)
    (root / "wavs" / "b.txt").write_text("two from the file")
    (root / "metadata.csv").write_text("a|one|one\nb|two\nc|three\n\nno separator here\na|one again\n")

    inputs, leftovers = SpeechPlugin().group(list_entries(SourceSpec(str(root))), SpeechOptions())
    assert {i.name: i.caption.text if i.caption.text is not None else i.caption.read().decode() for i in inputs} == {
        "wavs/a.wav": "one", "wavs/b.wav": "two from the file"}
    assert sorted((lo.entry.name, lo.reason_kind) for lo in leftovers) == [
        ("metadata.csv#malformed=" + hashlib.sha256(b"no separator here").hexdigest()[:12], "malformed_metadata_line"),
        ("metadata.csv#take.2=wavs/a", "metadata_line_unused"), ("metadata.csv#take=wavs/b", "metadata_line_unused"),
        ("metadata.csv#take=wavs/c", "metadata_without_audio")]
    result = curate(str(root), tmp_path / "home", CurateConfig(modality="speech"), backend="local")
    reasons = sorted(s.reason.split(":")[0] for p in result.batch_paths for s in Batch.read(p).samples if "metadata.csv#" in s.source_uri)
    assert reasons == ["malformed_metadata_line", "metadata_line_unused", "metadata_line_unused", "metadata_without_audio"]
    assert sum(result.counts.values()) == 6  # two audio files and four lines


def test_an_empty_audio_file_is_quarantined_as_empty():
    from preprocess.speech.audio import AudioRejected, decode_audio

    with pytest.raises(AudioRejected) as e:
        decode_audio(b"")
    assert (e.value.kind, e.value.status) == ("empty_file", "quarantined")


def _speechlike(seconds: float = 1.5, sr: int = 22050) -> np.ndarray:
    """A voiced-sounding tone with syllable-rate bursts and pauses (not speech, but it has a level and an SNR)."""
    t = np.arange(int(seconds * sr)) / sr
    env = np.clip(np.sin(2 * np.pi * 3 * t), 0, None)
    return (0.4 * env * (np.sin(2 * np.pi * 180 * t) + 0.5 * np.sin(2 * np.pi * 360 * t))).astype(np.float32)


def test_a_dc_offset_and_channels_in_opposite_phase_do_not_hide_the_voice():
    """DC counted as a noise floor made clean speech fail `snr`; an inverted channel made a stereo
    file's mean silent. Both must give the level and SNR of the voice itself."""
    from preprocess.speech import audio

    y = _speechlike()
    clean_level, clean_snr = audio.rms_dbfs(audio.downmix(y[:, None])), audio.snr_db(audio.downmix(y[:, None]))
    for x in (y[:, None] * 0.5 / 0.4 + 0.3, np.stack([y, -y], axis=1), np.stack([y + 0.2, -y - 0.2], axis=1)):
        m = audio.downmix(x)
        assert abs(float(m.mean())) < 1e-4
        assert audio.rms_dbfs(m) > clean_level - 1.0 and audio.snr_db(m) > clean_snr - 3.0, (audio.rms_dbfs(m), audio.snr_db(m))
    both = audio.downmix(np.stack([y, 0.9 * y], axis=1))  # in phase: the mean, as before
    assert np.allclose(both, 0.95 * y - (0.95 * y).mean(), atol=1e-6)


def test_a_wav_whose_data_size_was_never_written_is_read_to_its_end():
    import io

    import soundfile as sf

    from preprocess.speech.audio import decode_audio

    buf = io.BytesIO()
    sf.write(buf, _speechlike(), 22050, format="WAV", subtype="PCM_16")
    data = bytearray(buf.getvalue())
    at = data.find(b"data")
    data[at + 4:at + 8] = b"\0\0\0\0"  # a recorder stopped before it wrote the sizes
    x, sr = decode_audio(bytes(data))
    assert sr == 22050 and x.shape == (len(_speechlike()), 1)


@pytest.mark.parametrize("name,fmt,subtype", [("take.opus", "OGG", "OPUS"), ("take.aiff", "AIFF", "PCM_16")])
def test_opus_and_aiff_files_are_curated_as_speech(tmp_path, name, fmt, subtype):
    import soundfile as sf

    root = tmp_path / "src"
    root.mkdir()
    sf.write(root / name, _speechlike(), 48000 if subtype == "OPUS" else 22050, format=fmt, subtype=subtype)
    (root / "take.txt").write_text("hello there")
    result = curate(str(root), tmp_path / "home", CurateConfig(modality="speech"), backend="local")
    rows = [(s.source_uri.rsplit("/", 1)[-1], (s.reason or "").split(":")[0]) for p in result.batch_paths
            for s in Batch.read(p).samples]
    assert len(rows) == 1 and rows[0][0] == name and rows[0][1] not in ("unsupported_type", "orphan_caption"), rows
    assert sum(result.counts.values()) == 1


def test_an_empty_transcript_is_rejected_as_caption_present_like_any_empty_caption(tmp_path):
    import soundfile as sf

    root = tmp_path / "src"
    root.mkdir()
    sf.write(root / "take.wav", _speechlike(), 22050)
    (root / "take.txt").write_text("")
    result = curate(str(root), tmp_path / "home", CurateConfig(modality="speech"), backend="local")
    [sample] = [s for p in result.batch_paths for s in Batch.read(p).samples]
    assert sample.status == "rejected" and sample.reason.startswith("caption_present:"), sample.reason


def test_a_transcript_in_another_script_is_rejected_as_wrong_language_not_speaking_rate(tmp_path):
    """"你好世界" under en-us was phonemised "Chinese letter" x4 and rejected as max_speaking_rate
    (or accepted with those phones): the language is the problem, and the reason says so. German
    under en-us is Latin script and is not caught (options.language is one per run: README)."""
    import soundfile as sf

    root = tmp_path / "src"
    root.mkdir()
    for i, (name, text) in enumerate((("chinese", "你好世界"), ("mixed", "hello 你好"), ("german", "Guten Morgen"), ("english", "hello there"))):
        sf.write(root / f"{name}.wav", _speechlike(1.0 + 0.25 * i), 22050)
        (root / f"{name}.txt").write_text(text, encoding="utf-8")
    result = curate(str(root), tmp_path / "home", CurateConfig(modality="speech"), backend="local")
    got = {s.source_uri.rsplit("/", 1)[-1]: s for p in result.batch_paths for s in Batch.read(p).samples}
    assert got["chinese.wav"].reason == ("wrong_language: transcript is in zh (Han script), 1 of 1 words; "
                                         "the run's options.language is en-us (one language per curation)")
    assert got["mixed.wav"].status == "rejected" and got["mixed.wav"].reason.startswith("wrong_language: transcript is in zh")
    verdicts = {(v.key, v.filter): v for p in result.batch_paths for v in Batch.read(p).verdicts}
    assert got["german.wav"].status == got["english.wav"].status == "accepted"
    v = verdicts[(got["chinese.wav"].key, "wrong_language")]
    assert (v.score, v.threshold, v.passed) == (1.0, 0.25, False)


def test_wrong_language_counts_words_in_foreign_scripts_and_espeak_language_switches():
    from encoders.audio.language import check

    assert check("привет мир", "ru").share == 0.0 and check("doctor smith has two cats", "en-us").share == 0.0
    assert check("cafe naive", "en-us").share == 0.0 and check("你好世界", "cmn").share == 0.0
    ru = check("hello world", "ru")  # Latin under a Cyrillic voice
    assert ru.share == 1.0 and ru.reason("ru").startswith("wrong_language: transcript is in Latin script, 2 of 2 words")
    assert check("я купил новый iphone вчера", "ru").share == 0.2  # a loanword: under the default 0.25
    ko = check("世界", "ko")  # espeak-ng's ko voice reads hangul; for Han it switches to English ("Chinese letter")
    assert ko.share == 1.0 and ko.reason("ko").startswith("wrong_language: espeak-ng switched to en for 2 of the 2 words")
    # (under ja, curation reads kanji in kana first: tests/speech/test_cjk_language.py)
    assert check("", "en-us").share == 0.0


def test_planted_transcripts_say_what_the_audio_says(tmp_path):
    """The stereo take said one "four" under the transcript "four four" and was accepted into
    training mislabelled. Each planted take meant to keep its transcript (all but wrong_transcript
    and missing_transcript) is as long as espeak-ng's synthesis of that transcript in the planted
    voice, so its transcript names what its audio says."""
    import soundfile as sf

    from preprocess.speech.espeak import synthesise

    corpus = write_speech_corpus(tmp_path / "c", voices=1, rates=(130,), pitches=(35,), phrases=False)
    for kind in ("stereo", "clipped", "noisy"):
        wav = corpus.root / corpus.planted[kind]
        text = wav.with_suffix(".txt").read_text().strip()
        said, _ = synthesise(text, "en-us", 150, 50)
        n = sf.info(str(wav)).frames
        assert abs(len(said) - n) <= 0.05 * n, (kind, text, len(said), n)
    assert (corpus.root / corpus.planted["stereo"]).with_suffix(".txt").read_text().strip() == "four"


def test_the_noisy_take_s_snr_verdict_is_in_true_db_and_versioned(curated):
    """The planted noisy take is -6 dB (noise at twice the speech's RMS); the snr verdict read 4.9.
    The estimator changed, so the speech plugin's verdict version did too (2)."""
    from preprocess.speech.plugin import FILTER_VERSION

    corpus, _, records, verdicts = curated
    noisy = next(s for s in records[0] if s.source_uri.endswith(corpus.planted["noisy"]))
    v = next(v for v in verdicts if v.key == noisy.key and v.filter == "snr")
    assert abs(v.score - (-6.0)) < 2.0 and v.threshold == 10.0 and not v.passed, v
    assert v.version == FILTER_VERSION == "2"
    clean = [v.score for v in verdicts if v.filter == "snr" and v.passed]
    assert clean and min(clean) > 15.0
