"""One training step (forward, backward, AdamW) of our Flag-DiT vs diffusers' LuminaNextDiT2DModel.

Equal hidden size, depth, heads, image patches (tokens), caption and batch (default: S = hidden
384, 12 layers, 6 heads, 256 image tokens, batch 8). Each measurement runs in its own subprocess
(clean peak-memory numbers), ours and theirs interleaved round by round so background load hits
both alike. Reported: the median step over all rounds, in wall time and in process CPU time (on
a shared machine the CPU time of a 1-thread run is the steadier of the two), the ratio to
diffusers in both, and the achieved matmul FLOP/s (FLOPs counted by torch's FlopCounterMode on
one step; SDPA's CPU kernels, which it counts as 0, with the formulas of its CUDA kernels) against
this machine's matmul peak measured in the same run at the same thread count.

    python bench/bench_step.py                  # S, fp32 and bf16 autocast, 1 thread
    python bench/bench_step.py --quick          # a short run
    python bench/bench_step.py --profile        # where our step spends its time (torch.profiler)
    python bench/bench_step.py --compile        # adds "flag-dit compiled": each block torch.compile'd
    python bench/bench_step.py --paired         # every model in one process, taking turns (no memory figures)

Rows: "flag-dit" is the paper's layout (1-D RoPE, a [nextline] token per row: h more tokens than
patches); "flag-dit axial" (``--models``) has no separator tokens, so its sequence is exactly the
reference's. A model name ending in " aten" (``--models "flag-dit,flag-dit aten"``) runs its
linears on aten's fp32 GEMM instead of oneDNN's (``modelzoo/linear.py``): the A/B of that choice. tokens/s counts image patches, the same for every row. "... compiled" rows (``--compile``)
compile every transformer block in place, as ``TrainConfig(compile=True)`` does
(``training.trainer.compile_blocks``, here with ``dynamic=False``); diffusers stays eager, the
issue's baseline. Their compile time (the first step minus a steady one) is printed apart: round 1
starts from an empty Inductor cache (cold), later rounds reuse what round 1 wrote (warm).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SIZES = {"S": dict(dim=384, n_layers=12, n_heads=6), "B": dict(dim=768, n_layers=12, n_heads=12)}
MODELS = ("flag-dit", "flag-dit axial", "diffusers")
COMPILED = " compiled"  # suffix of a kind: the same model, blocks compiled
ATEN = " aten"  # suffix of a kind: the same model, its linears on aten's MKL GEMM instead of oneDNN
PEAK_N = 2048  # square matmul side for the peak measurement


def build(kind: str, size: str, cap_dim: int, latent: int):
    if kind.endswith(COMPILED):
        from training.trainer import compile_blocks

        model, forward = build(kind.removesuffix(COMPILED), size, cap_dim, latent)
        compile_blocks(model, dynamic=False)  # in place: state_dict keys stay the eager ones
        return model, forward
    s = SIZES[size]
    if kind == "diffusers":
        from diffusers import LuminaNextDiT2DModel
        from diffusers.models.embeddings import get_2d_rotary_pos_embed_lumina

        model = LuminaNextDiT2DModel(
            sample_size=latent, patch_size=2, in_channels=4, hidden_size=s["dim"], num_layers=s["n_layers"],
            num_attention_heads=s["n_heads"], num_kv_heads=s["n_heads"], learn_sigma=False, qk_norm=True,
            cross_attention_dim=cap_dim,
        )
        rope = get_2d_rotary_pos_embed_lumina(s["dim"] // s["n_heads"], 384, 384)

        def forward(x, t, cap, mask):
            return model(x, t, encoder_hidden_states=cap, encoder_mask=mask, image_rotary_emb=rope, cross_attention_kwargs={},
                         return_dict=False)[0]
        return model, forward

    from modelzoo import FlagDiT, get_config
    from modelzoo.linear import Linear

    axial = kind.removesuffix(ATEN) == "flag-dit axial"
    cfg = get_config("flag-dit-s", **s, cap_dim=cap_dim, rope="axial" if axial else "1d", sep_tokens=not axial)
    model = FlagDiT(cfg)
    for m in model.modules():
        if isinstance(m, Linear):
            m.onednn = not kind.endswith(ATEN)

    def forward(x, t, cap, mask):
        return model(x.unsqueeze(2), t, cap_feats=cap, cap_mask=mask).squeeze(2)  # images: T = 1
    return model, forward


def make_step(forward, opt, x, cap, mask, bf16: bool):
    """One flow-matching training step; returns its (wall, CPU) seconds."""
    import torch

    device, B = x.device, x.shape[0]

    def step() -> tuple[float, float]:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start, cpu_start = time.perf_counter(), time.process_time()
        t = torch.rand(B, device=device)
        noise = torch.randn_like(x)
        xt = t.view(-1, 1, 1, 1) * x + (1 - t.view(-1, 1, 1, 1)) * noise
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            v = forward(xt, t, cap, mask)
        loss = (v.float() - (x - noise)).square().mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start, time.process_time() - cpu_start
    return step


def paired(args: argparse.Namespace, models: list[str]) -> None:
    """Every model in this one process, taking turns every --steps steps, --rounds times: the
    host's drift (this shared machine's speed moves by 10-20% within minutes) then hits all of them
    within seconds of each other, not a minute apart as in the subprocess runs. No memory figures."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    B, L = args.batch, args.cap_len
    x, cap = torch.randn(B, 4, args.latent, args.latent), torch.randn(B, L, args.cap_dim)
    mask = torch.ones(B, L, dtype=torch.bool)
    mask[B // 2 :, L // 2 :] = False
    print(f"paired: {len(models)} models in one process, {args.steps} steps each per turn, {args.rounds} rounds, "
          f"{args.warmup} warm-up steps, {args.threads or 'default'} threads; load {_loadavg()}")
    peak = matmul_peak(args)
    print("matmul peak (%d^2, same threads): " % PEAK_N
          + ", ".join(f"{k} {v['wall']:.0f} GFLOP/s" for k, v in peak.items()), flush=True)
    for size in args.sizes:
        for precision in args.precisions:
            steps, times, flops = {}, {}, {}
            for kind in models:
                torch.manual_seed(0)
                model, forward = build(kind, size, args.cap_dim, args.latent)
                steps[kind] = make_step(forward, _adamw(list(model.parameters())), x, cap, mask, precision == "bf16")
                times[kind] = []
                for _ in range(args.warmup):  # compiled kinds compile here
                    steps[kind]()
                flops[kind] = step_flops(steps[kind], kind.endswith(COMPILED))
            for round_ in range(args.rounds):
                for kind in models:
                    times[kind] += [steps[kind]()[0] for _ in range(args.steps)]
                print(f"  round {round_ + 1} {size} {precision}: " + ", ".join(
                    f"{k} {statistics.median(times[k][-args.steps:]) * 1e3:.0f}" for k in models)
                    + f" ms; load {_loadavg()}", flush=True)
            ref = statistics.median(times["diffusers"])
            for kind in models:
                med = statistics.median(times[kind])
                # per round: the ratio of that round's medians, so a slow minute cancels out
                per_round = [statistics.median(times["diffusers"][i:i + args.steps]) / statistics.median(times[kind][i:i + args.steps])
                             for i in range(0, len(times[kind]), args.steps)]
                achieved = flops[kind] / med / 1e9
                print(f"{size} {precision} {kind:<32} {med * 1e3:6.0f} ms  {ref / med:5.2f}x diffusers "
                      f"(per round {min(per_round):.2f}-{max(per_round):.2f}x); {flops[kind] / 1e9:5.1f} GFLOP, "
                      f"{achieved:4.0f} GFLOP/s = {achieved / peak[precision]['wall']:4.0%} of the {precision} matmul peak")


def worker(args: argparse.Namespace) -> dict:
    import torch

    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    baseline = _rss_mb()
    model, forward = build(args.kind, args.size, args.cap_dim, args.latent)
    model.to(device).train()
    opt = _adamw(list(model.parameters()))
    B, L = args.batch, args.cap_len
    x = torch.randn(B, 4, args.latent, args.latent, device=device)
    cap = torch.randn(B, L, args.cap_dim, device=device)
    mask = torch.ones(B, L, dtype=torch.bool, device=device)
    mask[B // 2 :, L // 2 :] = False  # captions of different lengths, as in real batches
    step = make_step(forward, opt, x, cap, mask, args.precision == "bf16")

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    compiled = args.kind.endswith(COMPILED)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    first = step()  # a compiled model compiles here (forward and backward graphs)
    children = _cpu_s(resource.getrusage(resource.RUSAGE_CHILDREN)) - _cpu_s(children)  # the C++ compiler's share
    for _ in range(args.warmup - 1):
        step()
    if compiled:  # peak over the steps from here on, not the compiler's own memory
        _reset_peak_rss()
    measured = [step() for _ in range(args.steps)]
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = _peak_rss_mb() - baseline
    out = {}
    if compiled:
        from torch._dynamo.utils import counters

        steady_wall = statistics.median(w for w, _ in measured)
        steady_cpu = statistics.median(c for _, c in measured)
        out = dict(compile_wall=first[0] - steady_wall, compile_cpu=first[1] + children - steady_cpu,
                   graphs=counters["stats"]["unique_graphs"], graph_breaks=sum(counters["graph_break"].values()),
                   frames=counters["frames"]["ok"], fx_cache_hits=counters["inductor"]["fxgraph_cache_hit"],
                   fx_cache_misses=counters["inductor"]["fxgraph_cache_miss"])
    n_params = sum(p.numel() for p in model.parameters())
    return dict(wall=[w for w, _ in measured], cpu=[c for _, c in measured], flops=step_flops(step, compiled),
                peak_mb=peak, params=n_params, device=str(device), **out)


def step_flops(step, compiled: bool) -> int:
    """Matmul and attention FLOPs of one step, forward + backward, counted on one more step: eagerly
    (a dispatch mode would only make dynamo recompile); the compiled graphs run the same matmuls."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    stance = torch.compiler.set_stance("force_eager") if compiled else contextlib.nullcontext()
    with stance, FlopCounterMode(display=False, custom_mapping=_cpu_flash_attention_flops()) as counter:
        step()
    return counter.get_total_flops()


def _cpu_flash_attention_flops() -> dict:
    """FlopCounterMode has formulas for SDPA's CUDA kernels only: the CPU flash kernels would count
    0. They get the CUDA kernels' counts (the backward's recomputed scores included)."""
    import torch
    from torch.utils.flop_counter import sdpa_backward_flop_count, sdpa_flop_count

    def forward(query, key, value, *args, out_shape=None, **kwargs):
        return sdpa_flop_count(query, key, value)

    def backward(grad_out, query, key, value, *args, out_shape=None, **kwargs):
        return sdpa_backward_flop_count(grad_out, query, key, value)

    aten = torch.ops.aten
    return {aten._scaled_dot_product_flash_attention_for_cpu: forward,
            aten._scaled_dot_product_flash_attention_for_cpu_backward: backward}


def matmul_peak(args: argparse.Namespace) -> dict:
    """GFLOP/s of a large square matmul per dtype, at the benchmark's thread count (best of 5)."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(PEAK_N, PEAK_N, dtype=dtype), torch.randn(PEAK_N, PEAK_N, dtype=dtype)
        a @ b
        walls, cpus = [], []
        for _ in range(5):
            w0, c0 = time.perf_counter(), time.process_time()
            a @ b
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        flops = 2 * PEAK_N**3
        out[name] = dict(wall=flops / min(walls) / 1e9, cpu=flops / min(cpus) / 1e9)
    return out


def _adamw(params):
    """AdamW, fused where this torch has it (CPU and CUDA since 2.4): the per-tensor loop costs
    more than the model's forward and backward at small batches on CPU."""
    import torch

    try:
        return torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    try:  # VmHWM: resettable (_reset_peak_rss); ru_maxrss is not
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # Linux >= 4.0: VmHWM := current RSS
    except OSError:
        pass


def _cpu_s(usage) -> float:
    return usage.ru_utime + usage.ru_stime


def run_worker(args: argparse.Namespace, kind: str, size: str, precision: str, peak: bool = False) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--kind", kind, "--size", size,
           "--precision", precision] + (["--peak"] if peak else [])
    for name in ("batch", "latent", "cap_len", "cap_dim", "steps", "warmup", "threads"):
        cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    # spinning OpenMP workers collapse (10x) when another process holds a core: wait passively
    env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    if kind.endswith(COMPILED):
        # this run's own Inductor cache (round 1 cold, later rounds warm); the compiler on as
        # many cores as the step (1 compile thread: in process, its CPU time counted)
        env.update(TORCHINDUCTOR_CACHE_DIR=args.cache_dir, TORCHINDUCTOR_COMPILE_THREADS=str(args.threads or os.cpu_count()))
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if out.returncode:
        raise RuntimeError(f"{kind} {size} {precision} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def profile(args: argparse.Namespace) -> None:
    import torch
    from torch.profiler import ProfilerActivity, profile as torch_profile

    if args.threads:
        torch.set_num_threads(args.threads)
    for kind in ("flag-dit", "flag-dit" + COMPILED, "diffusers") if args.compile else ("flag-dit", "diffusers"):
        torch.manual_seed(0)
        model, forward = build(kind, args.sizes[0], args.cap_dim, args.latent)
        opt = _adamw(list(model.parameters()))
        B, L = args.batch, args.cap_len
        x, cap = torch.randn(B, 4, args.latent, args.latent), torch.randn(B, L, args.cap_dim)
        mask = torch.ones(B, L, dtype=torch.bool)
        mask[B // 2 :, L // 2 :] = False
        bf16 = args.precisions[0] == "bf16"

        def step():
            t = torch.rand(B)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                v = forward(x, t, cap, mask)
            v.float().square().mean().backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        for _ in range(2 if kind.endswith(COMPILED) else 1):  # compiled: compiles here
            step()
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(2):
                step()
        print(f"\n=== {kind} {args.sizes[0]} {args.precisions[0]}: top ops by self CPU time ===")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="few steps, one round")
    p.add_argument("--sizes", default="S")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--models", default="flag-dit,diffusers",
                   help=f"comma list of {', '.join(MODELS)}; a ' aten' suffix turns the oneDNN linears off")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--latent", type=int, default=32, help="latent side; patch 2 gives (latent/2)^2 tokens")
    p.add_argument("--cap-len", type=int, default=32)
    p.add_argument("--cap-dim", type=int, default=768)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2, help="2 steps: Adam states of zero-init layers fill in")
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds (each model once per round)")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads per run (0: torch's default). On a shared machine 1 is the stable choice: "
                        "with every core busy, OpenMP barriers stall whenever another process holds a core")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--compile", action="store_true",
                   help='add "<model> compiled" rows for our models: every block torch.compile\'d in place '
                        "(dynamic=False, default mode), as `lumina train --compile`; diffusers stays eager")
    p.add_argument("--paired", action="store_true",
                   help="all models in one process, taking turns every --steps steps (the steadier ratio on a "
                        "shared host; no memory figures)")
    p.add_argument("--cache-dir", help="Inductor cache of the compiled runs (default: a fresh temporary folder, "
                                       "so round 1 measures a cold compile)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--peak", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--kind", default="flag-dit", help=argparse.SUPPRESS)
    p.add_argument("--size", default="S", help=argparse.SUPPRESS)
    p.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(matmul_peak(args) if args.peak else worker(args)))
        return
    if args.quick:
        args.steps, args.warmup, args.rounds = 2, 2, 1
    args.sizes = args.sizes.split(",")
    args.precisions = args.precisions.split(",")
    models = [m for m in args.models.split(",") if m]
    if "diffusers" not in models:
        models.append("diffusers")
    if args.compile:  # each of our models followed by its compiled twin
        models = [k for m in models for k in ((m, m + COMPILED) if m.startswith("flag-dit") else (m,))]
    if args.profile:
        profile(args)
        return
    if args.paired:
        paired(args, models)
        return
    if args.compile and not args.cache_dir:  # removed at the end
        args.cache_dir = tempfile.mkdtemp(prefix="bench_step_inductor_")
        atexit.register(shutil.rmtree, args.cache_dir, True)

    tokens = args.batch * (args.latent // 2) ** 2
    print(f"batch {args.batch}, {(args.latent // 2) ** 2} image tokens per sample (latent {args.latent}, patch 2), "
          f"caption {args.cap_len} x {args.cap_dim}, fused AdamW, {args.steps} timed steps after {args.warmup} "
          f"warm-up per run, {args.rounds} interleaved rounds, medians of all timed steps, "
          f"{args.threads or 'default'} CPU threads; load average at start {_loadavg()}")
    peak = run_worker(args, "none", "S", "fp32", peak=True)
    print("matmul peak (%d^2, same threads): " % PEAK_N + ", ".join(
        f"{k} {v['wall']:.0f} GFLOP/s wall / {v['cpu']:.0f} per CPU-second" for k, v in peak.items()))
    width = max(15, *(len(m) for m in models))
    header = (f"{'size':<4} {'prec':<5} {'model':<{width}} {'params':>8} {'wall ms':>9} {'cpu ms':>9} {'tokens/s':>9} "
              f"{'vs diffusers wall':>18} {'cpu':>6} {'GFLOP':>7} {'GFLOP/s cpu':>12} {'of peak':>8} {'peak MB':>8}")
    summary, compile_notes, tables = [], [], []
    for size in args.sizes:
        for precision in args.precisions:
            runs: dict[str, list[dict]] = {kind: [] for kind in models}
            for round_ in range(args.rounds):
                for kind in models:  # interleaved: each round runs every model once
                    r = run_worker(args, kind, size, precision)
                    runs[kind].append(r)
                    note = ""
                    if "compile_wall" in r:
                        note = (f", compile {r['compile_wall']:.1f} s wall / {r['compile_cpu']:.1f} s CPU, "
                                f"{r['graphs']} graphs, {r['graph_breaks']} graph breaks, "
                                f"FX cache {r['fx_cache_hits']} hits / {r['fx_cache_misses']} misses")
                    print(f"  round {round_ + 1} {size} {precision} {kind}: steps {_ms(r['wall'])} ms wall, "
                          f"{_ms(r['cpu'])} ms CPU{note}; load {_loadavg()}", flush=True)
            med = {kind: dict(wall=statistics.median(w for r in rs for w in r["wall"]),
                              cpu=statistics.median(c for r in rs for c in r["cpu"]),
                              flops=rs[0]["flops"], params=rs[0]["params"],
                              peak_mb=min(r["peak_mb"] for r in rs)) for kind, rs in runs.items()}
            ref = med["diffusers"]
            for kind in models:
                r = med[kind]
                achieved = r["flops"] / r["cpu"] / 1e9
                tables.append(f"{size:<4} {precision:<5} {kind:<{width}} {r['params'] / 1e6:7.1f}M {r['wall'] * 1e3:9.0f} "
                              f"{r['cpu'] * 1e3:9.0f} {tokens / r['wall']:9.0f} {ref['wall'] / r['wall']:17.2f}x "
                              f"{ref['cpu'] / r['cpu']:5.2f}x {r['flops'] / 1e9:7.1f} {achieved:12.0f} "
                              f"{achieved / peak[precision]['cpu']:7.0%} {r['peak_mb']:8.0f}")
                if kind == "diffusers":
                    continue
                summary.append(f"{size} {precision}: {kind} / diffusers = {ref['wall'] / r['wall']:.2f}x wall, "
                               f"{ref['cpu'] / r['cpu']:.2f}x CPU time")
                rs = runs[kind]
                if "compile_wall" in rs[0]:
                    warm = [x["compile_wall"] for x in rs[1:]]
                    compile_notes.append(
                        f"{size} {precision} {kind}: compile (first step minus a steady one) {rs[0]['compile_wall']:.0f} s "
                        f"wall / {rs[0]['compile_cpu']:.0f} s CPU from "
                        + ("an empty cache" if rs[0]["fx_cache_misses"] else "a filled cache")
                        + (f", {statistics.median(warm):.0f} s wall / {statistics.median(x['compile_cpu'] for x in rs[1:]):.0f} "
                           "s CPU with the cache round 1 wrote" if warm else "")
                        + f"; {rs[0]['graphs']} graphs, {rs[0]['graph_breaks']} graph breaks")
    print(header)
    print("-" * len(header))
    print("\n".join(tables))
    print("step ratios (median of interleaved runs): " + "; ".join(summary))
    for note in compile_notes:
        print(note)
    print(f"device: {runs[models[0]][0]['device']}; FLOP/s per CPU-second against the {PEAK_N}^2 matmul peak of the "
          "same dtype (bf16 rows: bf16 peak); peak MB: CUDA max allocated, or CPU peak RSS above the pre-model baseline "
          "(compiled rows: over the timed steps, after the compiler's own peak)")


def _ms(values: list[float]) -> str:
    return "/".join(f"{v * 1e3:.0f}" for v in values)


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
