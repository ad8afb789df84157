"""Flag-DiT: the flow-based large diffusion transformer of Lumina-T2X, in one file.

Shapes: B batch, C channels, T frames, H x W latent size, p patch size, (h, w) = (H/p, W/p),
N tokens, D = dim, H_q / H_kv query / key-value heads, d head_dim, L caption tokens.

A sample [C, T, H, W] becomes one token sequence:
    frame 0: row 0: w patches, [nextline]; row 1: ...; ... [nextframe] (only when T > 1)
    frame 1: ...
and a batch of different sizes is padded with [PAD] tokens that no real token ever attends to.

Build one:  model = FlagDiT(get_config("flag-dit-600m", cap_dim=4096))
Call it:    v = model(x, t, cap_feats=cap_feats, cap_mask=cap_mask)    # or y=labels
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, replace

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from .linear import Linear  # oneDNN GEMM for CPU fp32 (see linear.py)
from .config import FORMAT_VERSION, FlagDiTConfig, PatchOrder, QKNorm, RopeKind
from .rope import Extrapolation, RopeScaling, apply_rope, attention_scale, rope_tables


def modulate(x, shift, scale):
    return torch.addcmul(shift, x, 1 + scale)  # x * (1 + scale) + shift


class _RMSNormalize(torch.autograd.Function):
    """x / sqrt(mean(x^2) + eps), statistics in fp32 without an fp32 copy of x, and a backward of
    three passes, dx = r (g - y mean(g y)) with y the output: autograd's chain through the norm
    costs ~1.6x more on CPU (measured, 24 norms of 8 x 272 x 384: 300 ms -> 190 ms)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, eps: float) -> torch.Tensor:
        stat = torch.promote_types(x.dtype, torch.float32)
        ms = torch.linalg.vector_norm(x, dim=-1, keepdim=True, dtype=stat).square() / x.shape[-1]
        r = torch.rsqrt(ms + eps)  # (..., 1) fp32
        y = (x * r).to(x.dtype)
        ctx.save_for_backward(y, r)
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        y, r = ctx.saved_tensors
        mean_gy = torch.linalg.vecdot(g, y, dim=-1).unsqueeze(-1) / g.shape[-1]
        return (torch.addcmul(g, y, mean_gy.to(g.dtype), value=-1) * r).to(g.dtype), None


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight, the statistics always in fp32 (as the public code):
    a bf16 reduction over thousands of channels is off by ~0.5% per row. One reduction kernel:
    F.rms_norm is a chain of small ops on CPU, about 3x slower than LayerNorm there; ``modulate``
    also folds the weight into the adaLN scale, saving a full-size multiply."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def _normed(self, x: torch.Tensor) -> torch.Tensor:
        return _RMSNormalize.apply(x, self.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._normed(x) * self.weight

    def modulate(self, x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(shift, self._normed(x), self.weight * (1 + scale))  # modulate(norm(x))


#################################################################################
#               Embedding layers for timesteps, class labels, captions          #
#################################################################################


class TimestepEmbedder(nn.Module):
    """t in [0, 1] -> MLP(sinusoidal(time_scale * t)). The public code feeds t unscaled
    (time_scale 1), which leaves all but a few dozen of the 256 sinusoid frequencies flat over
    the whole interval; this project's default is 1000 (config.time_scale)."""

    def __init__(self, hidden_size: int, frequency_embedding_size: int = 256, time_scale: float = 1000.0):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(frequency_embedding_size, hidden_size),
            nn.SiLU(),
            nn.Linear(hidden_size, hidden_size),
        )
        self.frequency_embedding_size = frequency_embedding_size
        self.time_scale = time_scale

    @staticmethod
    def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
        args = t[:, None].float() * freqs[None]  # (B, half)
        embedding = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if dim % 2:
            embedding = F.pad(embedding, (0, 1))
        return embedding  # (B, dim)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        t_freq = self.timestep_embedding(t * self.time_scale, self.frequency_embedding_size)
        return self.mlp(t_freq.to(self.mlp[0].weight.dtype))  # (B, adaln_dim)


class LabelEmbedder(nn.Module):
    """Class labels -> vectors; index num_classes is the null class used for CFG."""

    def __init__(self, num_classes: int, hidden_size: int, dropout_prob: float):
        super().__init__()
        self.embedding_table = nn.Embedding(num_classes + 1, hidden_size)
        self.num_classes = num_classes
        self.dropout_prob = dropout_prob

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        if self.training and self.dropout_prob > 0:
            drop = torch.rand(labels.shape, device=labels.device) < self.dropout_prob
            labels = torch.where(drop, self.num_classes, labels)
        return self.embedding_table(labels)  # (B, adaln_dim)


#################################################################################
#                                 Core Flag-DiT                                 #
#################################################################################


@dataclass
class AttentionContext:
    """What every block's attention needs, computed once per forward."""

    freqs_cis: torch.Tensor  # (P, N, 1, d/2) complex rotations, P in {1, B}
    attn_mask: torch.Tensor | None = None  # (B, 1, 1, N) key padding, None: no padding
    attn_scale: float | None = None  # proportional attention, one N for the batch
    q_scale: torch.Tensor | None = None  # (B, 1, 1, 1) proportional attention, N per sample
    cap_attn_mask: torch.Tensor | None = None  # (B, 1, 1 or N, L), None: every token visible
    style_ref: torch.Tensor | None = None  # (B,) index of each item's reference image
    key_freqs: torch.Tensor | None = None  # (P, 2N, 1, d/2) style batches: target then reference keys
    cap_keep: torch.Tensor | None = None  # (B, 1, 1 or N, 1): 0 where a query sees no caption token


class Attention(nn.Module):
    """Self-attention with RoPE plus the zero-gated cross-attention to caption tokens."""

    def __init__(self, cfg: FlagDiTConfig):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.kv_heads, cfg.head_dim
        q_dim, kv_dim = self.n_heads * self.head_dim, self.n_kv_heads * self.head_dim
        self.qkv = Linear(cfg.dim, q_dim + 2 * kv_dim, bias=False)  # fused wq | wk | wv
        self.wo = Linear(q_dim, cfg.dim, bias=False)
        self.per_head_norm = cfg.qk_norm is QKNorm.RMSNORM
        self.q_norm = _qk_norm(cfg, q_dim)
        self.k_norm = _qk_norm(cfg, kv_dim)
        self.cross = cfg.cap_dim > 0
        if self.cross:
            self.kv_y = Linear(cfg.cap_dim, 2 * kv_dim, bias=False)  # fused wk_y | wv_y
            self.ky_norm = _qk_norm(cfg, kv_dim)
            self.gate = nn.Parameter(torch.zeros(self.n_heads))  # tanh(0) = 0: text off at init

    def _heads(self, norm: nn.Module, x: torch.Tensor, n_heads: int) -> torch.Tensor:
        """(B, N, heads * d) -> normed (B, N, heads, d); under autocast LayerNorm returns fp32."""
        if self.per_head_norm:
            return norm(x.unflatten(-1, (n_heads, self.head_dim)))
        return norm(x).unflatten(-1, (n_heads, self.head_dim))

    def forward(self, x: torch.Tensor, ctx: AttentionContext, cap: torch.Tensor | None) -> torch.Tensor:
        B, N, _ = x.shape
        q_dim, kv_dim = self.n_heads * self.head_dim, self.n_kv_heads * self.head_dim
        xq, xk, xv = self.qkv(x).split([q_dim, kv_dim, kv_dim], dim=-1)
        dtype = xv.dtype  # the matmul dtype (bf16 under autocast); norms and RoPE run in fp32
        xq = self._heads(self.q_norm, xq, self.n_heads)  # (B, N, H_q, d)
        xk = self._heads(self.k_norm, xk, self.n_kv_heads)  # (B, N, H_kv, d)
        xv = xv.unflatten(-1, (self.n_kv_heads, self.head_dim))  # (B, N, H_kv, d)
        k_freqs = ctx.freqs_cis
        if ctx.style_ref is not None:
            # style-consistent batch: every item also attends to its reference's keys/values,
            # shared before RoPE and rotated with positions of their own, after the item's
            xk = torch.cat([xk, xk[ctx.style_ref]], dim=1)  # (B, 2N, H_kv, d)
            xv = torch.cat([xv, xv[ctx.style_ref]], dim=1)
            k_freqs = ctx.key_freqs
        xq = apply_rope(xq, ctx.freqs_cis).to(dtype).transpose(1, 2)  # (B, H_q, N, d)
        xk = apply_rope(xk, k_freqs).to(dtype).transpose(1, 2)  # (B, H_kv, N, d)
        xv = xv.transpose(1, 2)  # (B, H_kv, N, d)

        q_self = xq if ctx.q_scale is None else xq * ctx.q_scale.to(xq.dtype)
        output = attention(q_self, xk, xv, ctx.attn_mask, ctx.attn_scale)  # (B, H_q, N, d)

        if self.cross:  # text keys get no RoPE
            yk, yv = self.kv_y(cap).split(kv_dim, dim=-1)
            yk = self._heads(self.ky_norm, yk, self.n_kv_heads).to(dtype).transpose(1, 2)  # (B, H_kv, L, d)
            yv = yv.unflatten(-1, (self.n_kv_heads, self.head_dim)).transpose(1, 2)
            output_y = attention(xq, yk, yv, ctx.cap_attn_mask)  # (B, H_q, N, d)
            if ctx.cap_keep is not None:
                output_y = output_y * ctx.cap_keep.to(output_y.dtype)
            output = output + output_y * self.gate.tanh().to(output.dtype).view(1, -1, 1, 1)

        return self.wo(output.transpose(1, 2).reshape(B, N, q_dim))  # (B, N, D)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
              scale: float | None = None) -> torch.Tensor:
    """softmax(scale q k^T, masked) v for q (B, H_q, N, d), k and v (B, H_kv, M, d), mask bool
    (True: attend) broadcastable to (B, H_q, N, M); query head h uses key head h // (H_q / H_kv).

    SDPA everywhere but in bf16/fp16 on CPU: there its flash kernel (forward + backward) costs
    ~3x two AMX matmuls and a low-precision softmax, and its math kernel upcasts to fp32
    (measured, torch 2.14, 8 x 6 heads x 272 tokens)."""
    if q.device.type != "cpu" or q.dtype == torch.float32:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale,
                                              enable_gqa=k.shape[1] != q.shape[1])
    B, H, N, d = q.shape
    H_kv, M = k.shape[1], k.shape[2]
    with torch.autocast("cpu", enabled=False):
        q = (q * (d**-0.5 if scale is None else scale)).reshape(B, H_kv, H // H_kv * N, d)  # query groups
        scores = (q @ k.to(q.dtype).transpose(-1, -2)).view(B, H, N, M)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        probs = torch.softmax(scores, dim=-1).view(B, H_kv, H // H_kv * N, M)
        return (probs @ v.to(q.dtype)).view(B, H, N, d)


def _qk_norm(cfg: FlagDiTConfig, width: int) -> nn.Module:
    if cfg.qk_norm is QKNorm.LAYERNORM:
        return nn.LayerNorm(width)  # across all heads, as in the reference
    if cfg.qk_norm is QKNorm.RMSNORM:
        return RMSNorm(cfg.head_dim, eps=cfg.norm_eps)
    return nn.Identity()


class FeedForward(nn.Module):
    """SwiGLU: w2(silu(w1 x) * w3 x). w1 and w3 stay apart: fused, the two halves of one output
    are strided views and the elementwise silu/mul (and their backward) run slower than the
    matmul saves."""

    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.w1 = Linear(dim, hidden_dim, bias=False)
        self.w2 = Linear(hidden_dim, dim, bias=False)
        self.w3 = Linear(dim, hidden_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class TransformerBlock(nn.Module):
    def __init__(self, cfg: FlagDiTConfig):
        super().__init__()
        self.attention = Attention(cfg)
        self.feed_forward = FeedForward(cfg.dim, cfg.ffn_hidden)
        self.attention_norm = RMSNorm(cfg.dim, eps=cfg.norm_eps)
        self.ffn_norm = RMSNorm(cfg.dim, eps=cfg.norm_eps)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(cfg.adaln_dim, 6 * cfg.dim))
        if cfg.cap_dim:
            self.attention_y_norm = RMSNorm(cfg.cap_dim, eps=cfg.norm_eps)

    def forward(self, x: torch.Tensor, c: torch.Tensor, cap: torch.Tensor | None,
                ctx: AttentionContext) -> torch.Tensor:
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = (
            self.adaLN_modulation(c).unsqueeze(1).chunk(6, dim=-1)  # 6 x (B, 1, D)
        )
        cap = self.attention_y_norm(cap) if cap is not None else None  # (B, L, cap_dim)
        h = self.attention(self.attention_norm.modulate(x, shift_msa, scale_msa), ctx, cap)
        x = torch.addcmul(x, gate_msa, h)  # x + gate * attn(...)   (B, N, D)
        h = self.feed_forward(self.ffn_norm.modulate(x, shift_mlp, scale_mlp))
        return torch.addcmul(x, gate_mlp, h)  # (B, N, D)


class FinalLayer(nn.Module):
    def __init__(self, cfg: FlagDiTConfig):
        super().__init__()
        self.norm_final = nn.LayerNorm(cfg.dim, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(cfg.dim, cfg.patch_dim)  # rows (ph, pw, C); no learn_sigma half
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(cfg.adaln_dim, 2 * cfg.dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).unsqueeze(1).chunk(2, dim=-1)  # 2 x (B, 1, D)
        return self.linear(modulate(self.norm_final(x), shift, scale))  # (B, N, ph*pw*C)


@dataclass
class TokenLayout:
    """Where each sample's patches sit in the padded token sequence."""

    sizes: list[tuple[int, int, int]]  # (T, H, W) of each input
    grids: list[tuple[int, int, int]]  # (T, h, w) in patches
    lengths: list[int]  # real tokens of each sample
    mask: torch.Tensor | None  # (B, N) True on real tokens; None when nothing is padded
    is_tensor: bool  # input was one [B, C, T, H, W] tensor
    uniform: bool  # all samples share one shape (one batched layout, no [PAD])


class FlagDiT(nn.Module):
    def __init__(self, config: FlagDiTConfig):
        super().__init__()
        cfg = self.config = config
        D = cfg.dim
        self.x_embedder = nn.Linear(cfg.patch_dim, D)  # columns in cfg.patch_order
        self.t_embedder = TimestepEmbedder(cfg.adaln_dim, cfg.freq_embed_size, cfg.time_scale)
        if cfg.cap_dim:
            self.cap_embedder = nn.Sequential(nn.LayerNorm(cfg.cap_dim), nn.Linear(cfg.cap_dim, cfg.adaln_dim))
        if cfg.num_classes:
            self.y_embedder = LabelEmbedder(cfg.num_classes, cfg.adaln_dim, cfg.class_dropout_prob)
        if cfg.frame_cond_dim:
            self.frame_embedder = nn.Linear(cfg.frame_cond_dim, D)  # per-frame condition, added to tokens
        self.layers = nn.ModuleList([TransformerBlock(cfg) for _ in range(cfg.n_layers)])
        self.final_layer = FinalLayer(cfg)
        if cfg.sep_tokens:
            self.nextline_token = nn.Parameter(torch.empty(D))
            self.nextframe_token = nn.Parameter(torch.empty(D))
        self.pad_token = nn.Parameter(torch.empty(D))
        self.rope_dims = cfg.rope_axial_dims if cfg.rope is RopeKind.AXIAL else (cfg.head_dim,)
        self._rope_cache: dict = {}
        if self.pad_token.device.type != "meta":  # from_pretrained builds on meta and assigns weights: init would be wasted (seconds on first use)
            self.initialize_weights()

    def initialize_weights(self) -> None:
        def _xavier_rows(weight: torch.Tensor, sizes: list[int]) -> None:
            for chunk in weight.split(sizes, dim=0):  # fused matrices: each part as if alone
                nn.init.xavier_uniform_(chunk)

        cfg = self.config
        q_dim, kv_dim = cfg.n_heads * cfg.head_dim, cfg.kv_heads * cfg.head_dim
        nn.init.xavier_uniform_(self.x_embedder.weight)
        nn.init.zeros_(self.x_embedder.bias)
        for m in self.t_embedder.mlp:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        if cfg.num_classes:
            nn.init.normal_(self.y_embedder.embedding_table.weight, std=0.02)
        if cfg.cap_dim:
            nn.init.zeros_(self.cap_embedder[1].weight)  # pooled caption starts silent, as in the reference
            nn.init.zeros_(self.cap_embedder[1].bias)
        for block in self.layers:
            attn = block.attention
            _xavier_rows(attn.qkv.weight, [q_dim, kv_dim, kv_dim])
            nn.init.xavier_uniform_(attn.wo.weight)
            if attn.cross:
                _xavier_rows(attn.kv_y.weight, [kv_dim, kv_dim])
                nn.init.zeros_(attn.gate)
            for lin in (block.feed_forward.w1, block.feed_forward.w2, block.feed_forward.w3):
                nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(block.adaLN_modulation[-1].weight)  # adaLN-Zero: each block starts as identity
            nn.init.zeros_(block.adaLN_modulation[-1].bias)
        if cfg.frame_cond_dim:  # zero: a new camera input leaves a pretrained model unchanged at first
            nn.init.zeros_(self.frame_embedder.weight)
            nn.init.zeros_(self.frame_embedder.bias)
        for lin in (self.final_layer.adaLN_modulation[-1], self.final_layer.linear):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)
        for token in self._special_tokens():
            nn.init.normal_(token, std=0.02)

    def _special_tokens(self) -> list[nn.Parameter]:
        extra = [self.nextline_token, self.nextframe_token] if self.config.sep_tokens else []
        return extra + [self.pad_token]

    # ---------------------------------------------------------------- tokens ----

    def seq_len(self, shape: tuple[int, ...]) -> int:
        """Tokens of one sample of shape (T, H, W) or (C, T, H, W)."""
        T, H, W = shape[-3:]
        (ph, pw), sep = self.config.patch_hw, int(self.config.sep_tokens)
        h, w = -(-H // ph), -(-W // pw)
        return T * (h * (w + sep) + (sep if T > 1 else 0))

    def _to_sequence(self, grid: torch.Tensor, nextline: torch.Tensor | None,
                     nextframe: torch.Tensor | None) -> torch.Tensor:
        """(B, T, h, w, K) -> (B, N, K): rows end in [nextline], frames in [nextframe] if T > 1."""
        B, T, h, w, K = grid.shape
        if self.config.sep_tokens:
            grid = torch.cat([grid, nextline.expand(B, T, h, 1, K)], dim=3)  # (B, T, h, w+1, K)
        seq = grid.flatten(2, 3)  # (B, T, h*(w+1), K)
        if self.config.sep_tokens and T > 1:
            seq = torch.cat([seq, nextframe.expand(B, T, 1, K)], dim=2)  # (B, T, h*(w+1)+1, K)
        return seq.flatten(1, 2)  # (B, N, K)

    def _from_sequence(self, seq: torch.Tensor, T: int, h: int, w: int) -> torch.Tensor:
        """(B, >=N, K) -> (B, T, h, w, K): drops [nextline], [nextframe] and [PAD]."""
        B, K = seq.shape[0], seq.shape[-1]
        if not self.config.sep_tokens:
            return seq[:, : T * h * w].reshape(B, T, h, w, K)
        frame = h * (w + 1) + (1 if T > 1 else 0)
        seq = seq[:, : T * frame].reshape(B, T, frame, K)[:, :, : h * (w + 1)]
        return seq.reshape(B, T, h, w + 1, K)[:, :, :, :w]

    def _patch_grid(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) -> (B, T, h, w, ph*pw*C), columns in config.patch_order; H, W not
        divisible by the patch are zero-padded."""
        ph, pw = self.config.patch_hw
        B, C, T, H, W = x.shape
        if H % ph or W % pw:
            x = F.pad(x, (0, -W % pw, 0, -H % ph))
        h, w = x.shape[-2] // ph, x.shape[-1] // pw
        x = x.view(B, C, T, h, ph, w, pw)
        if self.config.patch_order is PatchOrder.HWC:
            x = x.permute(0, 2, 3, 5, 4, 6, 1)  # (B, T, h, w, ph, pw, C)
        else:
            x = x.permute(0, 2, 3, 5, 1, 4, 6)  # (B, T, h, w, C, ph, pw)
        return x.reshape(B, T, h, w, ph * pw * C)

    def _grid_to_image(self, grid: torch.Tensor, size: tuple[int, int, int]) -> torch.Tensor:
        """(B, T, h, w, ph*pw*C) -> (B, C, T, H, W), cropping any padding of H and W. The output
        columns are (ph, pw, C) whatever patch_order says (the public code's are too)."""
        (ph, pw), C = self.config.patch_hw, self.config.in_channels
        B, T, h, w, _ = grid.shape
        x = grid.reshape(B, T, h, w, ph, pw, C).permute(0, 6, 1, 2, 4, 3, 5)  # (B, C, T, h, ph, w, pw)
        x = x.reshape(B, C, T, h * ph, w * pw)
        _, H, W = size
        return x[..., :H, :W] if (H, W) != (h * ph, w * pw) else x

    def patchify(self, x: list[torch.Tensor] | torch.Tensor, embed: bool = False
                 ) -> tuple[torch.Tensor, TokenLayout]:
        """Inputs -> (B, N, K) token sequence and its layout.

        embed=False: K = ph*pw*C raw patches, zeros at [nextline]/[nextframe]/[PAD];
        embed=True: K = D, patches through x_embedder, the learnable special tokens in place.
        """
        is_tensor = isinstance(x, torch.Tensor)
        if is_tensor and x.dim() != 5 or not is_tensor and any(item.dim() != 4 for item in x):
            raise ValueError("x must be [B, C, T, H, W] or a list of [C, T, H, W]")
        sizes = [tuple(x.shape[2:])] * x.shape[0] if is_tensor else [tuple(item.shape[1:]) for item in x]
        channels = {x.shape[1]} if is_tensor else {item.shape[0] for item in x}
        if embed and channels != {self.config.in_channels}:
            raise ValueError(f"expected {self.config.in_channels} channels, got {sorted(channels)}")
        uniform = is_tensor or all(s == sizes[0] for s in sizes)
        if embed:
            nextline = self.nextline_token if self.config.sep_tokens else None
            nextframe = self.nextframe_token if self.config.sep_tokens else None
            pad = self.pad_token
        else:
            first = x if is_tensor else x[0]
            ph, pw = self.config.patch_hw
            nextline = nextframe = pad = first.new_zeros(ph * pw * channels.pop())

        def tokens(batch: torch.Tensor) -> torch.Tensor:
            grid = self._patch_grid(batch)  # (B, T, h, w, ph*pw*C)
            if embed:
                grid = self.x_embedder(grid)  # (B, T, h, w, D)
            return self._to_sequence(grid, nextline, nextframe)  # (B, N, K)

        ph, pw = self.config.patch_hw
        grids = [(T, -(-H // ph), -(-W // pw)) for T, H, W in sizes]
        lengths = [self.seq_len(s) for s in sizes]
        if uniform:
            seq = tokens(x if is_tensor else torch.stack(list(x)))
            return seq, TokenLayout(sizes, grids, lengths, None, is_tensor, True)
        n_max = max(lengths)
        seqs = [tokens(item.unsqueeze(0))[0] for item in x]  # (N_i, K) each
        seq = torch.stack([torch.cat([s, pad.expand(n_max - len(s), -1)]) for s in seqs])  # (B, N, K)
        mask = torch.arange(n_max, device=seq.device)[None] < torch.tensor(lengths, device=seq.device)[:, None]
        return seq, TokenLayout(sizes, grids, lengths, mask, False, False)

    def unpatchify(self, seq: torch.Tensor, layout: TokenLayout) -> list[torch.Tensor] | torch.Tensor:
        """(B, N, ph*pw*C) -> the structure patchify was given: one tensor or a list."""
        if layout.uniform:
            x = self._grid_to_image(self._from_sequence(seq, *layout.grids[0]), layout.sizes[0])
            return x if layout.is_tensor else list(x.unbind(0))
        return [
            self._grid_to_image(self._from_sequence(seq[i : i + 1], *grid), size)[0]
            for i, (grid, size) in enumerate(zip(layout.grids, layout.sizes))
        ]

    def _positions(self, layout: TokenLayout, n: int, device: torch.device) -> torch.Tensor:
        """(P, N, A) RoPE positions: the flat index (A = 1) or (frame, row, column) (A = 3)."""
        if self.config.rope is RopeKind.FLAT:
            return torch.arange(n, device=device, dtype=torch.float32)[None, :, None]  # shared by the batch
        per_sample = []
        for T, h, w in layout.grids[: 1 if layout.uniform else None]:
            f, r, c = torch.meshgrid(*(torch.arange(k, device=device, dtype=torch.float32) for k in (T, h, w)),
                                     indexing="ij")
            grid = torch.stack([f, r, c], dim=-1)[None]  # (1, T, h, w, 3)
            frames = torch.arange(T, device=device, dtype=torch.float32)
            nextline = torch.stack([f[:, :, :1], r[:, :, :1], torch.full_like(f[:, :, :1], w)], dim=-1)
            if self.config.sep_tokens:  # [nextline] sits one column past the row, [nextframe] one row below
                grid = torch.cat([grid, nextline[None]], dim=3)
            seq = grid.flatten(2, 3)  # (1, T, h*(w+sep), 3)
            if self.config.sep_tokens and T > 1:
                nf = torch.stack([frames, torch.full_like(frames, h), torch.zeros_like(frames)], dim=-1)
                seq = torch.cat([seq, nf[None, :, None]], dim=2)
            seq = seq.flatten(1, 2)[0]  # (N_i, 3)
            per_sample.append(F.pad(seq, (0, 0, 0, n - seq.shape[0])))
        return torch.stack(per_sample)  # (P, N, 3)

    def _after(self, positions: torch.Tensor, layout: TokenLayout) -> torch.Tensor:
        """Positions of a copy of the sequence placed after it, as one longer sequence would hold
        it: the 1-D RoPE continues at N..2N-1; the axial one puts the copy below (rows h..2h-1,
        past any [nextframe] row), which works whatever the frame part of the head is."""
        if self.config.rope is RopeKind.FLAT:
            return positions + positions.shape[1]
        T, h, _ = layout.grids[0]
        shifted = positions.clone()
        shifted[..., 1] += h + (1 if self.config.sep_tokens and T > 1 else 0)
        return shifted

    def _extrapolation_lengths(self, layout: TokenLayout, extrapolation: Extrapolation | None,
                               device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Token counts behind N / N_train, and (B, A) per-axis length scales for the axial RoPE.

        1-D: the whole sequence. Axial: one frame (frames never rescale), each spatial axis by
        its own ratio: h / h_train, w / w_train with ``train_size``, else sqrt of the per-frame
        token ratio (square growth). A 4-frame clip at the training size is then not squeezed.
        """
        if self.config.rope is RopeKind.FLAT or extrapolation is None:
            return torch.tensor(layout.lengths, device=device), None
        sep = int(self.config.sep_tokens)
        frame_tokens = torch.tensor([h * (w + sep) for _, h, w in layout.grids], device=device, dtype=torch.float64)
        if extrapolation.train_size is not None:
            (ph, pw), (H, W) = self.config.patch_hw, extrapolation.train_size
            train = torch.tensor([-(-H // ph), -(-W // pw)], device=device, dtype=torch.float64)
            hw = torch.tensor([(h, w) for _, h, w in layout.grids], device=device, dtype=torch.float64)
            spatial = hw / train  # (B, 2)
        elif extrapolation.train_seq_len is not None:
            spatial = (frame_tokens / extrapolation.train_seq_len).sqrt()[:, None].expand(-1, 2)
        else:
            return frame_tokens, None  # rope_tables says what is missing
        return frame_tokens, torch.cat([torch.ones_like(spatial[:, :1]), spatial], dim=1)

    def _token_region_membership(self, image_regions, layout: TokenLayout, n: int, n_regions: int,
                                 device: torch.device) -> torch.Tensor:
        """(B, N, R) bool: token n lies in region r (its patch centre does); special tokens and
        [PAD] lie in every region. Regions may overlap.

        image_regions, for the whole batch: a long id map (H, W) / (T, H, W) (one region per
        pixel) or bool masks (R, H, W) / (R, T, H, W) (overlapping); per sample: a list of those,
        a long (B, T, H, W) or a bool (B, R, T, H, W) tensor.
        """
        if isinstance(image_regions, torch.Tensor):
            is_mask = image_regions.dtype == torch.bool
            if image_regions.dim() in ((3, 4) if is_mask else (2, 3)):
                image_regions = [image_regions] * len(layout.sizes)  # one for the whole batch
        if len(image_regions) != len(layout.sizes):
            raise ValueError("image_regions: one id map or mask stack for the batch, or one per sample")
        ph, pw = self.config.patch_hw
        out = []
        for reg, (T, h, w) in zip(image_regions, layout.grids):
            reg = torch.as_tensor(reg, device=device)
            if reg.dtype != torch.bool:  # id map -> one mask per region
                ids = torch.arange(n_regions, device=device).view(-1, *([1] * reg.dim()))
                reg = reg.long()[None] == ids  # (R, [T,] H, W)
            if reg.shape[0] != n_regions:
                raise ValueError(f"image_regions has {reg.shape[0]} region masks, cap_regions names {n_regions}")
            reg = reg.reshape(n_regions, -1, *reg.shape[-2:]).expand(-1, T, -1, -1)  # (R, T, H, W)
            rows = (torch.arange(h, device=device) * ph + ph // 2).clamp(max=reg.shape[-2] - 1)
            cols = (torch.arange(w, device=device) * pw + pw // 2).clamp(max=reg.shape[-1] - 1)
            grid = reg[:, :, rows][:, :, :, cols].permute(1, 2, 3, 0)  # (T, h, w, R) at patch centres
            every = torch.ones(n_regions, dtype=torch.bool, device=device)
            seq = self._to_sequence(grid[None], every, every)[0]  # (N_i, R)
            out.append(torch.cat([seq, every.expand(n - seq.shape[0], -1)]))
        return torch.stack(out)  # (B, N, R)

    def _frame_embedding(self, frame_cond, layout: TokenLayout, n: int) -> torch.Tensor:
        """(B, N, D): frame i's projected condition on every token of frame i (its patches, its
        [nextline]s and the [nextframe] that closes it); zero on [PAD]."""
        cfg = self.config
        sep = int(cfg.sep_tokens)
        weight = self.frame_embedder.weight
        items = list(frame_cond.unbind(0)) if isinstance(frame_cond, torch.Tensor) else list(frame_cond)
        if len(items) != len(layout.grids):
            raise ValueError(f"frame_cond has {len(items)} samples, x has {len(layout.grids)}")
        out = []
        for cond, (T, h, w) in zip(items, layout.grids):
            if tuple(cond.shape) != (T, cfg.frame_cond_dim):
                raise ValueError(f"frame_cond of a {T}-frame sample must be [{T}, {cfg.frame_cond_dim}], "
                                 f"got {list(cond.shape)}")
            per_frame = h * (w + sep) + (sep if T > 1 else 0)  # tokens of one frame
            emb = self.frame_embedder(cond.to(weight.device, weight.dtype))  # (T, D)
            emb = emb.repeat_interleave(per_frame, dim=0)  # (N_i, D)
            out.append(F.pad(emb, (0, 0, 0, n - emb.shape[0])))
        return torch.stack(out)  # (B, N, D)

    # --------------------------------------------------------------- forward ----

    def _context(self, layout: TokenLayout, n: int, t: torch.Tensor,
                 extrapolation: Extrapolation | None, cap_mask: torch.Tensor | None,
                 cap_regions: torch.Tensor | None, image_regions, style_ref: torch.Tensor | None
                 ) -> AttentionContext:
        cfg, device = self.config, t.device
        if extrapolation is not None and extrapolation.train_seq_len is None:
            extrapolation = replace(extrapolation, train_seq_len=cfg.train_seq_len)
        scaled = extrapolation is not None and extrapolation.rope is not RopeScaling.NONE
        style = style_ref is not None
        if style and not layout.uniform:
            raise ValueError("style-consistent batches need one shape for the whole batch")
        key = (n, tuple(layout.grids) if cfg.rope is RopeKind.AXIAL else None, device, style)
        if not scaled and key in self._rope_cache:
            freqs_cis = self._rope_cache[key]
        else:
            positions = self._positions(layout, n, device)  # (P, N, A)
            if style:  # the reference's keys keep positions of their own, after the target's
                positions = torch.cat([positions, self._after(positions, layout)], dim=1)  # (P, 2N, A)
            seq_lens, axis_scales = self._extrapolation_lengths(layout, extrapolation, device)
            freqs_cis = rope_tables(positions, self.rope_dims, cfg.rope_theta, extrapolation, seq_lens, t,
                                    axis_scales)
            if not scaled:
                if len(self._rope_cache) > 32:
                    self._rope_cache.clear()
                self._rope_cache[key] = freqs_cis
        ctx = AttentionContext(freqs_cis[:, :n])
        if style:
            ctx.key_freqs = freqs_cis  # (P, 2N, 1, d/2): [target; reference] positions
            ctx.style_ref = torch.as_tensor(style_ref, device=device).long()
        if layout.mask is not None:
            ctx.attn_mask = layout.mask[:, None, None, :]  # (B, 1, 1, N)
        if extrapolation is not None and extrapolation.proportional_attn:
            n_train = extrapolation.train_seq_len
            if n_train is None:
                raise ValueError("proportional attention needs the training length: pass "
                                 "Extrapolation(train_seq_len=model.seq_len((1, H, W)), ...) or set config.train_seq_len")
            scales = [attention_scale(length, n_train, cfg.head_dim) for length in layout.lengths]
            if len(set(scales)) == 1:
                ctx.attn_scale = scales[0]
            else:  # sdpa takes one scale: fold each sample's ratio to the default into q
                ratio = torch.tensor(scales, device=device) * math.sqrt(cfg.head_dim)
                ctx.q_scale = ratio.view(-1, 1, 1, 1)
        if cfg.rope is RopeKind.AXIAL and self.rope_dims[0] == 0 and any(T > 1 for T, _, _ in layout.grids):
            raise ValueError("this axial RoPE has no frame part (axial_frames=False, for images): "
                             "set axial_frames=True or axial_dims for video and multi-view inputs")
        if cap_mask is not None:
            allowed = cap_mask[:, None, :]  # (B, 1, L)
            if cap_regions is not None:
                if image_regions is None:
                    raise ValueError("cap_regions needs image_regions")
                creg = cap_regions.to(device).long()  # (B, L), -1: seen by every token
                n_regions = int(creg.max().clamp(min=0)) + 1
                member = self._token_region_membership(image_regions, layout, n, n_regions, device)
                member = torch.cat([member, member.new_ones(*member.shape[:2], 1)], dim=-1)  # column R: all
                index = torch.where(creg < 0, n_regions, creg)[:, None, :].expand(-1, n, -1)  # (B, N, L)
                allowed = allowed & member.gather(2, index)  # (B, N, L)
            empty = ~allowed.any(-1, keepdim=True)  # a query that sees no caption token at all
            any_empty, all_visible = torch.stack([empty.any(), allowed.all()]).tolist()  # one sync
            if any_empty:  # give its softmax a finite row, then zero its output
                ctx.cap_attn_mask = (allowed | empty).unsqueeze(1)
                ctx.cap_keep = (~empty).unsqueeze(1)
            elif not all_visible:
                ctx.cap_attn_mask = allowed.unsqueeze(1)  # (B, 1, 1 or N, L)
        return ctx

    def forward(self, x: list[torch.Tensor] | torch.Tensor, t: torch.Tensor | float,
                cap_feats: torch.Tensor | None = None, cap_mask: torch.Tensor | None = None,
                y: torch.Tensor | None = None, *, cap_pool: torch.Tensor | None = None,
                cap_regions: torch.Tensor | None = None, image_regions=None,
                extrapolation: Extrapolation | None = None, style_ref: torch.Tensor | None = None,
                frame_cond: torch.Tensor | list[torch.Tensor] | None = None):
        """Predict the velocity dx/dt at time t (0 noise, 1 data).

        x: list of B tensors [C, T, H, W] (shapes may differ) or one tensor [B, C, T, H, W].
        t: (B,) in [0, 1], or one float for the batch.
        cap_feats (B, L, cap_dim), cap_mask (B, L) bool: caption tokens (text models).
        y (B,) long: class labels, num_classes is the null label (class models).
        cap_pool (B, cap_dim): the pooled caption for adaLN; default: masked mean of cap_feats.
        cap_regions (B, L) long, image_regions: compositional generation. A caption token of
            region r is cross-attended only from patches whose centre pixel has region id r
            (region -1 tokens are seen by every patch). image_regions: one (H, W) or (T, H, W)
            map of ids for the whole batch, or a list of per-sample maps / a (B, T, H, W) tensor.
        extrapolation: RoPE scaling / proportional attention beyond the training resolution.
        style_ref (B,) long: item i also attends to item style_ref[i]'s keys and values.
        frame_cond [B, T, frame_cond_dim] (or a list of [T_i, frame_cond_dim] when x is a list):
            per-frame condition (e.g. camera of each view), needed iff config.frame_cond_dim > 0;
            Linear(frame_cond[i]) is added to every token of frame i, [nextframe] included.
        Returns the velocity in the structure and shapes of x.
        """
        cfg = self.config
        param = self.x_embedder.weight
        if isinstance(x, torch.Tensor):
            x = x.to(param.dtype)
        else:
            x = [item.to(param.dtype) for item in x]
        tokens, layout = self.patchify(x, embed=True)  # (B, N, D)
        B, N, _ = tokens.shape
        t = torch.as_tensor(t, device=tokens.device, dtype=torch.float32).reshape(-1).expand(B)

        if cap_feats is not None and not cfg.cap_dim:
            raise ValueError("cap_feats given to a model without text conditioning (cap_dim=0)")
        if y is not None and not cfg.num_classes:
            raise ValueError("y given to a model without class conditioning (num_classes=0)")
        if cfg.frame_cond_dim:
            if frame_cond is None:
                raise ValueError("this model has frame_cond_dim > 0: pass frame_cond [B, T, frame_cond_dim]")
            tokens = tokens + self._frame_embedding(frame_cond, layout, N)
        elif frame_cond is not None:
            raise ValueError("frame_cond given to a model without it (frame_cond_dim=0)")
        c = self.t_embedder(t)  # (B, adaln_dim)
        cap = None
        if cfg.cap_dim:
            if cap_feats is None:
                raise ValueError("this model is text-conditioned: pass cap_feats (and cap_mask)")
            cap = cap_feats.to(param.dtype)  # (B, L, cap_dim)
            if cap_mask is None:
                cap_mask = torch.ones(cap.shape[:2], dtype=torch.bool, device=cap.device)
            cap_mask = cap_mask.bool()
            if cap_pool is None:
                weights = cap_mask.unsqueeze(-1).to(cap.dtype)  # (B, L, 1)
                cap_pool = (cap * weights).sum(1) / weights.sum(1).clamp(min=1)  # (B, cap_dim)
            c = c + self.cap_embedder(cap_pool.to(param.dtype))
        if cfg.num_classes:
            if y is None:
                raise ValueError("this model is class-conditional: pass y (num_classes = null label)")
            c = c + self.y_embedder(y.to(tokens.device))
        if self.training:  # keep every parameter in the graph (DDP): [PAD]/[nextframe] may go unused
            c = c + 0.0 * sum(p.sum() for p in self._special_tokens())

        ctx = self._context(layout, N, t, extrapolation, cap_mask if cfg.cap_dim else None,
                            cap_regions, image_regions, style_ref)
        for layer in self.layers:
            if cfg.grad_checkpointing and self.training and torch.is_grad_enabled():
                tokens = checkpoint(layer, tokens, c, cap, ctx, use_reentrant=False)
            else:
                tokens = layer(tokens, c, cap, ctx)  # (B, N, D)
        out = self.final_layer(tokens, c)  # (B, N, ph*pw*C)
        return self.unpatchify(out.to(param.dtype), layout)

    # ------------------------------------------------------------ utilities ----

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def get_fsdp_wrap_module_list(self) -> list[nn.Module]:
        return list(self.layers)  # one FSDP unit per block

    def save_config(self, directory: str | os.PathLike) -> None:
        """config.json alone (a sharded model's weights are written by training.sharded_state)."""
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "config.json"), "w") as f:
            json.dump({"model_type": "flag-dit", "format_version": FORMAT_VERSION, **self.config.to_dict()}, f, indent=2)

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        from safetensors.torch import save_file

        from contracts.layout import readable_as_umask_allows

        self.save_config(directory)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
        readable_as_umask_allows(os.path.join(directory, "model.safetensors"))  # safetensors writes 0600

    @classmethod
    def from_official(cls, path: str | os.PathLike, patch_size: int = 2, n_heads: int | None = None,
                      dtype: torch.dtype | None = None, **overrides) -> "FlagDiT":
        """A public Lumina-T2X Flag-DiT checkpoint (``.pth`` / ``.safetensors`` file or folder),
        through the mapping in ``modelzoo/official.py``; the config is read from its shapes."""
        from .official import config_from_official, from_official_state, load_official_state

        state = load_official_state(path)
        config = config_from_official(state, patch_size=patch_size, n_heads=n_heads, **overrides)
        return cls.from_official_state(state, config, dtype=dtype)

    @classmethod
    def from_official_state(cls, state: dict[str, torch.Tensor], config: FlagDiTConfig,
                            dtype: torch.dtype | None = None) -> "FlagDiT":
        from .official import from_official_state

        with torch.device("meta"):
            model = cls(config)
        model.load_state_dict(from_official_state(state, config), strict=True, assign=True)
        if dtype is not None:
            model.to(dtype)
        return model.eval()

    def official_state_dict(self, learn_sigma: bool = True) -> dict[str, torch.Tensor]:
        from .official import to_official_state

        state = {k: v.detach().cpu() for k, v in self.state_dict().items()}
        return to_official_state(state, self.config, learn_sigma=learn_sigma)

    def save_official(self, path: str | os.PathLike, learn_sigma: bool = True) -> None:
        """Write the public code's layout: ``.safetensors`` by suffix, else a torch ``.pth``."""
        state = {k: v.contiguous() for k, v in self.official_state_dict(learn_sigma).items()}
        if str(path).endswith(".safetensors"):
            from safetensors.torch import save_file

            save_file(state, str(path), metadata={"format": "pt"})
        else:
            torch.save(state, path)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, device: str | torch.device = "cpu",
                        dtype: torch.dtype | None = None) -> "FlagDiT":
        from safetensors.torch import load_file

        with open(os.path.join(directory, "config.json")) as f:
            config = FlagDiTConfig.from_dict(json.load(f))
        with torch.device("meta"):
            model = cls(config)
        state = load_file(os.path.join(directory, "model.safetensors"), device=str(device))
        model.load_state_dict(state, strict=True, assign=True)
        if dtype is not None:
            model.to(dtype)
        return model.eval()
