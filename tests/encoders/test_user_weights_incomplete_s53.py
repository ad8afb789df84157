"""Weights that do not hold what their config.json asks for, and a tokenizer this environment cannot read
(session 53's walkthrough of a user's own encoders).

A LLaMA config of 4 layers over weights of 3 loaded in transformers with the 4th layer random, a
LOAD REPORT printed, and encoded, recorded as llama@...; a VAE config of 2 ResNets per block over
weights of 1 ended in "NotImplementedError: Cannot copy out of meta tensor"; a LLaMA whose tokenizer is
a SentencePiece tokenizer.model alone, without sentencepiece installed, ended after a run opened in
"`tiktoken` is required to read a `tiktoken` file".
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


def _edit_config(folder: Path, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))


def test_a_llama_config_larger_than_its_weights_is_refused_not_filled_with_random_layers(tmp_path):
    from encoders.text import load_text_encoder

    from .tiny_models import save_llama

    save_llama(tmp_path / "llm")
    _edit_config(tmp_path / "llm", num_hidden_layers=4)  # the weights have 3
    with pytest.raises(ValueError, match=rf"^--text llama at {tmp_path / 'llm'} could not be loaded: .*9 of the model's tensors "
                                         r"are not in its weight files \(first layers\.3\."):
        load_text_encoder("llama", tmp_path / "llm")


def test_a_vae_config_larger_than_its_weights_says_so(tmp_path):
    from diffusers import AutoencoderKL

    from encoders.latent import load_latent_encoder

    AutoencoderKL(block_out_channels=[8, 8], down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                  norm_num_groups=4, layers_per_block=1).save_pretrained(tmp_path / "vae")
    _edit_config(tmp_path / "vae", layers_per_block=2)
    with pytest.raises(ValueError, match=rf"^--vae at {tmp_path / 'vae'} could not be loaded: .* of the model's tensors are not in "
                                         r"its weight files \(first (en|de)coder\."):
        load_latent_encoder("sd15", tmp_path / "vae", say_name_mismatch=False)


def test_a_clip_config_larger_than_its_weights_is_refused(tmp_path):
    from encoders.clip import Clip

    from .tiny_models import save_hf_clip_text

    save_hf_clip_text(tmp_path / "clip")  # 3 layers
    _edit_config(tmp_path / "clip", num_hidden_layers=4)
    with pytest.raises(ValueError, match=r"could not be loaded: .* of the model's tensors are not in its weight files"):
        Clip(tmp_path / "clip")


def test_a_sentencepiece_tokenizer_without_sentencepiece_is_refused_before_loading(tmp_path, monkeypatch):
    import importlib.util

    from encoders.path_checks import check_llm_path

    from .tiny_models import save_llama

    save_llama(tmp_path / "llm")
    (tmp_path / "llm" / "tokenizer.json").unlink()
    (tmp_path / "llm" / "tokenizer.model").write_bytes(b"\n\x0f\n\x05<unk>\x15\x00\x00\x00\x00\x18\x02")  # a protobuf, as SentencePiece writes
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sentencepiece" else real_find_spec(name, *a))
    with pytest.raises(ValueError, match=r"keeps its tokenizer as tokenizer.model alone, which transformers reads with the sentencepiece "
                                         r"package, not installed: pip install sentencepiece"):
        check_llm_path(tmp_path / "llm")
    shutil.copy(tmp_path / "llm" / "tokenizer.model", tmp_path / "llm" / "tokenizer.json")  # a tokenizer.json beside it is read instead
    check_llm_path(tmp_path / "llm")


def test_a_long_caption_keeps_its_start_whatever_side_the_tokenizer_config_truncates(tmp_path):
    from encoders.text import load_text_encoder

    from .tiny_models import save_llama

    save_llama(tmp_path / "llm")
    config = json.loads((tmp_path / "llm" / "tokenizer_config.json").read_text())
    (tmp_path / "llm" / "tokenizer_config.json").write_text(json.dumps({**config, "truncation_side": "left", "padding_side": "left"}))
    enc = load_text_encoder("llama", tmp_path / "llm", max_tokens=4)
    caption = "a red circle on a blue square"
    full = enc.tokenizer(caption)["input_ids"]
    kept = enc.tokenizer([caption], padding="max_length", truncation=True, max_length=4)["input_ids"][0]
    assert kept == full[:4]  # was its last 4 tokens: the caption's start dropped
    assert enc.encode(["a red"]).mask[0].tolist()[0]  # right-padded: the caption at the front


def test_a_weights_file_given_inside_its_diffusers_folder_says_to_give_the_folder(tmp_path):
    from diffusers import AutoencoderKL

    from encoders.latent import load_latent_encoder

    AutoencoderKL(block_out_channels=[8, 8], down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                  norm_num_groups=4, layers_per_block=1).save_pretrained(tmp_path / "vae")
    with pytest.raises(ValueError, match=rf"weights of another architecture; a single file loads with the published sd15 config, "
                                         rf"and this one lies in a diffusers folder: give the folder, --vae {tmp_path / 'vae'}, "):
        load_latent_encoder("sd15", tmp_path / "vae" / "diffusion_pytorch_model.safetensors", say_name_mismatch=False)


@pytest.fixture()
def minilm_copy(tmp_path):
    from encoders.text import minilm_path

    shutil.copytree(minilm_path(), tmp_path / "minilm")
    return tmp_path / "minilm"


def test_a_minilm_config_larger_than_its_weights_is_refused(minilm_copy):
    from encoders.text import load_text_encoder

    _edit_config(minilm_copy, num_hidden_layers=7)  # the weights have 6
    with pytest.raises(ValueError, match=rf"^--text minilm at {minilm_copy} could not be loaded: .*16 of the model's tensors"):
        load_text_encoder("minilm", minilm_copy)


def test_a_bert_without_its_pooler_still_encodes(minilm_copy):
    """The pooler is never run (pooled is the masked mean), and a masked-LM checkpoint has none."""
    from safetensors.torch import load_file, save_file

    from encoders.text import load_text_encoder

    weights = minilm_copy / "model.safetensors"
    save_file({k: v for k, v in load_file(weights).items() if not k.startswith("pooler.")}, weights)
    assert load_text_encoder("minilm", minilm_copy).encode(["a red circle"]).feats.shape == (1, 32, 384)
