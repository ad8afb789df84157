"""What each source kind takes to curate: the same captioned images as a folder, webdataset tars,
jsonl/csv/parquet listings and a Hugging Face dataset, curated one after the other (local backend,
one process) into fresh workspaces. Prints seconds, inputs/s and the ratio against the folder, and
checks that every kind gave the same sample keys.

    .venv/bin/python bench/bench_sources.py                  # 600 digits + 200 shapes, 32x32 square
    .venv/bin/python bench/bench_sources.py --digits 2000 --rounds 2
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
for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}.items():
    os.environ.setdefault(_k, _v)

from bench.source_kinds import all_kinds  # noqa: E402


def _clean_corpus(work: Path, digits: int, shapes: int) -> tuple[Path, dict[str, str]]:
    """The demo corpus's digits and shapes, flattened into one folder of image + caption pairs."""
    from preprocess.image.demo_corpus import write_demo_corpus

    raw = write_demo_corpus(work / "raw", num_digits=digits, num_shapes=shapes).root
    folder = work / "images"
    folder.mkdir()
    caps = {}
    for sub in ("digits", "shapes"):
        for png in sorted((raw / sub).glob("*.png")):
            txt = png.with_suffix(".txt")
            if txt.exists():
                shutil.copy(png, folder / png.name)
                shutil.copy(txt, folder / txt.name)
                caps[png.name] = txt.read_text()
    return folder, caps


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--digits", type=int, default=600)
    p.add_argument("--shapes", type=int, default=200)
    p.add_argument("--rounds", type=int, default=1, help="interleaved rounds; the median is reported")
    a = p.parse_args()
    from contracts.records import Batch
    from preprocess.curate import CurateConfig, curate

    work = Path(tempfile.mkdtemp(prefix="lumina-bench-sources-"))
    try:
        folder, caps = _clean_corpus(work, a.digits, a.shapes)
        t = time.perf_counter()
        sources = all_kinds(folder, caps, work / "kinds")
        print(f"{len(caps)} captioned images; the five other kinds built in {time.perf_counter() - t:.1f} s")
        cfg = CurateConfig(options={"resize": "square", "size": 32})
        curate(sources["folder"], work / "warm-up", cfg, backend="local")  # imports and first-use compilation, untimed
        times: dict[str, list[float]] = {k: [] for k in sources}
        keys: dict[str, set[str]] = {}
        for r in range(a.rounds):
            for kind, src in sources.items():
                home = work / f"home-{kind}-{r}"
                t = time.perf_counter()
                result = curate(src, home, cfg, backend="local")
                times[kind].append(time.perf_counter() - t)
                keys[kind] = {s.key for b in result.batch_paths for s in Batch.read(b).samples}
                shutil.rmtree(home)
        base = sorted(times["folder"])[len(times["folder"]) // 2]
        print(f"{'source kind':12s} {'seconds':>8s} {'inputs/s':>9s} {'vs folder':>10s}  same keys")
        for kind, ts in times.items():
            med = sorted(ts)[len(ts) // 2]
            print(f"{kind:12s} {med:8.1f} {len(caps) / med:9.1f} {base / med:9.2f}x  {keys[kind] == keys['folder']}")
        print(f"(load average at the end: {os.getloadavg()[0]:.1f}; medians of {a.rounds} round(s))")
        return 0 if all(k == keys["folder"] for k in keys.values()) else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
