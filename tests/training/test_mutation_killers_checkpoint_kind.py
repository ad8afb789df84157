"""training/checkpoint_kind.py, what a folder given as a checkpoint holds: each config.json a user can point
--init-from, --checkpoint or a sample at, and what the refusal calls it (bench/mutation: the first pass left
the transformers configs, which say their class in `architectures`, untested)."""

from __future__ import annotations

import json

import pytest

from training.checkpoint_kind import refuse_other_models, with_article


def _folder(tmp_path, config) -> object:
    folder = tmp_path / "given"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _refusal(folder, flag: str = "--init-from") -> str:
    with pytest.raises(ValueError) as refused:
        refuse_other_models(folder, flag)
    return str(refused.value)


@pytest.mark.parametrize("config, called", [
    # a transformers text encoder: its class in `architectures`, its family in model_type; the class names it
    ({"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 768}, "a BertModel"),
    ({"architectures": ["T5EncoderModel"]}, "a T5EncoderModel"),  # no model_type: the class alone
    ({"architectures": ["CLIPTextModel", "CLIPModel"], "model_type": "clip"}, "a CLIPTextModel"),  # the first one
    # a diffusers model says its class in _class_name, first of all
    ({"_class_name": "ControlNetModel", "architectures": ["Other"], "model_type": "x"}, "a ControlNetModel"),
    # no class: the model_type names it (an empty or malformed `architectures` is no class)
    ({"architectures": [], "model_type": "vit"}, "a vit"),
    ({"architectures": "BertModel", "model_type": "bert"}, "a bert"),
    ({"model_type": "encoder-decoder"}, "an encoder-decoder"),
])
def test_another_models_folder_is_refused_naming_its_class(tmp_path, config, called):
    folder = _folder(tmp_path, config)
    assert _refusal(folder) == (
        f"--init-from {folder} is not a Flag-DiT checkpoint: its config.json is {called}'s; give a checkpoint-N folder "
        "of a lumina train run, or a Lumina-T2X release converted with lumina convert")


@pytest.mark.parametrize("config", [
    {"model_type": "flag-dit", "_class_name": "AutoencoderKL"},  # ours says so, whatever else it holds
    {"dim": 32, "n_layers": 2},  # no type at all: FlagDiTConfig.from_dict names what it lacks
    {"architectures": [], "hidden_size": 4},
    {"_class_name": None, "architectures": [None]},  # no type that is a name
    {"model_type": 3},
    ["not", "a", "mapping"],
])
def test_a_flag_dit_or_a_config_that_names_no_model_is_let_through(tmp_path, config):
    assert refuse_other_models(_folder(tmp_path, config), "--checkpoint") is None


def test_a_missing_or_unreadable_config_is_left_to_the_weights_check(tmp_path):
    assert refuse_other_models(tmp_path, "--checkpoint") is None  # no config.json
    (tmp_path / "config.json").write_text("{not json")
    assert refuse_other_models(tmp_path, "--checkpoint") is None


@pytest.mark.parametrize("word, said", [
    ("AutoencoderKL", "an AutoencoderKL"), ("image", "an image"), ("untitled", "an untitled"), ("audio", "an audio"),
    ("UNet2DConditionModel", "a UNet2DConditionModel"), ("UMT5EncoderModel", "a UMT5EncoderModel"), ("Upsampler", "an Upsampler"),
    ("BertModel", "a BertModel"), ("video", "a video"), ("speech", "a speech"), ("T5EncoderModel", "a T5EncoderModel"),
])
def test_the_article_goes_by_the_first_sound(word, said):
    assert with_article(word) == said
