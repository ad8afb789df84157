"""The public Lumina-T2X Flag-DiT (T2I) forward pass, written as plain functions over a state
dict in the official layout. It follows the public code's computation step by step (raw t,
patches flattened (C, ph, pw), [eol] after each row, 1-D RoPE over 0..N-1, LayerNorm KQ-norm
across heads, fp32 RMSNorm, learn_sigma output halved) and shares no code with modelzoo, so a
converted FlagDiT that matches it reproduces the public model.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _linear(s, name, x, bias=True):
    return F.linear(x, s[name + ".weight"], s.get(name + ".bias") if bias else None)


def _rms(s, name, x, eps=1e-5):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).type_as(x) * s[name + ".weight"]


def _layer_norm(s, name, x):
    if name + ".weight" not in s:
        return x  # qk_norm=False: Identity
    return F.layer_norm(x, x.shape[-1:], s[name + ".weight"], s[name + ".bias"], 1e-5)


def _rotate(x, angles):
    """x (B, N, H, d): pairs (x[2i], x[2i+1]) times exp(i angle), angles (N, d/2)."""
    xc = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
    rot = torch.polar(torch.ones_like(angles), angles)[None, :, None, :]
    return torch.view_as_real(xc * rot).flatten(3).type_as(x)


def official_forward(s: dict[str, torch.Tensor], images: list[torch.Tensor], t: torch.Tensor,
                     cap_feats: torch.Tensor, cap_mask: torch.Tensor, n_heads: int, patch: int = 2,
                     learn_sigma: bool = True) -> list[torch.Tensor]:
    """images: list of [C, H, W] (H, W multiples of patch); returns a list of [C, H, W]."""
    dim = s["x_embedder.weight"].shape[0]
    head_dim = dim // n_heads
    n_layers = 1 + max(int(k.split(".")[1]) for k in s if k.startswith("layers."))

    # patchify and embed: columns (C, ph, pw), one [eol] after each row, [pad] to the longest
    seqs, sizes = [], []
    for img in images:
        C, H, W = img.shape
        h, w = H // patch, W // patch
        cols = img.view(C, h, patch, w, patch).permute(1, 3, 0, 2, 4).flatten(2)  # (h, w, C*p*p)
        emb = _linear(s, "x_embedder", cols)
        emb = torch.cat([emb, s["eol_token"].view(1, 1, -1).expand(h, 1, -1)], dim=1).flatten(0, 1)
        seqs.append(emb)
        sizes.append((H, W))
    n = max(len(q) for q in seqs)
    x = torch.stack([torch.cat([q, s["pad_token"].expand(n - len(q), -1)]) for q in seqs])  # (B, N, D)
    mask = torch.stack([torch.arange(n) < len(q) for q in seqs])  # (B, N)

    # conditioning: sinusoid of raw t, MLP; LayerNorm + Linear of the masked-mean caption
    half = s["t_embedder.mlp.0.weight"].shape[1] // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    t_freq = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    t_emb = _linear(s, "t_embedder.mlp.2", F.silu(_linear(s, "t_embedder.mlp.0", t_freq)))
    m = cap_mask.float().unsqueeze(-1)
    pooled = (cap_feats * m).sum(1) / m.sum(1)
    cap_dim = cap_feats.shape[-1]
    pooled = F.layer_norm(pooled, (cap_dim,), s["cap_embedder.0.weight"], s["cap_embedder.0.bias"], 1e-5)
    c = t_emb + _linear(s, "cap_embedder.1", pooled)  # (B, D')

    inv = 1.0 / (10000 ** (torch.arange(0, head_dim, 2).float() / head_dim))
    angles = torch.arange(n).float()[:, None] * inv[None]  # (N, d/2): 1-D positions 0..N-1
    B = x.shape[0]
    for i in range(n_layers):
        p = f"layers.{i}."
        mod = _linear(s, p + "adaLN_modulation.1", F.silu(c))
        shift_a, scale_a, gate_a, shift_f, scale_f, gate_f = mod.chunk(6, dim=1)
        h_in = _rms(s, p + "attention_norm", x) * (1 + scale_a[:, None]) + shift_a[:, None]
        y = _rms(s, p + "attention_y_norm", cap_feats)
        q = _layer_norm(s, p + "attention.q_norm", _linear(s, p + "attention.wq", h_in, bias=False))
        k = _layer_norm(s, p + "attention.k_norm", _linear(s, p + "attention.wk", h_in, bias=False))
        v = _linear(s, p + "attention.wv", h_in, bias=False)
        q = _rotate(q.view(B, n, n_heads, head_dim), angles)
        k = _rotate(k.view(B, n, n_heads, head_dim), angles)
        v = v.view(B, n, n_heads, head_dim)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                             attn_mask=mask[:, None, None, :]).transpose(1, 2)
        yk = _layer_norm(s, p + "attention.ky_norm", _linear(s, p + "attention.wk_y", y, bias=False))
        yv = _linear(s, p + "attention.wv_y", y, bias=False)
        yk, yv = (z.view(B, -1, n_heads, head_dim).transpose(1, 2) for z in (yk, yv))
        out_y = F.scaled_dot_product_attention(q.transpose(1, 2), yk, yv,
                                               attn_mask=cap_mask.bool()[:, None, None, :]).transpose(1, 2)
        out = out + out_y * s[p + "attention.gate"].tanh().view(1, 1, -1, 1)
        x = x + gate_a[:, None] * _linear(s, p + "attention.wo", out.flatten(2), bias=False)
        h_in = _rms(s, p + "ffn_norm", x) * (1 + scale_f[:, None]) + shift_f[:, None]
        ff = _linear(s, p + "feed_forward.w2", F.silu(_linear(s, p + "feed_forward.w1", h_in, bias=False))
                     * _linear(s, p + "feed_forward.w3", h_in, bias=False), bias=False)
        x = x + gate_f[:, None] * ff

    shift, scale = _linear(s, "final_layer.adaLN_modulation.1", F.silu(c)).chunk(2, dim=1)
    x = F.layer_norm(x, (dim,), eps=1e-6) * (1 + scale[:, None]) + shift[:, None]
    x = _linear(s, "final_layer.linear", x)  # (B, N, p*p*C_out), columns (ph, pw, C_out)
    outs = []
    for b, (H, W) in enumerate(sizes):
        h, w = H // patch, W // patch
        c_out = x.shape[-1] // (patch * patch)
        img = x[b, : h * (w + 1)].view(h, w + 1, patch, patch, c_out)[:, :-1]
        img = img.permute(4, 0, 2, 1, 3).flatten(3, 4).flatten(1, 2)  # (C_out, H, W)
        outs.append(img.chunk(2, dim=0)[0] if learn_sigma else img)
    return outs
