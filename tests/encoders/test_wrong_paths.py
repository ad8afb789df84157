"""A path that holds the wrong kind of model, or none, ends in one line naming it, before any run opens.

transformers loaded a BERT folder given as --text clip into a randomly initialised CLIP (a report
printed, exit 0, features that changed every run); other wrong paths ended in the libraries'
tracebacks (no diffusion_pytorch_model.bin, 'CLIPConfig' has no num_hidden_layers)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from encoders.clip import check_clip_path
from encoders.latent.vae import check_vae_path
from encoders.text.llama import check_llm_path
from preprocess.encode import EncodeConfig

from .tiny_models import save_hf_clip, save_llama

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from diffusers import AutoencoderKL
    from encoders.text import minilm_path

    root = tmp_path_factory.mktemp("models")
    save_hf_clip(root / "clip")
    save_llama(root / "llama")
    AutoencoderKL(block_out_channels=[8, 8], down_block_types=["DownEncoderBlock2D"] * 2,
                  up_block_types=["UpDecoderBlock2D"] * 2, norm_num_groups=4, layers_per_block=1).save_pretrained(root / "vae")
    (root / "no_weights").mkdir()
    shutil.copy(root / "vae" / "config.json", root / "no_weights" / "config.json")
    (root / "junk.safetensors").write_bytes(b"not tensors")
    return {"root": root, "bert": Path(minilm_path())}


def test_a_folder_of_another_kind_is_refused_for_each_role(models):
    r = models["root"]
    with pytest.raises(ValueError, match="holds a transformers 'bert' model, not a CLIP"):
        check_clip_path(models["bert"])
    with pytest.raises(ValueError, match="holds a diffusers AutoencoderKL, not a CLIP"):
        check_clip_path(r / "vae")
    with pytest.raises(ValueError, match="holds a transformers 'clip' model, not a diffusers AutoencoderKL"):
        check_vae_path(r / "clip")
    with pytest.raises(ValueError, match="holds a transformers 'clip' model, not a causal language model"):
        check_llm_path(r / "clip")
    with pytest.raises(ValueError, match="has a config.json but no weights"):
        check_vae_path(r / "no_weights")
    for ok in (lambda: check_clip_path(r / "clip"), lambda: check_vae_path(r / "vae"), lambda: check_llm_path(r / "llama")):
        ok()


def test_what_the_loader_still_raises_becomes_one_line_naming_the_path(models):
    from encoders.latent import load_latent_encoder

    with pytest.raises(ValueError, match=r"--vae at .*junk.safetensors could not be loaded: \w+"):
        load_latent_encoder("sd15", models["root"] / "junk.safetensors")


def test_lumina_encode_refuses_before_a_run_opens(models, tmp_path):
    home = tmp_path / "home"
    proc = subprocess.run([sys.executable, "-m", "flows.cli", "encode", "--home", str(home), "--modality", "image",
                           "--local", "--text", "clip", "--text-path", str(models["bert"])],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2 and "not a CLIP" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (home / "catalog.duckdb").exists()  # no failed run recorded for a typo
    with pytest.raises(ValueError, match="--text llama needs --text-path"):
        EncodeConfig(text="llama").check_paths()


def test_an_sd_vae_refuses_grey_samples_with_what_to_do(models):
    import numpy as np

    from encoders.latent import load_latent_encoder

    enc = load_latent_encoder("sd15", models["root"] / "vae")
    with pytest.raises(ValueError, match="encodes RGB; these samples have 1 channel"):
        enc.encode(np.zeros((1, 2, 16, 16), np.float32))


def test_an_aesthetic_head_that_is_no_state_dict_is_refused_up_front(tmp_path, models):
    from preprocess.filters.clip_config import ClipScoring

    bad = tmp_path / "head.pth"
    bad.write_text(json.dumps({"not": "a head"}))
    with pytest.raises(ValueError, match=r"--aesthetic at .*head.pth could not be loaded"):
        ClipScoring(path=str(models["root"] / "clip"), aesthetic=str(bad)).check_paths()


def test_a_vae_that_is_not_the_named_one_is_said_so(models, caplog):
    """--latent sdxl on an SD1.5-scaled VAE: the latents use the config's factor (right), but the
    catalog labels the encoding sdxl; a warning says so."""
    from encoders.latent import load_latent_encoder

    with caplog.at_level("WARNING", logger="encoders.latent.vae"):
        load_latent_encoder("sd15", models["root"] / "vae")
    assert not caplog.text
    with caplog.at_level("WARNING", logger="encoders.latent.vae"):
        enc = load_latent_encoder("sdxl", models["root"] / "vae")
    assert "has scaling factor 0.18215 and 4 latent channels, not sdxl's 0.13025" in caplog.text
    assert "--latent" not in caplog.text  # lumina sample loads it by its recorded name: no flag was given
    assert enc.scale == 0.18215


def test_lumina_encode_on_a_home_with_nothing_curated_creates_nothing(tmp_path):
    """A mistyped --home said "no curated image shards ... run lumina curate first" and still left
    a catalog.duckdb there: a stray workspace."""
    home = tmp_path / "typo_home"
    proc = subprocess.run([sys.executable, "-m", "flows.cli", "encode", "--home", str(home), "--modality", "image", "--local"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2 and "no curated image shards" in proc.stderr and "run `lumina curate` first" in proc.stderr, proc.stderr
    assert not home.exists()


def test_decoding_with_the_recorded_vae_does_not_repeat_the_name_warning(models, caplog):
    """lumina sample and evaluate reload the VAE a checkpoint records (load_described): the warning,
    said when the latents were made, repeated at every one, and printed just before a fingerprint
    refusal, where it read as the cause (helper A's walkthrough)."""
    from encoders.latent import encoder_info, load_described, load_latent_encoder

    with caplog.at_level("WARNING", logger="encoders.latent.vae"):
        info = encoder_info(load_latent_encoder("sdxl", models["root"] / "vae"))
    assert "not sdxl's" in caplog.text  # when the latents are made
    caplog.clear()
    with caplog.at_level("WARNING", logger="encoders.latent.vae"):
        assert load_described(info).fingerprint == info["fingerprint"]
    assert not caplog.text
