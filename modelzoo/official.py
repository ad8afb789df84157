"""The public Lumina-T2X Flag-DiT checkpoints: their key names and layouts, mapped both ways.

Learnt from the public code's parameter names (``lumina_t2i/models/model.py``, ``DiT_Llama``);
no code of it is used. Official name -> ours (i: block index):

    x_embedder.{weight,bias}                  [D, C*ph*pw] columns (C, ph, pw) -> same, patch_order="chw"
    t_embedder.mlp.{0,2}.{weight,bias}        raw t in [0, 1]                 -> same, time_scale=1.0
    cap_embedder.{0,1}.{weight,bias}          LayerNorm, Linear               -> same
    y_embedder.embedding_table.weight         [classes + 1, D'] (class models) -> same
    layers.i.attention.{wq,wk,wv}.weight      three matrices                  -> layers.i.attention.qkv.weight (rows q|k|v)
    layers.i.attention.{wk_y,wv_y}.weight     text keys, values               -> layers.i.attention.kv_y.weight (rows k|v)
    layers.i.attention.wo.weight, .gate       output, tanh gates              -> same
    layers.i.attention.{q,k,ky}_norm.*        LayerNorm across heads; absent when qk_norm=False -> same / qk_norm="none"
    layers.i.feed_forward.{w1,w2,w3}.weight   SwiGLU                          -> same
    layers.i.{attention,ffn,attention_y}_norm.weight   RMSNorm                -> same
    layers.i.adaLN_modulation.1.*, final_layer.adaLN_modulation.1.*            -> same
    final_layer.linear.{weight,bias}          rows (ph, pw, C_out), C_out = 2C with learn_sigma
                                              -> rows with c < C (the sigma half is never used)
    eol_token                                 [nextline]                      -> nextline_token
    pad_token                                                                 -> pad_token
    (none: never released)                    [nextframe]                     -> nextframe_token = 0

The public T2I code is this model with ``rope="1d"``, ``sep_tokens=True``, ``qk_norm`` LayerNorm
(or none), ``time_scale=1.0`` and ``patch_order="chw"``; ``config_from_official`` reads the rest
(dim, layers, caption width, GQA, SwiGLU width, channels) from the shapes. The head count cannot
be read from a class model's shapes (text models have one gate per head): pass ``n_heads``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from .config import FlagDiTConfig, PatchOrder, QKNorm, RopeKind

RENAMED = {"eol_token": "nextline_token"}  # official -> ours; everything else keeps its name
PREFIXES = ("module.", "_orig_mod.", "model.")  # wrappers (DDP, torch.compile) some checkpoints keep


def load_official_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A public checkpoint: one ``.pth`` / ``.safetensors`` file, or a folder of them (the
    release ships ``consolidated.00-of-01.pth``; ``*ema*`` files are preferred when present)."""
    state: dict[str, torch.Tensor] = {}
    for file in official_files(path):
        part = _load_file(file)
        overlap = set(part) & set(state)
        if overlap:
            raise ValueError(f"{file.name} repeats keys of another shard, e.g. {sorted(overlap)[:3]}: "
                             "pass one checkpoint file")
        state.update(part)
    return _strip_prefixes(state)


def official_files(path: str | os.PathLike) -> list[Path]:
    """The weight files load_official_state reads: the file, or a folder's checkpoint files, its
    ``*ema*`` ones when present (model_args.pth is the release's argparse Namespace, not weights)."""
    path = Path(path)
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.iterdir() if p.suffix in (".pth", ".pt", ".safetensors", ".bin")
                   and not p.name.startswith("model_args"))
    files = [p for p in files if "ema" in p.name] or files
    if not files:
        raise FileNotFoundError(f"no .pth or .safetensors checkpoint in {path}")
    return files


def _load_file(file: Path) -> dict[str, torch.Tensor]:
    """One weights file; a file that is none (cut short, bytes after its data, not a checkpoint) is a
    ValueError naming it."""
    from modelzoo.weights_file import load_failure

    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(file))
        obj = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch.load and safetensors raise many types for a bad file
        why = (load_failure(file, e) if file.suffix == ".safetensors"
               else f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        raise ValueError(f"{file} is not a readable checkpoint ({why})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{file} holds a {type(obj).__name__}, not a state dict")
    for key in ("model", "state_dict", "ema"):  # training checkpoints nest the weights
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    return dict(obj)


def _strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    for prefix in PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def config_from_official(state: dict[str, torch.Tensor], patch_size: int = 2, n_heads: int | None = None,
                         **overrides: Any) -> FlagDiTConfig:
    """Our config for an official state dict, from its shapes (see the module docstring)."""
    dim, patch_dim = state["x_embedder.weight"].shape
    n_layers = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"layers\.(\d+)\.", k)))
    in_channels = patch_dim // (patch_size * patch_size)
    if in_channels * patch_size * patch_size != patch_dim:
        raise ValueError(f"x_embedder takes {patch_dim} features: not a multiple of patch {patch_size}^2")
    cap_dim = state["layers.0.attention.wk_y.weight"].shape[1] if "layers.0.attention.wk_y.weight" in state else 0
    if n_heads is None:
        if "layers.0.attention.gate" not in state:
            raise ValueError("a class-conditional checkpoint does not show its head count: pass n_heads (lumina convert --n-heads N)")
        n_heads = state["layers.0.attention.gate"].numel()
    head_dim = dim // n_heads
    kv_rows = state["layers.0.attention.wk.weight"].shape[0]
    hidden = state["layers.0.feed_forward.w1.weight"].shape[0]
    classes = state["y_embedder.embedding_table.weight"].shape[0] - 1 if "y_embedder.embedding_table.weight" in state else 0
    fields: dict[str, Any] = dict(
        in_channels=in_channels, patch_size=patch_size, dim=dim, n_layers=n_layers, n_heads=n_heads,
        n_kv_heads=None if kv_rows == dim else kv_rows // head_dim, cap_dim=cap_dim, num_classes=classes,
        qk_norm=QKNorm.LAYERNORM if "layers.0.attention.q_norm.weight" in state else QKNorm.NONE,
        rope=RopeKind.FLAT, sep_tokens=True, time_scale=1.0, patch_order=PatchOrder.CHW,
        multiple_of=_multiple_of(dim, hidden),
    )
    fields.update(overrides)
    cfg = FlagDiTConfig(**fields)
    if cfg.ffn_hidden != hidden:
        raise ValueError(f"SwiGLU width {hidden} does not follow from dim {dim}: pass multiple_of / ffn_dim_multiplier")
    return cfg


def _multiple_of(dim: int, hidden: int) -> int:
    """The reference rounds int(8 dim / 3) up to a multiple of 256; small test models use less."""
    for m in (256, 128, 64, 32, 16, 8, 1):
        if m * -(-int(8 * dim / 3) // m) == hidden:
            return m
    return 256


def from_official_state(state: dict[str, torch.Tensor], cfg: FlagDiTConfig) -> dict[str, torch.Tensor]:
    """Official tensors -> our state dict for ``cfg`` (from ``config_from_official``)."""
    state = _strip_prefixes(dict(state))
    ours: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        m = re.match(r"(layers\.\d+\.attention\.)(wq|wk|wv|wk_y|wv_y)\.weight$", key)
        if m:
            continue  # fused below
        if key == "final_layer.linear.weight" or key == "final_layer.linear.bias":
            value = _drop_sigma_half(value, cfg)
        ours[RENAMED.get(key, key)] = value
    for i in range(cfg.n_layers):
        a = f"layers.{i}.attention."
        ours[a + "qkv.weight"] = torch.cat([state[a + "wq.weight"], state[a + "wk.weight"], state[a + "wv.weight"]])
        if cfg.cap_dim:
            ours[a + "kv_y.weight"] = torch.cat([state[a + "wk_y.weight"], state[a + "wv_y.weight"]])
    ours["nextframe_token"] = torch.zeros_like(ours["nextline_token"])  # never released; unused at T = 1
    if cfg.patch_order is not PatchOrder.CHW:  # our column order asked for: permute (C, ph, pw) -> (ph, pw, C)
        ours["x_embedder.weight"] = _permute_columns(ours["x_embedder.weight"], cfg, to_hwc=True)
    return ours


def to_official_state(model_state: dict[str, torch.Tensor], cfg: FlagDiTConfig,
                      learn_sigma: bool = True) -> dict[str, torch.Tensor]:
    """Our state dict -> the official layout. learn_sigma=True (the public default) writes a zero
    sigma half so the public code loads it strictly; its outputs' first C channels are ours."""
    if cfg.rope is not RopeKind.FLAT or not cfg.sep_tokens or cfg.qk_norm is QKNorm.RMSNORM:
        raise ValueError("the public Flag-DiT has the 1-D RoPE, [nextline] tokens and LayerNorm KQ-norm")
    if cfg.time_scale != 1.0:
        raise ValueError(f"the public code feeds raw t; this model was trained with time_scale={cfg.time_scale} (to export, "
                         "train with --model-overrides '{\"time_scale\": 1.0}', or --init-from a converted release)")
    if cfg.frame_cond_dim or len(set(cfg.patch_hw)) != 1:
        raise ValueError("the public Flag-DiT has square patches and no frame conditioning")
    q_dim, kv_dim = cfg.n_heads * cfg.head_dim, cfg.kv_heads * cfg.head_dim
    out: dict[str, torch.Tensor] = {}
    for key, value in model_state.items():
        if key == "nextframe_token":
            continue
        m = re.match(r"(layers\.\d+\.attention\.)(qkv|kv_y)\.weight$", key)
        if m:
            names = ("wq", "wk", "wv") if m.group(2) == "qkv" else ("wk_y", "wv_y")
            sizes = [q_dim, kv_dim, kv_dim] if m.group(2) == "qkv" else [kv_dim, kv_dim]
            for name, part in zip(names, value.split(sizes)):
                out[f"{m.group(1)}{name}.weight"] = part.clone()
            continue
        if key.startswith("final_layer.linear.") and learn_sigma:
            value = _add_sigma_half(value, cfg)
        if key == "x_embedder.weight" and cfg.patch_order is not PatchOrder.CHW:
            value = _permute_columns(value, cfg, to_hwc=False)
        out[{v: k for k, v in RENAMED.items()}.get(key, key)] = value.clone()
    return out


def _permute_columns(weight: torch.Tensor, cfg: FlagDiTConfig, to_hwc: bool) -> torch.Tensor:
    (ph, pw), C = cfg.patch_hw, cfg.in_channels
    if to_hwc:  # columns (C, ph, pw) -> (ph, pw, C)
        return weight.unflatten(1, (C, ph, pw)).permute(0, 2, 3, 1).flatten(1).contiguous()
    return weight.unflatten(1, (ph, pw, C)).permute(0, 3, 1, 2).flatten(1).contiguous()


def _drop_sigma_half(value: torch.Tensor, cfg: FlagDiTConfig) -> torch.Tensor:
    """Rows (ph, pw, C_out): keep c < C. A model without learn_sigma already has C_out = C."""
    (ph, pw), C = cfg.patch_hw, cfg.in_channels
    c_out = value.shape[0] // (ph * pw)
    if c_out == C:
        return value
    if c_out != 2 * C:
        raise ValueError(f"final_layer.linear has {value.shape[0]} rows: expected {ph * pw} x {C} or x {2 * C}")
    return value.unflatten(0, (ph, pw, c_out))[:, :, :C].flatten(0, 2).contiguous()


def _add_sigma_half(value: torch.Tensor, cfg: FlagDiTConfig) -> torch.Tensor:
    (ph, pw), C = cfg.patch_hw, cfg.in_channels
    grid = value.unflatten(0, (ph, pw, C))
    return torch.cat([grid, torch.zeros_like(grid)], dim=2).flatten(0, 2).contiguous()


def official_shapes(cfg: FlagDiTConfig, learn_sigma: bool = True) -> dict[str, tuple[int, ...]]:
    """Every official parameter name and shape for a config: what a public checkpoint of that
    size holds (tests build random ones from this; parameter counts compare against it)."""
    D, A, (ph, pw), C = cfg.dim, cfg.adaln_dim, cfg.patch_hw, cfg.in_channels
    q_dim, kv_dim, hidden = cfg.n_heads * cfg.head_dim, cfg.kv_heads * cfg.head_dim, cfg.ffn_hidden
    c_out = 2 * C if learn_sigma else C
    s: dict[str, tuple[int, ...]] = {
        "x_embedder.weight": (D, ph * pw * C), "x_embedder.bias": (D,),
        "t_embedder.mlp.0.weight": (A, cfg.freq_embed_size), "t_embedder.mlp.0.bias": (A,),
        "t_embedder.mlp.2.weight": (A, A), "t_embedder.mlp.2.bias": (A,),
        "final_layer.linear.weight": (ph * pw * c_out, D), "final_layer.linear.bias": (ph * pw * c_out,),
        "final_layer.adaLN_modulation.1.weight": (2 * D, A), "final_layer.adaLN_modulation.1.bias": (2 * D,),
        "eol_token": (D,), "pad_token": (D,),
    }
    if cfg.cap_dim:
        s.update({"cap_embedder.0.weight": (cfg.cap_dim,), "cap_embedder.0.bias": (cfg.cap_dim,),
                  "cap_embedder.1.weight": (A, cfg.cap_dim), "cap_embedder.1.bias": (A,)})
    if cfg.num_classes:
        s["y_embedder.embedding_table.weight"] = (cfg.num_classes + 1, A)
    for i in range(cfg.n_layers):
        p = f"layers.{i}."
        s.update({p + "attention.wq.weight": (q_dim, D), p + "attention.wk.weight": (kv_dim, D),
                  p + "attention.wv.weight": (kv_dim, D), p + "attention.wo.weight": (D, q_dim),
                  p + "feed_forward.w1.weight": (hidden, D), p + "feed_forward.w2.weight": (D, hidden),
                  p + "feed_forward.w3.weight": (hidden, D),
                  p + "attention_norm.weight": (D,), p + "ffn_norm.weight": (D,),
                  p + "adaLN_modulation.1.weight": (6 * D, A), p + "adaLN_modulation.1.bias": (6 * D,)})
        norms = ["q_norm", "k_norm"] if cfg.qk_norm is QKNorm.LAYERNORM else []
        if cfg.cap_dim:
            s.update({p + "attention.wk_y.weight": (kv_dim, cfg.cap_dim),
                      p + "attention.wv_y.weight": (kv_dim, cfg.cap_dim),
                      p + "attention.gate": (cfg.n_heads,), p + "attention_y_norm.weight": (cfg.cap_dim,)})
            norms += ["ky_norm"] if cfg.qk_norm is QKNorm.LAYERNORM else []
        for norm in norms:
            width = q_dim if norm == "q_norm" else kv_dim
            s[p + f"attention.{norm}.weight"] = (width,)
            s[p + f"attention.{norm}.bias"] = (width,)
    return s
