"""Latent encoders: SD1.5 / SDXL VAEs built from their real configs with random weights, saved with
save_pretrained and loaded through the project's loader; identity; training's draw."""

import numpy as np
import pytest
import torch

from encoders.latent import draw_latent, encoder_info, load_described, load_latent_encoder, pixels_to_unit
from encoders.latent.vae import VAE_CONFIGS, choose_dtype


def _saved_vae(tmp_path_factory, name: str, seed: int, **overrides):
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    vae = AutoencoderKL(**{**VAE_CONFIGS[name], **overrides}).eval()
    folder = tmp_path_factory.mktemp(f"vae-{name}")
    vae.save_pretrained(folder)
    return vae, folder


@pytest.fixture(scope="module")
def sd15(tmp_path_factory):
    return _saved_vae(tmp_path_factory, "sd15", 0)  # the exact SD1.5 architecture: ~84M parameters


@pytest.fixture(scope="module")
def sdxl(tmp_path_factory):
    return _saved_vae(tmp_path_factory, "sdxl", 1)


def _video(t: int = 2, size: int = 32) -> np.ndarray:
    """A small real photo, shifted per frame: [3, T, H, W] in [-1, 1]."""
    from PIL import Image
    from skimage import data

    img = np.asarray(Image.fromarray(data.chelsea()).resize((size + 8 * t, size)))
    return pixels_to_unit(np.stack([img[:, 8 * i : 8 * i + size] for i in range(t)]))


@pytest.mark.parametrize("name, scale", [("sd15", 0.18215), ("sdxl", 0.13025)])
def test_stored_moments_are_the_vae_posterior_and_decode_round_trips(request, name, scale):
    vae, folder = request.getfixturevalue(name)
    enc = load_latent_encoder(name, str(folder), device="cpu", batch_frames=1)  # 2 frames, one by one
    assert enc.scale == scale and enc.shift == 0.0 and enc.stochastic and enc.downsample == 8 and enc.latent_channels == 4
    x = _video()
    stored = enc.encode(x)
    assert stored.shape == (8, 2, 4, 4) and stored.dtype == np.float16
    with torch.no_grad():
        ref = vae.encode(torch.from_numpy(x).permute(1, 0, 2, 3)).latent_dist  # the frames, one by one, as a batch
    mean, logvar = ref.mean.permute(1, 0, 2, 3).numpy(), ref.logvar.permute(1, 0, 2, 3).numpy()
    np.testing.assert_allclose(stored[:4].astype(np.float32), mean, rtol=1e-3, atol=1e-4)  # float16 precision
    np.testing.assert_allclose(stored[4:].astype(np.float32), logvar, rtol=1e-3, atol=1e-3)

    # evaluation's decoder comes from the recorded description, not a hard-coded one
    info = encoder_info(enc)
    dec = load_described(info, device="cpu")
    assert dec.fingerprint == enc.fingerprint and info["scale"] == scale
    mean0 = stored[:4, :1].astype(np.float32)  # the first frame (decoding is the slow half on CPU)
    with torch.no_grad():
        want = vae.decode(torch.from_numpy(mean0).permute(1, 0, 2, 3)).sample.permute(1, 0, 2, 3).numpy()
    got = dec.decode(mean0 * info["scale"])  # the model-space latent of the mean
    assert got.shape == (3, 1, 32, 32)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_sdxl_runs_in_fp32_unless_it_is_the_fp16_fix():
    assert choose_dtype("cuda", "sdxl", force_upcast=True) == torch.float32
    assert choose_dtype("cuda", "sdxl", force_upcast=False) == torch.float16  # madebyollin's fp16-fix config
    assert choose_dtype("cuda", "sd15", force_upcast=True) == torch.float16
    assert choose_dtype("cpu", "sd15", force_upcast=False) == torch.float32


def test_fingerprints_separate_weights_and_configs(sd15, sdxl):
    a = load_latent_encoder("sd15", str(sd15[1]), device="cpu")
    b = load_latent_encoder("sdxl", str(sdxl[1]), device="cpu")
    assert a.fingerprint.startswith("sd15@") and b.fingerprint.startswith("sdxl@") and a.fingerprint[5:] != b.fingerprint[5:]
    assert load_latent_encoder("sd15", str(sd15[1]), device="cpu").fingerprint == a.fingerprint  # stable
    with pytest.raises(ValueError, match="latents were made by"):
        load_described({**a.describe(), "path": str(sdxl[1]), "name": "sd15"}, device="cpu")


def test_single_safetensors_file_loads_with_the_named_config(sd15, tmp_path):
    from safetensors.torch import save_file

    vae, folder = sd15
    single = tmp_path / "vae.safetensors"
    save_file({k: v.contiguous() for k, v in vae.state_dict().items()}, single)
    enc = load_latent_encoder("sd15", str(single), device="cpu")
    x = _video(t=1)
    with torch.no_grad():
        ref = vae.encode(torch.from_numpy(x).permute(1, 0, 2, 3)).latent_dist.mean.permute(1, 0, 2, 3).numpy()
    assert enc.scale == 0.18215
    np.testing.assert_allclose(enc.encode(x)[:4].astype(np.float32), ref, rtol=1e-3, atol=1e-4)


def test_draw_latent_samples_the_posterior_in_model_space():
    mean = np.full((4, 1, 8, 8), 0.5, np.float32)
    logvar = np.full((4, 1, 8, 8), np.log(0.04), np.float32)  # std 0.2
    stored = np.concatenate([mean, logvar]).astype(np.float16)
    info = {"stochastic": True, "scale": 0.18215, "shift": 0.1}
    draws = torch.stack([draw_latent(stored, info, torch.Generator().manual_seed(i)) for i in range(200)])
    assert draws.shape == (200, 4, 1, 8, 8) and draws.dtype == torch.float32
    assert abs(draws.mean().item() - (0.5 - 0.1) * 0.18215) < 2e-3
    assert abs(draws.std().item() - 0.2 * 0.18215) < 2e-3
    assert not torch.equal(draws[0], draws[1])  # a fresh latent each epoch
    flat = draw_latent(mean, {"stochastic": False, "scale": 1.0, "shift": 0.0}, None)
    assert torch.equal(flat, torch.from_numpy(mean))


def test_large_images_take_the_tiled_path(tmp_path_factory):
    vae, folder = _saved_vae(tmp_path_factory, "sd15", 2, sample_size=32, block_out_channels=[32, 32, 32, 32], layers_per_block=1, norm_num_groups=8)
    enc = load_latent_encoder("sd15", str(folder), device="cpu")
    small, large = _video(t=1, size=32), _video(t=1, size=64)
    with torch.no_grad():
        plain = vae.encode(torch.from_numpy(large).permute(1, 0, 2, 3)).latent_dist.mean
        tiled = vae.tiled_encode(torch.from_numpy(large).permute(1, 0, 2, 3)).latent_dist.mean
        small_ref = vae.encode(torch.from_numpy(small).permute(1, 0, 2, 3)).latent_dist.mean
    got = torch.from_numpy(enc.encode(large)[:4].astype(np.float32)).permute(1, 0, 2, 3)
    assert torch.allclose(got, tiled, rtol=1e-3, atol=1e-3) and not torch.allclose(got, plain, atol=1e-3)
    got_small = torch.from_numpy(enc.encode(small)[:4].astype(np.float32)).permute(1, 0, 2, 3)
    assert torch.allclose(got_small, small_ref, rtol=1e-3, atol=1e-3)  # up to sample_size: one pass
    assert not load_latent_encoder("sd15", str(folder), device="cpu", tiled=False).fingerprint == enc.fingerprint


def test_identity_keeps_any_float_array():
    enc = load_latent_encoder("identity", channels=1)
    mel = np.random.default_rng(0).normal(size=(1, 1, 80, 120)).astype(np.float32)
    z = enc.encode(mel)
    assert z.dtype == np.float16 and z.shape == mel.shape and np.allclose(enc.decode(z), mel, atol=1e-2)
    assert enc.fingerprint == "identity@v1" and (enc.scale, enc.shift, enc.downsample, enc.stochastic) == (1.0, 0.0, 1, False)
    assert load_described(encoder_info(enc)).latent_channels == 1
    with pytest.raises(ValueError):
        load_latent_encoder("sd15")  # a VAE needs a local path: nothing downloads


def _to_ldm_layout(state: dict, n_up: int) -> dict:
    """diffusers AutoencoderKL keys -> the original LDM layout of SD checkpoints (inside a full model file)."""
    import re

    out = {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(1)}  # a UNet key the loader must ignore
    for k, v in state.items():
        k = re.sub(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)", r"encoder.down.\1.block.\2", k)
        k = re.sub(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv", r"encoder.down.\1.downsample.conv", k)
        k = re.sub(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)", lambda m: f"decoder.up.{n_up - 1 - int(m[1])}.block.{m[2]}", k)
        k = re.sub(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv", lambda m: f"decoder.up.{n_up - 1 - int(m[1])}.upsample.conv", k)
        k = re.sub(r"(en|de)coder\.mid_block\.resnets\.(\d+)", lambda m: f"{m[1]}coder.mid.block_{int(m[2]) + 1}", k)
        if "mid_block.attentions.0" in k:
            k = k.replace("mid_block.attentions.0", "mid.attn_1").replace("group_norm", "norm").replace("to_q", "q")
            k = k.replace("to_k", "k").replace("to_v", "v").replace("to_out.0", "proj_out")
            v = v[:, :, None, None] if v.ndim == 2 else v  # LDM attention projections are 1x1 convolutions
        k = k.replace("conv_shortcut", "nin_shortcut").replace("conv_norm_out", "norm_out")
        out[f"first_stage_model.{k}"] = v.contiguous()
    return out


def test_single_file_in_the_original_ldm_layout(sd15, tmp_path):
    from safetensors.torch import save_file

    vae, _ = sd15
    save_file(_to_ldm_layout(vae.state_dict(), len(vae.config.block_out_channels)), tmp_path / "v1-5-full.safetensors")
    enc = load_latent_encoder("sd15", str(tmp_path / "v1-5-full.safetensors"), device="cpu")  # strict load: every key mapped
    x = _video(t=1)
    with torch.no_grad():
        ref = vae.encode(torch.from_numpy(x).permute(1, 0, 2, 3)).latent_dist.mean.permute(1, 0, 2, 3).numpy()
    np.testing.assert_allclose(enc.encode(x)[:4].astype(np.float32), ref, rtol=1e-3, atol=1e-4)
