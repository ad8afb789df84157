"""A diffusers pipeline folder given as a text encoder's path says where its text encoder is.

`--vae /models/sd15` takes a pipeline folder (its vae/); the same folder as `--text-path` said only
"no CLIP at ...: expected ... config.json", and a Lumina-Next pipeline's text_encoder/ (Gemma) "has no
tokenizer", its tokenizer being in tokenizer/ beside it (walkthrough 2026-12-07)."""

from __future__ import annotations

import json
import shutil

import pytest

from encoders.clip import check_clip_path
from encoders.path_checks import check_llm_path, check_minilm_path

from .tiny_models import save_hf_clip_text, save_llama


def _pipeline(root, text_encoders):
    root.mkdir()
    (root / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    for name, save in text_encoders.items():
        save(root / name)
    return root


def test_the_text_encoders_of_a_pipeline_are_named(tmp_path):
    sd = _pipeline(tmp_path / "sdxl", {"text_encoder": save_hf_clip_text, "text_encoder_2": save_hf_clip_text})
    where = f"it is a diffusers pipeline folder, whose text encoder is a folder of its own: {sd}/text_encoder or {sd}/text_encoder_2"
    with pytest.raises(FileNotFoundError, match=rf"^no CLIP at {sd}: expected .*, or ARCH:FILE: {where}$"):
        check_clip_path(sd)
    with pytest.raises(ValueError, match=rf"^--text llama: {sd} has no config.json \(expected a folder written by save_pretrained\): {where}$"):
        check_llm_path(sd)
    with pytest.raises(ValueError, match=rf": {where}$"):
        check_minilm_path(sd)
    check_clip_path(sd / "text_encoder")  # the folder it names is taken


def test_a_pipelines_llm_without_its_tokenizer_says_where_it_is(tmp_path):
    lumina = _pipeline(tmp_path / "lumina_next", {"text_encoder": save_llama})
    (lumina / "tokenizer").mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.move(lumina / "text_encoder" / name, lumina / "tokenizer" / name)
    with pytest.raises(ValueError, match=rf"has no tokenizer \(.*\): its pipeline keeps it in {lumina}/tokenizer; copy those files "
                                         rf"into {lumina}/text_encoder$"):
        check_llm_path(lumina / "text_encoder")


def test_a_folder_that_is_no_pipeline_says_only_what_it_lacks(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"or ARCH:FILE$"):
        check_clip_path(tmp_path / "empty")


def test_a_missing_path_is_said_missing_also_in_the_arch_file_form(tmp_path):
    """It said "expected open_clip_config.json, a Hugging Face config.json, or ARCH:FILE" of a
    path in the ARCH:FILE form whose file was not there."""
    with pytest.raises(FileNotFoundError, match=rf"^no CLIP at ViT-B-32:{tmp_path}/clip.pt: no such file or folder: "
                                                rf"{tmp_path}/clip.pt \(the FILE of ARCH:FILE ViT-B-32\)$"):
        check_clip_path(f"ViT-B-32:{tmp_path}/clip.pt")
    with pytest.raises(FileNotFoundError, match=rf"^no CLIP at {tmp_path}/gone: no such file or folder: {tmp_path}/gone$"):
        check_clip_path(tmp_path / "gone")
