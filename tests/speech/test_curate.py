"""Speech curation on a small espeak-ng corpus: every planted bad input ends with its expected
status and reason, the stereo file is accepted after downmix, LJSpeech metadata.csv is read, and a
second run gives the same records."""

from __future__ import annotations

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
        ("metadata.csv#line=2", "metadata_line_unused"), ("metadata.csv#line=3", "metadata_without_audio"),
        ("metadata.csv#line=5", "malformed_metadata_line"), ("metadata.csv#line=6", "metadata_line_unused")]
    result = curate(str(root), tmp_path / "home", CurateConfig(modality="speech"), backend="local")
    reasons = sorted(s.reason.split(":")[0] for p in result.batch_paths for s in Batch.read(p).samples if "#line=" in s.source_uri)
    assert reasons == ["malformed_metadata_line", "metadata_line_unused", "metadata_line_unused", "metadata_without_audio"]
    assert sum(result.counts.values()) == 6  # two audio files and four lines


def test_an_empty_audio_file_is_quarantined_as_empty():
    from preprocess.speech.audio import AudioRejected, decode_audio

    with pytest.raises(AudioRejected) as e:
        decode_audio(b"")
    assert (e.value.kind, e.value.status) == ("empty_file", "quarantined")
