"""The preprocessing stages as library functions: they fan out on Ray and run without Prefect.

curate_images: raw folder -> curated shards + batch files (Ray tasks, one per chunk of inputs)
encode_shards: curated shards -> encoded shards + batch files (Ray Data actor pool, one encoder per actor)
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from catalog.records import Batch
from preprocess.curate import (
    Candidate,
    CurateConfig,
    chunk,
    deduplicate,
    discover,
    safe_analyse,
    write_curated_shard,
    write_rejections,
)
from preprocess.ray_utils import ensure_ray, gather
from tqdm.auto import tqdm


@dataclass
class CurateResult:
    batch_paths: list[str]  # every batch file written (curated shards + the rejections batch)
    shard_uris: list[str]
    counts: dict[str, int] = field(default_factory=dict)  # status -> number of inputs
    reasons: dict[str, int] = field(default_factory=dict)  # filter/error kind -> number of inputs


def _analyse_chunk(paths: list[str], cfg: CurateConfig, quarantine_dir: str) -> list[Candidate]:
    return [safe_analyse(p, cfg, quarantine_dir) for p in paths]


def _write_shard(cands: list[Candidate], out_dir: str, cfg: CurateConfig) -> str:
    return write_curated_shard(cands, out_dir, cfg).shard.uri


def curate_images(source: str | Path, home: str | Path, cfg: CurateConfig | None = None, chunk_size: int = 256) -> CurateResult:
    """Curate an image-text folder (images with caption .txt beside them) into shards under home/curated."""
    import ray

    cfg = cfg or CurateConfig()
    home = Path(home)
    out_dir, quarantine_dir = home / "curated", home / "quarantine"
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [str(p) for p in discover(source)]
    if not files:
        raise FileNotFoundError(f"no image files under {source}")
    ensure_ray()
    analyse = ray.remote(_analyse_chunk)
    refs = [analyse.remote(c, cfg, str(quarantine_dir)) for c in chunk(files, chunk_size)]
    cands = [c for part in gather(refs, "curate: analyse") for c in part]

    cands = deduplicate(cands, cfg)  # needs the global view: runs in the driver, on hashes only
    accepted = sorted((c for c in cands if c.record.status == "accepted"), key=lambda c: c.record.key)
    write = ray.remote(_write_shard)
    refs = [write.remote(c, str(out_dir), cfg) for c in chunk(accepted, cfg.shard_size)]
    shard_uris = gather(refs, "curate: write shards")
    rejections = out_dir / "rejections.batch.json"
    write_rejections(cands, rejections)

    batch_paths = [str(Batch.path_beside(u)) for u in shard_uris] + [str(rejections)]
    reasons = Counter((c.record.reason or "").split(":")[0] for c in cands if c.record.status != "accepted")
    return CurateResult(batch_paths, shard_uris, dict(Counter(c.record.status for c in cands)), dict(reasons))


class _EncodeActor:
    """One text encoder per actor, loaded once (setup), then one curated shard per call."""

    def __init__(self, home: str, text_encoder: str, text_encoder_path: str | None):
        from preprocess.encode import write_null_caption
        from encoders.text import load_text_encoder

        self.out_dir = str(Path(home) / "encoded")
        self.encoder = load_text_encoder(text_encoder, text_encoder_path)
        write_null_caption(self.encoder, home)  # the empty caption's features, once per fingerprint

    def __call__(self, batch: dict) -> dict:
        from preprocess.encode import encode_shard

        paths = []
        for uri in batch["uri"]:
            b = encode_shard(str(uri), self.out_dir, self.encoder)
            paths.append(str(Batch.path_beside(b.shard.uri)))
        return {"batch_path": paths}


def encode_shards(shard_uris: list[str], home: str | Path, text_encoder: str = "minilm", text_encoder_path: str | None = None, num_actors: int = 1) -> list[str]:
    """Encode curated shards with a Ray Data actor pool; returns the encoded batch files."""
    import ray.data
    from ray.data import ActorPoolStrategy

    (Path(home) / "encoded").mkdir(parents=True, exist_ok=True)
    ensure_ray()
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # our own bar below; Ray Data's is a log line per second off a TTY
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    ds = ray.data.from_items([{"uri": u} for u in shard_uris], override_num_blocks=len(shard_uris))
    ds = ds.map_batches(
        _EncodeActor,
        batch_size=1,
        compute=ActorPoolStrategy(size=max(1, min(num_actors, len(shard_uris)))),
        fn_constructor_kwargs={"home": str(home), "text_encoder": text_encoder, "text_encoder_path": text_encoder_path},
    )
    return sorted(r["batch_path"] for r in tqdm(ds.iter_rows(), total=len(shard_uris), desc="encode: shards", unit="shard"))
