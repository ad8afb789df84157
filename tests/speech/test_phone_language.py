"""A speech curation's language reaches the phone encoder: a Japanese curation was encoded, and its
prompts counted, by the default en-us voice ('Japanese letter' for each kana)."""

from __future__ import annotations

import json

import pytest

from contracts.records import Batch
from preprocess.modality import get_plugin


def fake_shard(folder, name: str, language: str | None):
    """A curated shard's batch file whose one sample recorded ``language`` (None: a curation from before it was recorded)."""
    from contracts.records import SampleRecord

    meta = {"transcript": "x"} | ({"language": language} if language else {})
    shard = folder / f"{name}.tar"
    shard.write_bytes(b"")
    Batch(samples=[SampleRecord(key=name, modality="speech", source_uri=f"/s/{name}.wav", status="accepted", meta=meta)]
          ).write(Batch.path_beside(shard))
    return str(shard)


def test_the_phone_encoder_gets_the_curations_language(tmp_path):
    plugin = get_plugin("speech")
    shards = [fake_shard(tmp_path, "a", "ja"), fake_shard(tmp_path, "b", "ja")]
    assert plugin.text_options("phone", shards) == {"language": "ja"}
    assert plugin.text_options("minilm", shards) == {}
    assert plugin.text_options("phone", [fake_shard(tmp_path, "old", None)]) == {"language": "en-us"}
    with pytest.raises(ValueError, match=r"the curated speech shards are in 2 languages \(de, ja\)"):
        plugin.text_options("phone", shards + [fake_shard(tmp_path, "c", "de")])


def test_the_encode_stage_loads_the_phone_encoder_in_that_voice(tmp_path, monkeypatch):
    from preprocess import encode as encode_module
    from preprocess.encode import EncodeConfig, EncodeStage, text_options

    shards = [fake_shard(tmp_path, "a", "ja")]
    stage = EncodeStage("speech", str(tmp_path / "home"), EncodeConfig(latent="identity", text="phone"),
                        text_options=text_options("speech", EncodeConfig(text="phone"), shards))
    monkeypatch.setattr(encode_module, "write_encoder_files", lambda *a: None)
    stage.setup()
    described = stage.text_encoder.describe()
    assert described["language"] == "ja" and described["fingerprint"] != get_phone("en-us").fingerprint
    # kana read by the ja voice, not as 'Japanese letter' by the English one
    assert stage.text_encoder.ids(["こんにちは"]).tolist() != get_phone("en-us").ids(["こんにちは"]).tolist()


def get_phone(language):
    from encoders.text import load_text_encoder

    return load_text_encoder("phone", language=language)


def test_a_speech_checkpoint_counts_its_prompts_phones_in_its_voice(tmp_path, monkeypatch):
    from evaluation.speech import durations
    from evaluation.speech import sample as speech_sample

    (tmp_path / "text_encoder.json").write_text(json.dumps(get_phone("ja").describe()))
    asked = []
    monkeypatch.setattr(durations, "count_phones", lambda text, language="en-us": asked.append(language) or 10)
    monkeypatch.setattr(durations, "from_checkpoint", lambda ckpt, catalog: durations.DurationModel(*durations.DEFAULT))
    from types import SimpleNamespace

    speech_sample.prepare(SimpleNamespace(prompt="こんにちは", size=None, frames=None, catalog=None), tmp_path, [80, 1, 1, 10])
    assert asked == ["ja"]
