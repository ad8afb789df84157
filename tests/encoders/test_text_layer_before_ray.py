"""`lumina encode --text-layer N` out of the text model's range is refused by EncodeConfig.check_paths
from the model's config files, before a run, Ray or the model starts: it was refused in the encode
actors, once Ray and the encoder had loaded."""

from __future__ import annotations

import pytest

from encoders.path_checks import text_layers
from preprocess.encode import EncodeConfig

from .tiny_models import save_hf_clip, save_hf_clip_text, save_llama, save_open_clip


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {"llama": save_llama(root / "llama"), "clip": save_hf_clip_text(root / "clip"),
            "clip-full": save_hf_clip(root / "clip-full"), "open_clip": save_open_clip(root / "open_clip")}


def test_the_layer_counts_come_from_the_config_files(models):
    assert text_layers("llama", models["llama"]) == 3
    assert text_layers("clip", models["clip"]) == 3
    assert text_layers("clip", models["clip-full"]) == 2  # a CLIPModel: its text_config's
    assert text_layers("clip", models["open_clip"]) == 3  # open_clip_config.json's text_cfg
    assert text_layers("minilm", None) == 6  # the bundled MiniLM
    assert text_layers("clip", models["clip"] / "missing") is None  # the path check says that one


@pytest.mark.parametrize("text, model, layer, said", [
    ("llama", "llama", -4, "the llama text encoder has 3 layer(s): give -1 (its last) to -3"),
    ("llama", "llama", 0, "the llama text encoder has 3 layer(s)"),
    ("clip", "clip-full", -3, "the clip text encoder has 2 layer(s)"),
    ("clip", "open_clip", 1, "the clip text encoder has 3 layer(s)"),
    ("minilm", None, -7, "the all-MiniLM-L6-v2 text encoder has 6 layer(s)"),
    ("phone", None, -2, "the phone encoder has no layers"),
])
def test_a_layer_out_of_range_is_refused_before_any_model_loads(models, text, model, layer, said):
    cfg = EncodeConfig(text=text, text_path=str(models[model]) if model else None, text_layer=layer)
    with pytest.raises(ValueError, match=r"^--text-layer " + str(layer) + ": ") as e:
        cfg.check_paths()
    assert said in str(e.value)


def test_layers_in_range_pass(models):
    for text, model, layer in (("llama", "llama", -3), ("clip", "clip", -1), ("clip", "open_clip", -3), ("minilm", None, -6)):
        EncodeConfig(text=text, text_path=str(models[model]) if model else None, text_layer=layer).check_paths()
