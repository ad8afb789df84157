"""Prefect artifact keys keep one history per source or manifest: with one `refresh-counts` key an
image folder's refresh counts and a speech corpus's were interleaved in one history in the UI."""
import re
import sys
import types

import prefect.artifacts
import prefect.context

from flows.artifact_keys import artifact_key
from flows.refresh import source_run_name


def test_each_source_and_modality_gets_its_own_key_in_the_characters_prefect_takes():
    image = artifact_key("refresh-counts", source_run_name({"source": "/data/COCO_2017/", "modality": "image"}))
    speech = artifact_key("refresh-counts", source_run_name({"source": "/data/LibriTTS", "modality": "speech"}))
    assert (image, speech) == ("refresh-counts-image-coco-2017", "refresh-counts-speech-libritts")
    assert artifact_key("train-loss-curve", "image-train-live@v3") == "train-loss-curve-image-train-live-v3"
    assert artifact_key("refresh-counts", "___") == "refresh-counts"  # nothing left of the name: the plain key


def test_the_loss_curve_artifact_is_keyed_by_the_manifest_trained(monkeypatch):
    from flows.steps import _publish_curve

    keys = []
    monkeypatch.setattr(prefect.context, "get_run_context", lambda: object())
    monkeypatch.setattr(prefect.artifacts, "create_markdown_artifact", lambda key, markdown, **kw: keys.append(key))
    assert "prefect.context" in sys.modules
    result = types.SimpleNamespace(checkpoint="c", steps=2, final_loss=0.5, padding_fraction=0.0, tokens_per_second=1.0,
                                   metrics_csv="m.csv", loss_curve="l.png")
    _publish_curve(result, "speech-train")
    _publish_curve(result, "image_train")
    _publish_curve(result, "speech-train@v2")  # one manifest asked for by version: its history still
    assert keys == ["train-loss-curve-speech-train", "train-loss-curve-image-train", "train-loss-curve-speech-train"]


def test_data_to_model_results_are_keyed_by_the_runs_source(monkeypatch):
    from flows import data_to_model

    keys = []
    monkeypatch.setattr(data_to_model, "create_table_artifact", lambda key, table, **kw: keys.append(key))
    monkeypatch.setattr(data_to_model, "create_markdown_artifact", lambda key, markdown, **kw: keys.append(key))
    summary = {"modality": "image", "metrics": {"class_accuracy": 0.99}, "renders": {}, "checkpoint": "c", "curation": {},
               "timings_s": {}}
    data_to_model._publish(summary, "image-coco")
    assert keys == ["data-to-model-metrics-image-coco", "data-to-model-summary-image-coco"]


def test_folders_named_in_letters_prefect_does_not_take_keep_a_history_each():
    """'/data/写真' and '/data/音声' both lost their names to the slug: one key, refresh-counts-image."""
    keys = {artifact_key("refresh-counts", source_run_name({"source": s, "modality": "image"}))
            for s in ("/data/写真", "/data/音声", "/data/Fotos_é")}
    assert len(keys) == 3 and all(re.fullmatch(r"refresh-counts-image-[a-z0-9-]+", k) for k in keys), keys
    assert artifact_key("refresh-counts", "image-写真") == artifact_key("refresh-counts", "image-写真")  # one history
