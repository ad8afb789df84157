"""Stable Diffusion VAEs (SD1.5, SDXL) through diffusers' AutoencoderKL.

Loads a diffusers folder (``config.json`` + weights, or a pipeline folder with ``vae/``) or a single
``.safetensors`` file in the original LDM layout (``vae-ft-mse-840000-ema-pruned.safetensors``,
``sdxl_vae.safetensors``) or diffusers layout; a single file gets the config below for its name.
The scale and shift factors are read from the config, never written elsewhere.

Moments are stored (mean and log-variance, float16) so training draws a fresh latent each epoch.
Frames / views are encoded one by one in batches; images larger than the config's sample_size go
through diffusers' tiled encoder (overlapping tiles, blended), so memory stays bounded.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch

from encoders.device import resolve_device
from encoders.fingerprint import fingerprint, weights_fingerprint, weights_record
from encoders.path_checks import VAE_FILE_SUFFIXES, check_vae_path  # noqa: F401  (torch-free; re-exported)
from encoders.path_checks import vae_folder as _vae_folder

_SD_BLOCKS = dict(
    in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, norm_num_groups=32, act_fn="silu",
    block_out_channels=[128, 256, 512, 512], down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
)
# The published configs (runwayml/stable-diffusion-v1-5 vae/, stabilityai/sdxl-vae), for single files.
VAE_CONFIGS: dict[str, dict] = {
    "sd15": {**_SD_BLOCKS, "sample_size": 512, "scaling_factor": 0.18215},
    "sdxl": {**_SD_BLOCKS, "sample_size": 1024, "scaling_factor": 0.13025, "force_upcast": True},
}
# SDXL's VAE overflows in fp16 (NaNs): it runs in fp32 unless the config says otherwise (the fp16-fix VAE).
_FP32_BY_DEFAULT = {"sdxl"}


def choose_dtype(device: str, name: str, force_upcast: bool, dtype: str | None = None) -> torch.dtype:
    """fp16 on a GPU, except SDXL's VAE, whose fp16 activations overflow unless it is the fp16-fix VAE."""
    if dtype:
        return getattr(torch, dtype)
    if device == "cpu" or (name in _FP32_BY_DEFAULT and force_upcast):
        return torch.float32
    return torch.float16


def _load_single_file(path: Path, name: str, dtype: torch.dtype):
    from diffusers import AutoencoderKL
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint
    from safetensors.torch import load_file

    config = VAE_CONFIGS[name]
    state = load_file(str(path)) if path.suffix == ".safetensors" else torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    if not any(k.startswith("encoder.down_blocks.") for k in state):  # LDM layout (optionally first_stage_model.*)
        state = convert_ldm_vae_checkpoint(state, config)
    vae = AutoencoderKL(**config)
    vae.load_state_dict(state, strict=True)
    return vae.to(dtype)


def vae_config(path: str | Path, name: str) -> dict:
    from encoders.local_model import user_model_path

    p = Path(user_model_path(path))
    return dict(VAE_CONFIGS[name]) if p.is_file() else json.loads((_vae_folder(p) / "config.json").read_text())


def load_autoencoder_kl(path: str | Path, name: str, dtype: torch.dtype = torch.float32):
    """The AutoencoderKL from a diffusers folder or a single weights file."""
    from diffusers import AutoencoderKL

    from encoders.local_model import every_weight_loaded, weights_variant

    p = Path(path)
    if p.is_file():
        return _load_single_file(p, name, dtype)
    folder = _vae_folder(p)  # a folder of fp16 files alone loads them by their variant name
    # a folder of .bin weights alone (older downloads): said so, diffusers printed "An error occurred while
    # trying to fetch ...: Error no file named diffusion_pytorch_model.safetensors" before loading them
    use_safetensors = None if any(folder.glob("*.safetensors")) else False
    return every_weight_loaded(AutoencoderKL.from_pretrained(folder, local_files_only=True, torch_dtype=dtype, variant=weights_variant(folder),
                                                             use_safetensors=use_safetensors, output_loading_info=True))


class VAELatentEncoder:
    stochastic = True
    thread_safe = True  # encode() may run in several threads at once (encoders/threads.py): the module is only read

    def __init__(self, name: str, path: str | Path, device: str | None = None, batch_frames: int = 8, tiled: bool = True,
                 dtype: str | None = None, say_name_mismatch: bool = True):
        if path is None:
            raise ValueError(f"latent encoder {name!r} needs a local path: a diffusers VAE folder or a .safetensors file")
        from encoders.local_model import user_model_path

        path = user_model_path(path)  # recorded absolute: lumina sample decodes from any folder
        self.name, self.path = name, path
        self.options = {"batch_frames": batch_frames, "tiled": tiled, "dtype": dtype}
        self.device = resolve_device(device)
        check_vae_path(path)
        config = vae_config(path, name)
        self.dtype = choose_dtype(self.device, name, bool(config.get("force_upcast", True)), dtype)
        from encoders.local_model import loading

        try:
            with loading("--vae", path):
                self.vae = load_autoencoder_kl(path, name, self.dtype).to(self.device).eval().requires_grad_(False)
        except ValueError as e:
            raise ValueError(f"{e}{_folder_hint(path, name)}") from e.__cause__
        cfg = self.vae.config
        expected = VAE_CONFIGS[name]
        mismatch = (float(cfg.scaling_factor), int(cfg.latent_channels)) != (expected["scaling_factor"], expected["latent_channels"])
        if mismatch and say_name_mismatch:
            # the name is the encoding's label in the catalog: say when the weights are not that VAE
            # no flag named: lumina sample loads the checkpoint's VAE by its recorded name, not --latent
            logging.getLogger(__name__).warning(
                "the VAE at %s has scaling factor %g and %d latent channels, not %s's %g and %d: its latents are "
                "right, but the name %s they are recorded under is not", path, cfg.scaling_factor, cfg.latent_channels,
                name, expected["scaling_factor"], expected["latent_channels"], name)
        self.scale = float(cfg.scaling_factor)  # from the config: never a constant elsewhere
        self.shift = float(cfg.shift_factor or 0.0)
        self.latent_channels = int(cfg.latent_channels)
        self.downsample = 2 ** (len(cfg.block_out_channels) - 1)
        if tiled:
            self.vae.enable_tiling()  # only images larger than sample_size are tiled
        # name + config + weights + options; dtype and device change numerics only within fp16 precision
        hashed = (name, None if Path(path).is_file() else _vae_folder(Path(path)), {"batch_frames": None, "tiled": tiled},
                  {"config": dict(config), "file": _file_hash(path)})
        self.fingerprint = fingerprint(*hashed)
        self.weights_fingerprint = weights_fingerprint(*hashed)  # a variant downloaded beside the weights later is no other VAE

    def _frames(self, x: np.ndarray) -> torch.Tensor:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 4:
            raise ValueError(f"expected [C, T, H, W], got shape {x.shape}")
        if x.shape[0] != 3:  # e.g. the video demo's grey clips (options.grey)
            raise ValueError(f"an SD VAE encodes RGB; these samples have {x.shape[0]} channel(s): curate them in colour, "
                             "or encode with --latent identity")
        if x.shape[2] % self.downsample or x.shape[3] % self.downsample:
            raise ValueError(f"H and W must be multiples of {self.downsample}, got {x.shape[2:]}")
        return torch.from_numpy(x).permute(1, 0, 2, 3)  # (T, C, H, W): frames / views as a batch

    @torch.inference_mode()
    def moments(self, x: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, logvar), each [T, C, h, w] float32: the posterior of every frame."""
        frames, means, logvars = self._frames(x), [], []
        for i in range(0, len(frames), self.options["batch_frames"]):
            dist = self.vae.encode(frames[i : i + self.options["batch_frames"]].to(self.device, self.dtype)).latent_dist
            means.append(dist.mean.float().cpu())
            logvars.append(dist.logvar.float().cpu())
        return torch.cat(means), torch.cat(logvars)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """[C_in, T, H, W] in [-1, 1] -> moments [2C, T, H/8, W/8] float16 = concat(mean, logvar) on dim 0."""
        mean, logvar = self.moments(x)
        return torch.cat([mean, logvar], dim=1).permute(1, 0, 2, 3).half().numpy()

    @torch.inference_mode()
    def decode(self, z: np.ndarray) -> np.ndarray:
        """model-space latent [C, T, h, w] -> [C_in, T, H, W] float32 in about [-1, 1]."""
        z = torch.as_tensor(np.asarray(z, dtype=np.float32)).permute(1, 0, 2, 3)  # (T, C, h, w)
        outs = []
        for i in range(0, len(z), self.options["batch_frames"]):
            sample = z[i : i + self.options["batch_frames"]] / self.scale + self.shift
            outs.append(self.vae.decode(sample.to(self.device, self.dtype)).sample.float().cpu())
        return torch.cat(outs).permute(1, 0, 2, 3).numpy()

    def describe(self) -> dict:
        return {"name": self.name, "path": self.path, "options": dict(self.options), "fingerprint": self.fingerprint,
                **weights_record(self)}


def _folder_hint(path: str, name: str) -> str:
    """A weights file given inside a diffusers folder loads with the published config of ``name``, not the
    config.json beside it: where it does not fit, say to give the folder (the refusal said only "weights
    of another architecture", the config that fits them one directory up)."""
    beside = Path(path).parent / "config.json"
    if not Path(path).is_file() or not beside.is_file():
        return ""
    try:
        is_vae = json.loads(beside.read_text()).get("_class_name") == "AutoencoderKL"
    except (OSError, ValueError):
        return ""
    return (f"; a single file loads with the published {name} config, and this one lies in a diffusers folder: give the folder, "
            f"--vae {Path(path).parent}, to load it with its config.json") if is_vae else ""


def _file_hash(path: str | Path) -> str | None:
    from encoders.fingerprint import file_digest

    return file_digest(path) if Path(path).is_file() else None
