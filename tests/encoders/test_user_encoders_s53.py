"""A user's own encoder weights, in the layouts real downloads have (session 53's walkthrough).

Each test is a defect found by pointing the loaders at tiny random models saved the way a download
leaves them: a relative or ``~`` path (recorded as typed, so `lumina sample` run from another folder
could not find it), a Hugging Face hub cache repository folder (refused "no config.json"), a VAE
folder of fp16 variant files alone (refused "no weights"), a VAE whose weights do not fit its config
(diffusers' line, without the role or the path), a pipeline's text_encoder/ whose tokenizer is in
tokenizer/ beside it (refused, or the bundled BPE used in its place), a .bin-only VAE (diffusers'
"An error occurred" line), and a language model with fewer positions than --max-tokens (GPT-2's
learned positions: an IndexError traceback at the first batch).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest


def _tiny_vae(seed: int = 0):
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(block_out_channels=[8, 8], down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                         norm_num_groups=4, layers_per_block=1, sample_size=32).eval()


def _hub_cache(src: Path, root: Path) -> Path:
    """src's files as the hub cache keeps them: blobs named by hash, a snapshot of symlinks, refs/main."""
    import hashlib

    repo = root / "models--org--tiny-vae"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "blobs").mkdir(parents=True)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for f in src.iterdir():
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        (repo / "blobs" / digest).write_bytes(f.read_bytes())
        os.symlink(f"../../blobs/{digest}", repo / "snapshots" / commit / f.name)
    return repo


@pytest.fixture(scope="module")
def vae_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("vae") / "vae"
    _tiny_vae().save_pretrained(folder)
    return folder


def test_relative_and_home_paths_are_recorded_absolute(tmp_path, monkeypatch):
    from preprocess.encode import EncodeConfig

    (tmp_path / "models" / "vae").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    cfg = EncodeConfig(latent="sd15", vae="models/vae", text="llama", text_path="~/models/llm")
    assert (cfg.vae, cfg.text_path) == (str(tmp_path / "models" / "vae"), str(tmp_path / "models" / "llm"))


def test_a_vae_loaded_by_a_relative_path_describes_it_absolute(vae_folder, monkeypatch):
    from encoders.latent import load_latent_encoder

    monkeypatch.chdir(vae_folder.parent)
    enc = load_latent_encoder("sd15", "vae", say_name_mismatch=False)
    assert enc.describe()["path"] == str(vae_folder)  # encoder.json: read again by lumina sample from any folder


def test_a_hub_cache_repository_folder_loads_the_snapshot_refs_main_names(vae_folder, tmp_path):
    from encoders.latent import load_latent_encoder
    from preprocess.encode import EncodeConfig

    repo = _hub_cache(vae_folder, tmp_path)
    cfg = EncodeConfig(latent="sd15", vae=str(repo))
    cfg.check_paths("image")  # was: --vae: ... has no config.json
    assert Path(cfg.vae).parent.name == "snapshots"
    enc = load_latent_encoder("sd15", repo, say_name_mismatch=False)
    # the same weights through symlinks: the fingerprint of the folder they were copied from
    assert enc.fingerprint == load_latent_encoder("sd15", vae_folder, say_name_mismatch=False).fingerprint


def test_a_vae_folder_of_fp16_variant_files_alone_loads_them(tmp_path):
    import torch

    from encoders.latent import load_latent_encoder
    from encoders.latent.vae import check_vae_path

    vae = _tiny_vae(seed=3).half()
    vae.save_pretrained(tmp_path / "vae", variant="fp16")
    assert [f.name for f in (tmp_path / "vae").glob("*.safetensors")] == ["diffusion_pytorch_model.fp16.safetensors"]
    check_vae_path(tmp_path / "vae")  # was: has a config.json but no weights
    enc = load_latent_encoder("sd15", tmp_path / "vae", say_name_mismatch=False)
    x = np.random.default_rng(0).uniform(-1, 1, (3, 1, 16, 16)).astype(np.float32)
    with torch.no_grad():
        mean = vae.float().encode(torch.from_numpy(x).permute(1, 0, 2, 3)).latent_dist.mean
    assert np.allclose(enc.encode(x)[:4, 0].astype(np.float32), mean[0].numpy(), atol=2e-2)  # its weights, not random ones


def test_weights_that_do_not_fit_the_config_are_one_line_naming_the_role_and_path(tmp_path):
    from encoders.latent import load_latent_encoder

    _tiny_vae().save_pretrained(tmp_path / "vae")
    config = json.loads((tmp_path / "vae" / "config.json").read_text())
    (tmp_path / "vae" / "config.json").write_text(json.dumps({**config, "block_out_channels": [16, 16]}))
    with pytest.raises(ValueError) as err:
        load_latent_encoder("sd15", tmp_path / "vae", say_name_mismatch=False)
    message = str(err.value)
    assert message.startswith(f"--vae at {tmp_path / 'vae'} could not be loaded: its weights do not fit its config.json")
    assert "[8] in the file, [16] in the model" in message and "ignore_mismatched_sizes" not in message


def test_a_bin_only_vae_loads_without_the_missing_safetensors_line(tmp_path, capfd, caplog):
    from encoders.latent import load_latent_encoder

    _tiny_vae().save_pretrained(tmp_path / "vae", safe_serialization=False)
    load_latent_encoder("sd15", tmp_path / "vae", say_name_mismatch=False)
    said = capfd.readouterr().err + caplog.text
    assert "An error occurred while trying to fetch" not in said and "no file named" not in said


def _tiny_clip_tokenizer(folder: Path):
    """A CLIPTokenizer over a vocabulary of a few words, built here (no download)."""
    from transformers import CLIPTokenizer

    words = ["a", "red", "circle"]
    vocab: dict[str, int] = {}
    for c in sorted(set("".join(words))):
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    merges = []
    for w in words:
        parts = list(w[:-1]) + [w[-1] + "</w>"]
        while len(parts) > 1:
            merges.append(f"{parts[0]} {parts[1]}")
            parts = [parts[0] + parts[1], *parts[2:]]
            vocab.setdefault(parts[0], len(vocab))
    vocab["<|startoftext|>"], vocab["<|endoftext|>"] = len(vocab), len(vocab) + 1
    folder.mkdir(parents=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))


def test_a_pipeline_text_encoder_reads_the_tokenizer_beside_it(tmp_path):
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel

    from encoders.text import load_text_encoder

    pipe = tmp_path / "sd-pipe"
    tok = _tiny_clip_tokenizer(tmp_path / "src")
    tok.save_pretrained(pipe / "tokenizer")
    torch.manual_seed(0)
    CLIPTextModel(CLIPTextConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                                 max_position_embeddings=77, eos_token_id=tok.eos_token_id)).save_pretrained(pipe / "text_encoder")
    (pipe / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    enc = load_text_encoder("clip", pipe / "text_encoder", max_tokens=8)  # was: no tokenizer files and a vocabulary of 24 tokens
    ids, mask = enc.clip.tokenize(["a red circle"], 8)
    assert ids[0, :5].tolist() == tok("a red circle")["input_ids"] and mask[0].tolist() == [True] * 5 + [False] * 3
    before = enc.fingerprint
    tok.add_tokens(["<cat-toy>"])
    tok.save_pretrained(pipe / "tokenizer")
    assert load_text_encoder("clip", pipe / "text_encoder", max_tokens=8).fingerprint != before  # the tokenizer is part of it


def test_a_language_model_with_fewer_positions_than_max_tokens_encodes_to_them(tmp_path, caplog):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from encoders.text import load_text_encoder

    from .tiny_models import save_llama

    save_llama(tmp_path / "llm")  # its tokenizer; the model: a GPT-2 of 8 learned positions
    for f in ("config.json", "model.safetensors", "generation_config.json"):
        (tmp_path / "llm" / f).unlink(missing_ok=True)
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=300, n_positions=8, n_embd=16, n_layer=1, n_head=2, bos_token_id=1, eos_token_id=2)).save_pretrained(tmp_path / "llm")
    enc = load_text_encoder("llama", tmp_path / "llm", max_tokens=32)
    assert enc.max_length == 8 and "has 8 positions; captions are encoded to 8 tokens" in caplog.text
    out = enc.encode(["a red circle on a blue square " * 3])  # was: IndexError: index out of range in self
    assert out.feats.shape[1] == 8 and out.mask.all() and out.dropped[0] > 0


def test_sample_s_vae_flag_takes_home_and_a_hub_cache_folder(vae_folder, tmp_path, monkeypatch):
    """lumina sample --vae '~/vae' (checked by check_vae_path before sampling) said 'no such file or folder: ~/vae'."""
    import shutil

    from encoders.latent import latent_downsample
    from encoders.latent.vae import check_vae_path

    shutil.copytree(vae_folder, tmp_path / "vae")
    monkeypatch.setenv("HOME", str(tmp_path))
    check_vae_path("~/vae")
    repo = _hub_cache(vae_folder, tmp_path / "hub")
    check_vae_path(repo)
    assert latent_downsample("sd15", repo) == 2  # encode's latent-grid check reads the snapshot's config


def test_an_open_clip_arch_file_keeps_its_arch_and_gets_an_absolute_file(tmp_path, monkeypatch):
    from encoders.local_model import user_model_path

    monkeypatch.chdir(tmp_path)
    (tmp_path / "clip.pt").write_bytes(b"")
    assert user_model_path("ViT-B-32:clip.pt") == f"ViT-B-32:{tmp_path}/clip.pt"
    # a FILE not there keeps the form, so the refusal says which FILE of ARCH:FILE is missing
    assert user_model_path("ViT-L-14:/models/missing.pt") == "ViT-L-14:/models/missing.pt"
    assert user_model_path("folder/x") == f"{tmp_path}/folder/x"


def test_a_variant_downloaded_beside_the_weights_later_still_decodes_the_checkpoint(tmp_path):
    """A hub snapshot grows: the fp16 files downloaded after encoding changed the fingerprint (every weight file
    in the folder is hashed), and `lumina sample` refused 'latent encoder at ... is sd15@d6d4..., but the
    latents were made by sd15@1c0c...' though the weights it reads had not changed."""
    from encoders.latent import encoder_info, load_described, load_latent_encoder

    _tiny_vae(seed=5).save_pretrained(tmp_path / "vae")
    recorded = encoder_info(load_latent_encoder("sd15", tmp_path / "vae", say_name_mismatch=False))
    assert "weights_fingerprint" not in recorded  # a folder of the read files alone: encoder.json as before
    _tiny_vae(seed=5).half().save_pretrained(tmp_path / "vae", variant="fp16")
    assert load_latent_encoder("sd15", tmp_path / "vae", say_name_mismatch=False).fingerprint != recorded["fingerprint"]
    assert load_described(recorded).fingerprint == recorded["fingerprint"]
    grown = encoder_info(load_latent_encoder("sd15", tmp_path / "vae", say_name_mismatch=False))
    assert grown["weights_fingerprint"] == recorded["fingerprint"]
    _tiny_vae(seed=6).save_pretrained(tmp_path / "vae")  # other weights where the loader reads: refused, both records
    for info in (recorded, grown):
        with pytest.raises(ValueError, match="but the latents were made by"):
            load_described(info)


def test_a_clip_saved_in_fp16_runs_in_fp32_on_a_cpu(tmp_path):
    """transformers 5 loads in the config's dtype; SDXL's text encoders say float16: on a CPU they ran in it."""
    import torch

    from encoders.text import load_text_encoder

    from .tiny_models import save_hf_clip_text

    save_hf_clip_text(tmp_path / "clip32")
    from transformers import CLIPTextModelWithProjection

    CLIPTextModelWithProjection.from_pretrained(tmp_path / "clip32").half().save_pretrained(tmp_path / "clip16")
    assert json.loads((tmp_path / "clip16" / "config.json").read_text())["dtype"] == "float16"
    enc = load_text_encoder("clip", tmp_path / "clip16")
    assert next(enc.clip.model.parameters()).dtype == torch.float32


def test_a_pipeline_text_encoder_of_the_bpe_s_vocabulary_keeps_the_bundled_bpe_and_its_fingerprint(tmp_path):
    """SD1.5's and SDXL's text encoders (49,408 tokens) encoded with the bundled BPE before the tokenizer/
    beside them was read: their encodings' fingerprint, which a checkpoint's lumina sample checks, stays."""
    from encoders.text import load_text_encoder

    from .tiny_models import save_hf_clip_text

    pipe = tmp_path / "sd-pipe"
    save_hf_clip_text(pipe / "text_encoder", projection=False)  # vocab 49408
    alone = load_text_encoder("clip", pipe / "text_encoder").fingerprint
    _tiny_clip_tokenizer(tmp_path / "src").save_pretrained(pipe / "tokenizer")
    (pipe / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    enc = load_text_encoder("clip", pipe / "text_encoder")
    assert enc.clip.tokenizer_path is None and enc.fingerprint == alone
