"""Encode benchmark: images/s through the Ray Data actor pool against a plain loop over the same shards.

    .venv/bin/python bench/bench_encode.py                         # identity + MiniLM, 2 actors
    .venv/bin/python bench/bench_encode.py --latent sd15 --actors 2 # SD1.5-architecture VAE (random weights)
    .venv/bin/python bench/bench_encode.py --gpus-per-actor 0.5     # on a GPU machine

One run each, side by side, on the same curated shards (copied into two workspaces, because the
encode stage reuses finished outputs). The plain loop is the encode stage in this process: one
encoder pair, shard after shard, its load time reported apart. The actor pool is the same stage
through preprocess.encode.encode on Ray: one encoder pair per actor; Ray is started before timing,
so its time is actor start-up + encoder loads + encoding, what a user waits for. With no weights here, --latent sd15/sdxl builds the published architecture
with random weights (the same compute as the real VAE).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "RAY_AUTH_MODE": "disabled",
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)


def random_vae(name: str, folder: Path) -> str:
    """The published SD1.5 / SDXL VAE architecture with random weights, saved like a real one."""
    import torch
    from diffusers import AutoencoderKL

    from encoders.latent.vae import VAE_CONFIGS

    torch.manual_seed(0)
    AutoencoderKL(**VAE_CONFIGS[name]).save_pretrained(folder)
    return str(folder)


def curate_once(root: Path, num_digits: int, num_shapes: int, shard_size: int) -> Path:
    from preprocess.curate import CurateConfig, curate
    from preprocess.image.demo_corpus import write_demo_corpus

    corpus = write_demo_corpus(root / "source", num_digits=num_digits, num_shapes=num_shapes)
    home = root / "curated_home"
    result = curate(corpus.root, home, CurateConfig(shard_size=shard_size), backend="local")
    print(f"curated: {result.counts.get('accepted', 0)} accepted images in {len(result.shard_uris)} shards")
    return home


def workspace_copy(src_home: Path, dst_home: Path) -> list[str]:
    from contracts.layout import Workspace

    src, dst = Workspace.at(src_home).curated("image"), Workspace.at(dst_home).curated("image")
    shutil.copytree(src, dst)
    return sorted(str(p) for p in dst.glob("curated-*.tar"))


def plain_loop(home: Path, shards: list[str], cfg) -> tuple[float, float, int]:
    """The encode stage in this process, shard after shard: (load seconds, encode seconds, images)."""
    from contracts.records import Batch
    from preprocess.encode import EncodeStage

    stage = EncodeStage("image", str(home), cfg)
    t0 = time.perf_counter()
    stage.setup()  # both encoders and the null caption
    t1 = time.perf_counter()
    paths = [p for uri in shards for p in stage.process([uri])]
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, sum(Batch.read(p).shard.num_samples for p in paths)


def actor_pool(home: Path, shards: list[str], cfg) -> tuple[float, int]:
    """preprocess.encode.encode on Ray: the stage in an actor pool, each actor loading its own encoders."""
    from contracts.records import Batch
    from preprocess.encode import encode

    t0 = time.perf_counter()
    result = encode(str(home), "image", cfg, shard_uris=shards, backend="ray")
    return time.perf_counter() - t0, sum(Batch.read(p).shard.num_samples for p in result.batch_paths)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--latent", default="identity", choices=["identity", "sd15", "sdxl"])
    p.add_argument("--text", default="minilm")
    p.add_argument("--text-path")
    p.add_argument("--digits", type=int, default=1000)
    p.add_argument("--shapes", type=int, default=200)
    p.add_argument("--shard-size", type=int, default=128)
    p.add_argument("--actors", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--gpus-per-actor", type=float, default=0.0)
    a = p.parse_args()

    from preprocess.encode import EncodeConfig
    from contracts.ray_runtime import ensure_ray

    root = Path(tempfile.mkdtemp(prefix="bench_encode_"))
    try:
        vae = random_vae(a.latent, root / "vae") if a.latent != "identity" else None
        curated = curate_once(root, a.digits, a.shapes, a.shard_size)
        cfg = EncodeConfig(latent=a.latent, vae=vae, text=a.text, text_path=a.text_path, batch_size=a.batch_size,
                           num_actors=a.actors, gpus_per_actor=a.gpus_per_actor)
        shards = workspace_copy(curated, root / "loop")
        load, work, n_loop = plain_loop(root / "loop", shards, cfg)
        ensure_ray()  # started before timing: a cluster is already up when a pipeline runs
        pool_s, n_pool = actor_pool(root / "pool", workspace_copy(curated, root / "pool"), cfg)
        print(f"\nencode: latent={a.latent} text={a.text} batch={a.batch_size} cpus={os.cpu_count()} gpus/actor={a.gpus_per_actor} "
              f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')} load average {os.getloadavg()[0]:.1f}")
        print(f"{'mode':34s} {'shards':>6s} {'images':>7s} {'seconds':>8s} {'images/s':>9s}")
        print(f"{'plain loop, with encoder load':34s} {len(shards):6d} {n_loop:7d} {load + work:8.2f} {n_loop / (load + work):9.1f}")
        print(f"{'plain loop, encoding only':34s} {len(shards):6d} {n_loop:7d} {work:8.2f} {n_loop / work:9.1f}")
        print(f"{f'Ray Data actor pool, {a.actors} actors':34s} {len(shards):6d} {n_pool:7d} {pool_s:8.2f} {n_pool / pool_s:9.1f}")
        print("(the pool's time includes starting its actors and loading an encoder pair in each)")
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
