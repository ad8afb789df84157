"""A user's own image-caption folder at two sizes through the documented chain, side by side.

    python bench/bench_scale.py [--small 200] [--large 2000] [--text phone|minilm] [--out DIR]

For each size N it writes a folder of N images (crops of scikit-image's photos and scikit-learn's
digits, recoloured and noised, PNG and JPEG of 32-128 px, each with a .txt caption; ~1% bad:
truncated, empty captions, exact and near copies, unreadable bytes), then runs, in this process
without Ray (backend local, so the figures are the work and not the scheduler):

  curate, encode (identity latents), a change of ~1% of the inputs (captions edited, files
  deleted, files added), the first `lumina refresh` OLD (every input the index never listed curated
  again, as before commit "refresh: the first refresh of a folder that lumina curate and encode
  took in curates only what changed since") and NEW (from the same state, restored), a no-op
  refresh, `lumina catalog stats`, `check` and the README's SQL examples;

and prints wall and CPU seconds (this process, its threads included) and the inputs analysed for
each step and size, the large/small ratio (a ratio far over large/small = N_large/N_small is
super-linear), and the first refresh OLD against NEW.

The user walk of 2026-12-06 (20,000 and 2,000 images of 32-256 px, Ray, MiniLM, one shared 2-core
machine, CPU of every process of the tree): curate 166 s CPU / 264 s wall at 20k (36 / 47 at 2k);
encode 131 / 204 (35 / 46); the first refresh after a 1% change 329 s CPU / 473 s wall before
(every input curated and encoded again, a second copy of every shard), 34 s CPU / 47 s wall after
(533 of 20,016 inputs curated, one new shard encoded); a no-op refresh 2.5 / 6.2 (0.9 / 2.7);
`lumina catalog stats`, `check`, `sql`, `manifest` about 1 s at either size; 50 training steps
16.6 s CPU at 20k, 14.5 at 2k, 1 GB peak at both. This script at its defaults: about 50 s here.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "moon", "page", "clock", "grass",
          "gravel", "brick", "colorwheel", "cat")
WORDS = ("bright", "dark", "grainy", "soft", "sharp", "faded", "vivid", "noisy", "warm", "cool")
SQL = ("SELECT * FROM accepted_by_bucket ORDER BY modality, bucket",
       "SELECT * FROM filter_drop_rates ORDER BY drop_rate DESC",
       "SELECT modality, status, count(*) AS n FROM samples GROUP BY ALL ORDER BY modality, status",
       "SELECT reason, count(*) AS n FROM samples WHERE status <> 'accepted' GROUP BY reason ORDER BY n DESC LIMIT 10")


def _sources():
    import skimage.data as d
    from sklearn.datasets import load_digits

    digits = load_digits()
    photos = []
    for name in PHOTOS:
        a = getattr(d, name)()
        photos.append((name, np.stack([a] * 3, -1) if a.ndim == 2 else a[..., :3]))
    return digits.images, digits.target, photos


def _image(rng, srcs, i):
    digits, targets, photos = srcs
    w = int(rng.integers(32, 129))
    h = int(np.clip(w * rng.uniform(0.6, 1.6), 32, 128))
    if rng.random() < 0.4:
        j = int(rng.integers(len(digits)))
        fg, bg = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        d = digits[j][..., None] / 16.0
        a = np.asarray(Image.fromarray((d * fg + (1 - d) * bg).astype(np.uint8)).resize((w, h), Image.NEAREST), np.float32)
        caption = f"digit {targets[j]}, {WORDS[i % 10]}, sample {i}"
    else:
        name, p = photos[int(rng.integers(len(photos)))]
        ch, cw = int(rng.integers(48, p.shape[0] + 1)), int(rng.integers(48, p.shape[1] + 1))
        y, x = int(rng.integers(0, p.shape[0] - ch + 1)), int(rng.integers(0, p.shape[1] - cw + 1))
        a = np.asarray(Image.fromarray(p[y:y + ch, x:x + cw]).resize((w, h), Image.BILINEAR), np.float32)
        a = a * rng.uniform(0.7, 1.3, 3) + rng.uniform(-20, 20, 3)
        caption = f"a {WORDS[int(rng.integers(10))]} crop of {name}, view {i}"
    a += rng.normal(0, rng.uniform(1, 10), a.shape)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)), caption


def _save(img, caption, stem: Path, jpeg: bool) -> Path:
    path = stem.with_suffix(".jpg" if jpeg else ".png")
    img.save(path, "JPEG", quality=90) if jpeg else img.save(path)
    stem.with_suffix(".txt").write_text(caption + "\n")
    return path


def write_folder(root: Path, n: int, seed: int = 0) -> None:
    """n images with captions, ~1% of them bad (at least one of each kind)."""
    rng, pick, srcs = np.random.default_rng(seed), random.Random(seed), _sources()
    files = []
    for i in range(n):
        sub = root / f"part{i // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        img, caption = _image(rng, srcs, i)
        files.append(_save(img, caption, sub / f"img_{i:06d}", bool(rng.random() < 0.5)))
    k = max(1, n // 500)
    bad = pick.sample(files, 4 * k)
    (root / "bad").mkdir()
    for j, p in enumerate(bad[:k]):  # truncated
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    for p in bad[k:2 * k]:  # empty caption
        p.with_suffix(".txt").write_text("")
    for j, p in enumerate(bad[2 * k:3 * k]):  # exact copy
        shutil.copy(p, root / "bad" / f"dup_{j}{p.suffix}")
        shutil.copy(p.with_suffix(".txt"), root / "bad" / f"dup_{j}.txt")
    for j, p in enumerate(bad[3 * k:]):  # near copy: scaled and recompressed, another caption
        with Image.open(p) as im:
            im.convert("RGB").resize((max(32, im.width * 9 // 10), max(32, im.height * 9 // 10))).save(
                root / "bad" / f"near_{j}.jpg", quality=70)
        (root / "bad" / f"near_{j}.txt").write_text(p.with_suffix(".txt").read_text().strip() + " (copy)")
        (root / "bad" / f"garbage_{j}.png").write_bytes(os.urandom(300 + j))  # unreadable
        (root / "bad" / f"garbage_{j}.txt").write_text(f"garbage {j}")


def change_one_percent(root: Path, seed: int = 1) -> int:
    """Captions edited, files deleted and files added: each ~1% of the inputs. Returns how many inputs changed."""
    pick, rng, srcs = random.Random(seed), np.random.default_rng(seed), _sources()
    media = sorted(p for p in root.rglob("img_*") if p.suffix in (".png", ".jpg"))
    m = max(1, len(media) // 100)
    chosen = pick.sample(media, 2 * m)
    for p in chosen[:m]:
        with open(p.with_suffix(".txt"), "a") as f:
            f.write(" edited")
    for p in chosen[m:]:
        p.unlink()
        p.with_suffix(".txt").unlink()
    (root / "added").mkdir(exist_ok=True)
    for i in range(m):
        img, caption = _image(rng, srcs, 10_000_000 + i)
        _save(img, caption, root / "added" / f"new_{i:05d}", bool(i % 2))
    return 3 * m


class Counted:
    """Inputs analysed (AnalyseStage._analyse calls) while it is on."""

    def __init__(self):
        import preprocess.curate as pc

        self.n, self._pc, self._real = 0, pc, pc.AnalyseStage._analyse
        counter = self

        def counting(stage, item):
            counter.n += 1
            return counter._real(stage, item)

        pc.AnalyseStage._analyse = counting


def measure(label: str, fn, counter: Counted, rows: dict, size: int):
    counter.n = 0
    t, c = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        out = fn()
    rows.setdefault(label, {})[size] = (time.perf_counter() - t, time.process_time() - c, counter.n)
    return out


def run_size(n: int, out: Path, text: str, counter: Counted, rows: dict) -> dict:
    import preprocess.refresh as planner
    from catalog.cli import main as catalog_main
    from flows.refresh import refresh_source
    from flows.steps import curate_step, encode_step
    from preprocess.curate import CurateConfig
    from preprocess.encode import EncodeConfig

    src, home = out / f"src{n}", out / f"home{n}"
    write_folder(src, n)
    cfg, enc = CurateConfig(options={"vae_factor": 1}), EncodeConfig(text=text)
    catalog = str(home / "catalog.duckdb")
    measure("curate", lambda: curate_step(str(src), str(home), cfg, backend="local"), counter, rows, n)
    measure("encode", lambda: encode_step(str(home), "image", enc, backend="local"), counter, rows, n)
    changed = change_one_percent(src)
    saved = out / "saved"
    shutil.copytree(src, saved / "src", copy_function=shutil.copy2)
    shutil.copytree(home, saved / "home", copy_function=shutil.copy2)
    new_way = planner._without_already_curated
    planner._without_already_curated = lambda touched, *a, **k: (touched, 0)  # the code before the fix
    def rows_now():
        from catalog import Catalog

        with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
            return set(cat.sql("SELECT key, source_uri, status, reason FROM samples")[1])

    try:
        old = measure("first refresh OLD", lambda: refresh_source(str(src), home, cfg, encode_cfg=enc, backend="local"),
                      counter, rows, n)
    finally:
        planner._without_already_curated = new_way
    old_rows = rows_now()
    shutil.rmtree(src), shutil.rmtree(home)  # the same state, at the same paths (samples name their files)
    shutil.copytree(saved / "src", src, copy_function=shutil.copy2)
    shutil.copytree(saved / "home", home, copy_function=shutil.copy2)
    shutil.rmtree(saved)
    new = measure("first refresh NEW", lambda: refresh_source(str(src), home, cfg, encode_cfg=enc, backend="local"),
                  counter, rows, n)
    new_rows = rows_now()
    measure("no-op refresh", lambda: refresh_source(str(src), home, cfg, encode_cfg=enc, backend="local"), counter, rows, n)
    measure("catalog stats", lambda: catalog_main(["stats", "--catalog", catalog]), counter, rows, n)
    measure("catalog check", lambda: catalog_main(["check", "--catalog", catalog]), counter, rows, n)
    measure("catalog sql x4", lambda: [catalog_main(["sql", s, "--catalog", catalog]) for s in SQL], counter, rows, n)
    same = {k: (getattr(old, k), getattr(new, k)) for k in ("new_samples", "removed", "superseded")}
    return {"changed": changed, "old": old, "new": new, "same": same, "rows": (len(old_rows), len(new_rows)),
            "rows_differ": len(old_rows ^ new_rows)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--small", type=int, default=200)
    p.add_argument("--large", type=int, default=2000)
    p.add_argument("--text", default="phone", help="text encoder (phone: no model; minilm as `lumina encode`)")
    p.add_argument("--out", help="work folder (default: a temporary one, removed after)")
    a = p.parse_args()
    for k, v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE"}.items():
        os.environ.setdefault(k, v)
    out = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="bench_scale-"))
    out.mkdir(parents=True, exist_ok=True)
    counter, rows, runs = Counted(), {}, {}
    try:
        for n in (a.small, a.large):
            runs[n] = run_size(n, out, a.text, counter, rows)
    finally:
        if not a.out:
            shutil.rmtree(out, ignore_errors=True)
    s, l = a.small, a.large
    print(f"\n{l}/{s} inputs (x{l / s:g}); wall s, CPU s (this process), inputs analysed; ratio = {l} / {s} of CPU")
    print(f"{'step':20s}{'wall ' + str(s):>10s}{'cpu ' + str(s):>10s}{'in':>6s}{'wall ' + str(l):>11s}"
          f"{'cpu ' + str(l):>10s}{'in':>7s}{'ratio':>8s}")
    for label, by in rows.items():
        (ws, cs, ns), (wl, cl, nl) = by[s], by[l]
        print(f"{label:20s}{ws:10.2f}{cs:10.2f}{ns:6d}{wl:11.2f}{cl:10.2f}{nl:7d}{cl / max(cs, 1e-3):8.1f}")
    for n, r in runs.items():
        o, w = rows["first refresh OLD"][n], rows["first refresh NEW"][n]
        print(f"first refresh at {n} after ~{r['changed']} inputs changed: OLD {o[0]:.1f} s wall {o[1]:.1f} s CPU "
              f"{o[2]} analysed, NEW {w[0]:.1f} s wall {w[1]:.1f} s CPU {w[2]} analysed (x{o[1] / max(w[1], 1e-3):.1f} CPU); "
              f"new_samples/removed/superseded OLD vs NEW: {r['same']}; catalog rows (key, file, status, reason) "
              f"OLD/NEW {r['rows'][0]}/{r['rows'][1]}, {r['rows_differ']} differ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
