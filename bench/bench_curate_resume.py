"""Curating again after an interruption: the analysis journal (preprocess/analysis_journal.py)
against the baseline that analysed every input again, side by side on the same photos; and what
the journal costs an uninterrupted curation (a stat per file, a pickle per chunk).

    python bench/bench_curate_resume.py [--images 1500] [--side 384]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def write_photos(root: Path, n: int, side: int) -> None:
    """Crops of scikit-image's photos with a little noise: distinct inputs that decode like photos."""
    from PIL import Image
    from skimage import data

    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for i in range(n):
        p = photos[i % len(photos)]
        y, x = rng.integers(0, p.shape[0] - side // 2), rng.integers(0, p.shape[1] - side // 2)
        crop = np.asarray(Image.fromarray(p[y:y + side // 2, x:x + side // 2]).resize((side, side)), dtype=np.int16)
        crop = np.clip(crop + rng.integers(-8, 9, crop.shape), 0, 255).astype(np.uint8)
        Image.fromarray(crop).save(root / f"photo_{i:05d}.png")
        (root / f"photo_{i:05d}.txt").write_text(f"a photo, crop {i}")


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=1500)
    p.add_argument("--side", type=int, default=384)
    p.add_argument("--rounds", type=int, default=3, help="baseline and journal alternate; medians are printed")
    a = p.parse_args()

    from preprocess import curate as curate_module
    from preprocess.curate import CurateConfig, curate

    cfg = CurateConfig(options={"max_tokens": 256})
    with tempfile.TemporaryDirectory(prefix="bench_curate_resume-") as tmp:
        src = Path(tmp) / "photos"
        write_photos(src, a.images, a.side)
        real_signature, real_process = curate_module.chunk_signature, curate_module.WriteShardStage.process

        def run(home: str, journal: bool, crash: bool = False) -> None:
            curate_module.chunk_signature = real_signature if journal else (lambda items: None)
            if crash:
                def stop(self, batch):
                    raise KeyboardInterrupt
                curate_module.WriteShardStage.process = stop
            try:
                curate(str(src), home, cfg, backend="local")
            except KeyboardInterrupt:
                pass
            finally:
                curate_module.WriteShardStage.process = real_process
                curate_module.chunk_signature = real_signature

        run(str(Path(tmp) / "warm-up"), journal=False)  # file cache, imports, the first decode's setup
        times: dict[str, list[tuple[float, float]]] = {"baseline": [], "journal": []}
        for _ in range(a.rounds):
            for name, journal in (("baseline", False), ("journal", True)):
                home = str(Path(tmp) / name)
                whole = timed(lambda: run(home, journal))
                shutil.rmtree(home)
                run(home, journal, crash=True)  # killed while writing shards, after the whole analysis
                again = timed(lambda: run(home, journal))
                times[name].append((whole, again))
                shutil.rmtree(home)
    med = {k: (float(np.median([w for w, _ in v])), float(np.median([g for _, g in v]))) for k, v in times.items()}
    (base_whole, base_again), (now_whole, now_again) = med["baseline"], med["journal"]
    print(f"{a.images} photos {a.side}x{a.side} px, local backend, one process, median of {a.rounds} alternating rounds")
    print("a run again after a crash still writes every shard: the journal saves the analysis only")
    print(f"{'':28s} {'baseline s':>10s} {'journal s':>10s} {'ratio':>8s}")
    print(f"{'uninterrupted curation':28s} {base_whole:10.2f} {now_whole:10.2f} {now_whole / base_whole:7.2f}x (cost)")
    print(f"{'run again after a crash':28s} {base_again:10.2f} {now_again:10.2f} {base_again / now_again:7.1f}x (speed-up)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
