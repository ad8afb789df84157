"""Small synthetic batches and whole-catalog dumps for the catalog tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from catalog import Batch, EncodingRecord, SampleRecord, ShardRecord, VerdictRecord

REPO = Path(__file__).resolve().parents[2]
VAE_A = "sd15-vae:cfg=aa:w=01"
VAE_B = "sdxl-vae:cfg=bb:w=02"
TEXT = "minilm-l6:cfg=cc:w=03"


def key(batch: int, j: int) -> str:
    return f"{batch:08x}{j:024x}"  # 32 hex chars, like preprocess.keys.sample_key


def make_batch(b: int, n: int = 6, shard_dir: str = "/shards", vae: str = VAE_A, modality: str = "image",
               status_cycle: tuple[str, ...] = ("accepted", "accepted", "accepted", "rejected", "quarantined")) -> Batch:
    """n samples: accepted ones get verdicts and latent+text encodings, rejected ones a failing verdict."""
    uri = f"{shard_dir}/b{b:04d}.tar"
    samples, verdicts, encodings = [], [], []
    for j in range(n):
        k = key(b, j)
        status = status_cycle[j % len(status_cycle)]
        reason = {"accepted": None, "rejected": "min_size: 100 < 256", "quarantined": "decode_error: truncated"}[status]
        size = 100 if status == "rejected" else 512 + 64 * (j % 3)
        samples.append(SampleRecord(key=k, modality=modality, source_uri=f"/raw/{b}/{j}.png", status=status,
                                    reason=reason, caption=f"a photo of thing {b}-{j}", width=size, height=size,
                                    split="holdout" if j % 4 == 3 else "train", meta={"label": j % 3, "batch": b}))
        if status != "quarantined":
            verdicts.append(VerdictRecord(k, "min_size", "1", float(size), 256.0, size >= 256))
            verdicts.append(VerdictRecord(k, "aspect_ratio", "1", 1.0, 3.0, True))
        if status == "accepted":
            encodings.append(EncodingRecord(k, vae, "latent", [4, 1, size // 8, size // 8], "float16", uri,
                                            f"{k}.latent.npy"))
            encodings.append(EncodingRecord(k, TEXT, "text", [77, 384], "float16", uri, f"{k}.text.npy"))
    shard = ShardRecord(uri=uri, stage="encoded", num_samples=len(encodings) // 2, bytes=1000 * n, sha256=f"{b:064x}")
    return Batch(shard=shard, samples=samples, verdicts=verdicts, encodings=encodings)


def dump(path: str | os.PathLike, exclude: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    """Every base table, fully sorted: equal dumps mean equal catalogs."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_type = 'BASE TABLE' ORDER BY 1").fetchall()]
        return {t: con.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall() for t in tables if t not in exclude}
    finally:
        con.close()


def run_py(code: str, *args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    """Run Python code in a fresh process with the repository importable."""
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=subprocess_env(), capture_output=True,
                          text=True, timeout=timeout, **kw)


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def cli(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """`python -m catalog.cli ...` in a fresh process."""
    return subprocess.run([sys.executable, "-m", "catalog.cli", *argv], cwd=REPO, env=subprocess_env(),
                          capture_output=True, text=True, timeout=timeout)
