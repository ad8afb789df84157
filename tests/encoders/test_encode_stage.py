"""The encode stage with a real VAE architecture and the phone encoder: what lands in the shard and
in encoder.json is what training draws from and what `lumina sample` decodes with."""

import json

import numpy as np
import torch

from contracts.layout import Workspace
from contracts.members import CAP_FEATS, CAP_MASK, MOMENTS
from contracts.records import Batch
from contracts.shards import iter_samples, npy_load
from encoders.latent import draw_latent, load_described
from encoders.text.phone import PHONE_INVENTORY


def test_sd15_moments_and_phone_features_through_the_encode_stage(tmp_path):
    from diffusers import AutoencoderKL

    from encoders.latent.vae import VAE_CONFIGS
    from preprocess.curate import CurateConfig, curate
    from preprocess.encode import EncodeConfig, encode
    from preprocess.image.demo_corpus import write_demo_corpus
    from preprocess.image.plugin import ImagePlugin

    torch.manual_seed(0)  # SD1.5's VAE layout at small widths: the stage test is about plumbing, test_latent about numerics
    vae = AutoencoderKL(**{**VAE_CONFIGS["sd15"], "block_out_channels": [32, 32, 32, 32], "layers_per_block": 1, "norm_num_groups": 8}).eval()
    vae.save_pretrained(tmp_path / "vae")
    corpus = write_demo_corpus(tmp_path / "src", num_digits=4, num_shapes=3)
    home = tmp_path / "home"
    curate(corpus.root, home, CurateConfig(options={"resize": "square", "size": 32}), backend="local")
    result = encode(home, "image", EncodeConfig(latent="sd15", vae=str(tmp_path / "vae"), text="phone", max_tokens=64), backend="local")

    ws = Workspace.at(home)
    info = json.loads(ws.encoder_info(result.latent_encoder).read_text())
    assert info["scale"] == 0.18215 and info["stochastic"] and info["name"] == "sd15"
    decoder = load_described(info)  # what evaluation and `lumina sample` do with the recorded description
    (uri,) = [Batch.read(p).shard.uri for p in result.batch_paths]
    curated = {k: f for p in ws.curated("image").glob("curated-*.tar") for k, f in iter_samples(p)}
    n = 0
    for key, fields in iter_samples(uri):
        moments = npy_load(fields[MOMENTS])
        x = torch.from_numpy(ImagePlugin().media_array(curated[key])).permute(1, 0, 2, 3)
        with torch.no_grad():
            post = vae.encode(x).latent_dist
            want = vae.decode(post.mean).sample.permute(1, 0, 2, 3).numpy()
        assert moments.shape == (8, 1, 4, 4) and moments.dtype == np.float16
        np.testing.assert_allclose(moments[:4].astype(np.float32), post.mean.permute(1, 0, 2, 3).numpy(), rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(decoder.decode(post.mean.permute(1, 0, 2, 3).numpy() * info["scale"]), want, atol=1e-4)
        z = draw_latent(moments, info, torch.Generator().manual_seed(0))
        assert z.shape == (4, 1, 4, 4) and not torch.allclose(z, torch.from_numpy(moments[:4].astype(np.float32)) * info["scale"])
        feats, mask = npy_load(fields[CAP_FEATS]), npy_load(fields[CAP_MASK])
        assert feats.shape == (64, len(PHONE_INVENTORY)) and mask.dtype == bool and 2 < mask.sum() < 64
        n += 1
    assert n == 7
    null = np.load(ws.null_caption(result.text_encoder))
    assert null["cap_mask"].sum() == 2  # the empty caption: two word boundaries

    # The VAE moved after training: sample and evaluate name the flag that points to its new place.
    import shutil

    import pytest

    from evaluation.evaluate import load_decoder

    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "latent_encoder.json").write_text(json.dumps(info))
    shutil.move(tmp_path / "vae", tmp_path / "vae_moved")
    with pytest.raises(FileNotFoundError, match=r"records its sd15 VAE there; moved\? give its new place with --vae PATH"):
        load_decoder(ckpt)
    assert load_decoder(ckpt, str(tmp_path / "vae_moved")).fingerprint == info["fingerprint"]


def test_a_path_the_chosen_encoder_never_reads_is_refused():
    """--vae with the default identity latents was ignored without a word: the user meant sd15."""
    import pytest

    from preprocess.encode import EncodeConfig

    with pytest.raises(ValueError, match="--vae /v is for --latent sd15 or sdxl; identity latents use no VAE"):
        EncodeConfig(vae="/v")
    with pytest.raises(ValueError, match="the phone encoder reads no path"):
        EncodeConfig(text="phone", text_path="/t")
    EncodeConfig(text="minilm", text_path="/t")  # a local MiniLM in place of the packaged one: read
