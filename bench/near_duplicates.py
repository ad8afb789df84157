"""Near-duplicate recall: how far re-encoded copies land from their originals under the current
256-bit pHash (preprocess/image/dedup.py perceptual_hash) and under candidate hashes, beside how
near distinct samples of the demo corpora and distinct photos come.

    nice python bench/near_duplicates.py [--digits 1797] [--shapes 900] [--clips 1000]

Positives: image copies of scikit-image photos (full size and 64x48) and of demo pictures (digits,
shapes): JPEG quality 95/75/50/30, a 0.5x downscale then up, a 2% crop; video copies (PyAV,
H.264) of slow pans over the photos (64x64 and 64x48, original CRF 12) and of video-demo clips
(32x32): CRF 18/28/36/40 and a 0.5x downscale (CRF 23). A clip's distance is the largest over its
first/middle/last frames, as preprocess/video/dedup.py compares them.

Negatives: every pair of distinct samples of the image demo corpus (digits, shapes), of the video
demo corpus (clips rendered, not encoded: the encode at CRF 12 moves them little) and of the
photos. "near pairs" counts pairs within the threshold whose colour signatures also match
(colour_max_diff 12, as curation requires both); "rejected" runs the greedy in name order (first
kept, later near ones rejected) as curation does, so a scheme that changes a demo's accepted count
shows here; "closest colour-matched pairs" lists the smallest distances of distinct pairs whose
colours match (the zeros: the 6 shapes the demo draws twice, rejected today). RULES combine two
distances. --shape-seed draws the demo's shapes with another seed: how much margin seed 0 has.

Measured 2026-12-07 (29 s on 2 shared cores): no candidate that keeps the stored hash is both
better and safe. The 8x8 low-frequency corner (and imagehash's 64-bit pHash) find 63-99% of the
video copies but at distance <= 4 already reject 18 more distinct image-demo samples (shapes a
pixel or a canvas size apart) and 9 video-demo clips (other digits moving the same way); the blurred / 32 px pHash gain nothing; dhash and whash are worse. Only a
wider bound on the whole 256-bit hash helps (<= 24: video pans 33% -> 69%, demo clips 40% -> 75%,
64x48 photos 61% -> 81%; the low-corner gate adds nothing to it) with the image demo's rejections
unchanged at seed 0, but 4 bits from its nearest distinct colour-matched pair (28); with shape
seed 1 it rejects 2 more (same-caption shapes 1 px apart: 16 and 18 bits); CRF 40 copies stay
missed (median 34-41 bits, up to 100), and the banded search is exact below 16 only.
"""

from __future__ import annotations

import argparse
import io
import time
import warnings

import numpy as np
from PIL import Image, ImageFilter

warnings.filterwarnings("ignore")

PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "rocket", "coins", "moon", "page", "text", "clock",
          "hubble_deep_field", "immunohistochemistry", "brick", "grass", "gravel", "colorwheel", "cell", "retina")
COLOUR_MAX_DIFF = 12.0


# ---- hashes: each maps a picture to a flat bool array ---------------------------------------------

def _phash_bits(img: Image.Image, size: int = 16, factor: int = 4) -> np.ndarray:
    import imagehash

    return imagehash.phash(img.convert("L"), hash_size=size, highfreq_factor=factor).hash


def current(img):  # the stored hash: preprocess/image/dedup.py perceptual_hash
    return _phash_bits(img).flatten()


def low64(img):  # the 8x8 low-frequency corner of the stored 16x16 sign grid: derived from the stored hash
    return _phash_bits(img)[:8, :8].flatten()


def low144(img):  # the 12x12 corner of the stored grid
    return _phash_bits(img)[:12, :12].flatten()


def blurred(img):  # the 256-bit pHash of the 64x64 picture blurred (radius 1)
    small = img.convert("L").resize((64, 64), Image.LANCZOS).filter(ImageFilter.GaussianBlur(1))
    return _phash_bits(small).flatten()


def at32(img):  # the 256-bit pHash computed on a 32x32 picture (highfreq_factor 2)
    return _phash_bits(img, 16, 2).flatten()


def phash64(img):  # imagehash's default pHash: 8x8 of a 32x32 picture
    return _phash_bits(img, 8, 4).flatten()


def dhash256(img):
    import imagehash

    return imagehash.dhash(img.convert("L"), hash_size=16).hash.flatten()


def whash256(img):
    import imagehash

    return imagehash.whash(img.convert("L"), hash_size=16).hash.flatten()


# Two tests on the stored hash: the current one, or the low-frequency corner close AND the whole hash
# within a wider bound. name -> near(d256, d_low64), on arrays of distances.
RULES = {f"d256<=12 or (low64<={a} and d256<={c})": (lambda a, c: lambda d, low: (d <= 12) | ((low <= a) & (d <= c)))(a, c)
         for a, c in ((4, 20), (6, 20), (6, 24), (6, 28), (8, 24))}
RULES.update({f"d256<={c} alone (needs 8-bit bands)": (lambda c: lambda d, low: d <= c)(c) for c in (20, 24)})

# name -> (hash, thresholds reported)
SCHEMES = {
    "phash256 (current)": (current, (10, 12, 15)),
    "low64 of stored": (low64, (4, 6, 8)),
    "low144 of stored": (low144, (6, 8, 10)),
    "phash256 blurred": (blurred, (10, 12, 15)),
    "phash256 at 32px": (at32, (10, 12, 15)),
    "phash64 (imagehash)": (phash64, (4, 6, 8)),
    "dhash256": (dhash256, (10, 12, 15)),
    "whash256": (whash256, (10, 12, 15)),
}


def colour(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB").resize((4, 4), Image.BOX), dtype=np.float32).reshape(16, 3)


def hamming(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.count_nonzero(a != b))


# ---- image copies -------------------------------------------------------------------------------

def jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def down_up(img: Image.Image) -> Image.Image:
    w, h = img.size
    return img.resize((max(1, w // 2), max(1, h // 2)), Image.BILINEAR).resize((w, h), Image.BILINEAR)


def crop2(img: Image.Image) -> Image.Image:
    w, h = img.size
    dx, dy = max(1, round(w * 0.02)), max(1, round(h * 0.02))
    return img.crop((dx, dy, w - dx, h - dy))


IMAGE_COPIES = {"jpeg95": lambda i: jpeg(i, 95), "jpeg75": lambda i: jpeg(i, 75), "jpeg50": lambda i: jpeg(i, 50),
                "jpeg30": lambda i: jpeg(i, 30), "down0.5-up": down_up, "crop2%": crop2}


def photos() -> dict[str, Image.Image]:
    from skimage import data

    out = {}
    for name in PHOTOS:
        arr = getattr(data, name)()
        out[name] = Image.fromarray(arr if arr.dtype == np.uint8 else (arr * 255).astype(np.uint8)).convert("RGB")
    return out


def image_demo(num_digits: int, num_shapes: int, seed: int = 0) -> dict[str, Image.Image]:
    """The image demo's digits and shapes, as the demo writes them (write_demo_corpus; seed 0 is the demo's)."""
    from preprocess.image import demo_corpus as dc
    from preprocess.digits import load_digit_images

    images, _ = load_digit_images()
    out = {f"digit_{i:05d}": dc._upscale_digit(images[i]) for i in range(min(num_digits, len(images)))}
    rng = np.random.default_rng(seed)
    sizes = [(32, 32), (48, 48), (64, 48), (48, 64), (40, 32)]
    for i in range(num_shapes):
        out[f"shape_{i:05d}"] = dc._draw_shape(rng, sizes[i % len(sizes)])[0]
    return out


# ---- video copies -------------------------------------------------------------------------------

def encode_decode(frames: np.ndarray, crf: int) -> np.ndarray:
    """[T, H, W, 3] uint8 -> H.264 MP4 at crf (one thread, as the demos write) -> decoded frames."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        s = out.add_stream("libx264", rate=8)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.options = {"crf": str(crf), "preset": "veryfast", "x264-params": "threads=1:lookahead-threads=1:rc-lookahead=0"}
        for f in frames:
            out.mux(s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
        out.mux(s.encode())
    buf.seek(0)
    with av.open(buf) as src:
        return np.stack([f.to_ndarray(format="rgb24") for f in src.decode(video=0)])


def keyframes(frames: np.ndarray) -> list[Image.Image]:
    return [Image.fromarray(frames[i]) for i in (0, len(frames) // 2, len(frames) - 1)]


def half(frames: np.ndarray) -> np.ndarray:
    h, w = frames.shape[1] // 2 // 2 * 2, frames.shape[2] // 2 // 2 * 2
    return np.stack([np.asarray(Image.fromarray(f).resize((w, h), Image.BILINEAR)) for f in frames])


VIDEO_COPIES = {"crf18": lambda f: encode_decode(f, 18), "crf28": lambda f: encode_decode(f, 28),
                "crf36": lambda f: encode_decode(f, 36), "crf40": lambda f: encode_decode(f, 40),
                "half crf23": lambda f: encode_decode(half(f), 23)}


def pan(image: Image.Image, w: int, h: int) -> np.ndarray:
    """16 frames, w x h: a slow pan (1 px every 4 frames) over the picture (tests/video/pans.py)."""
    base = np.asarray(image.resize((w + 32, h + 32), Image.LANCZOS).convert("RGB"))
    return np.stack([base[t // 4: t // 4 + h, t // 4: t // 4 + w] for t in range(16)])


def video_demo_frames(n: int) -> dict[str, np.ndarray]:
    """The video demo's clips (preprocess/video/demo_corpus.py, seed 0), rendered as RGB, not encoded."""
    from preprocess.digits import load_digit_images
    from preprocess.video import demo_corpus as vc

    images, _ = load_digit_images()
    rng = np.random.default_rng(0)
    out = {}
    for i in range(min(n, len(images) - 2)):
        sprite = vc.digit_sprite(images[i])
        direction = vc.DIRECTIONS[int(rng.integers(4))]
        offset = (vc.CANVAS - vc.DIGIT) // 2 + int(rng.integers(-2, 3))
        grey = vc.render(sprite, vc.path(direction, offset, int(vc.FPS * vc.SECONDS)))
        out[f"clip_{i:05d}"] = np.repeat(grey[..., None], 3, axis=-1)
    return out


# ---- measurements -------------------------------------------------------------------------------

def signatures(pictures: list[Image.Image]) -> dict[str, np.ndarray]:
    """scheme -> [N, bits] bool."""
    return {name: np.stack([fn(p) for p in pictures]) for name, (fn, _) in SCHEMES.items()}


def pair_distances(bits: np.ndarray) -> np.ndarray:
    """[N, bits] bool -> [N, N] Hamming distances (the diagonal: a large number)."""
    packed = np.packbits(bits, axis=1)
    d = np.zeros((len(bits), len(bits)), np.int32)
    for j in range(packed.shape[1]):
        d += np.bitwise_count(packed[:, None, j] ^ packed[None, :, j])
    np.fill_diagonal(d, 10_000)
    return d


def colour_near(colours: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    diff = np.abs(colours[pairs[:, 0]] - colours[pairs[:, 1]]).mean(axis=-1).max(axis=-1)
    return diff <= COLOUR_MAX_DIFF


def greedy_rejected(near_matrix: np.ndarray, colours: np.ndarray) -> int:
    """Samples rejected as near copies of an earlier kept one, in name order (mark_near_duplicates)."""
    kept = np.zeros(len(near_matrix), bool)
    for i in range(len(near_matrix)):
        near = np.flatnonzero(kept[:i] & near_matrix[i, :i])
        kept[i] = not (len(near) and colour_near(colours, np.stack([np.full_like(near, i), near], 1)).any())
    return int((~kept).sum())


def smallest_colour_matched(dist: np.ndarray, colours: np.ndarray, count: int = 10) -> str:
    """The `count` smallest distances of pairs whose colour signatures match (as curation compares them)."""
    iu = np.triu_indices(len(dist), 1)
    flat = dist[iu]
    take = min(len(flat) - 1, 20_000)
    nearest = np.argpartition(flat, take)[:take]
    nearest = nearest[np.argsort(flat[nearest], kind="stable")]
    pairs = np.stack([iu[0][nearest], iu[1][nearest]], 1)
    flat_near = flat[nearest]
    matched = flat_near[colour_near(colours, pairs) & (flat_near < 10_000)][:count]  # 10_000: no pair (a copy of one picture)
    return ",".join(str(int(x)) for x in matched)


def negatives(label: str, sigs: dict[str, np.ndarray], colours: np.ndarray, frames_of: int = 1,
              groups: np.ndarray | None = None) -> dict:
    """Per scheme: nearest distinct pair, near pairs (hash and colour) and greedy rejections per threshold.
    frames_of 3: each sample's signature is 3 keyframes side by side; distance = the largest."""
    out, matrices = {}, {}
    for name, bits in sigs.items():
        parts = np.split(bits, frames_of, axis=1)
        dist = np.max([pair_distances(p) for p in parts], axis=0)
        if groups is not None:  # copies of one picture are no negatives
            dist[groups[:, None] == groups[None, :]] = 10_000
        nearest = dist.min(axis=1)
        row = {"nearest min": int(nearest.min()), "nearest median": int(np.median(nearest)),
               "closest colour-matched pairs": smallest_colour_matched(dist, colours)}
        for t in SCHEMES[name][1]:
            pairs = np.argwhere(np.triu(dist <= t, 1))
            row[f"pairs<={t}"] = int(colour_near(colours, pairs).sum()) if len(pairs) else 0
            row[f"rejected<={t}"] = greedy_rejected(dist <= t, colours) if len(pairs) else 0
        out[name] = row
        matrices[name] = dist
    for name, rule in RULES.items():
        near = rule(matrices["phash256 (current)"], matrices["low64 of stored"])
        pairs = np.argwhere(np.triu(near, 1))
        out[name] = {"pairs": int(colour_near(colours, pairs).sum()) if len(pairs) else 0,
                     "rejected": greedy_rejected(near, colours) if len(pairs) else 0}
    return {label: out}


def positives(originals: dict[str, list[Image.Image]], copies: dict[str, dict[str, list[Image.Image]]]) -> dict:
    """Per scheme: copy distances (the largest over keyframes) per kind of copy."""
    out: dict[str, dict[str, list[int]]] = {}
    for name, (fn, _) in SCHEMES.items():
        per_kind: dict[str, list[int]] = {}
        for key, views in originals.items():
            ref = [fn(v) for v in views]
            for kind, copy_views in copies[key].items():
                per_kind.setdefault(kind, []).append(max(hamming(r, fn(c)) for r, c in zip(ref, copy_views)))
        out[name] = per_kind
    return out


def print_positives(title: str, pos: dict) -> None:
    print(f"\n== positives: {title} (distance to the original: min/median/max; recall at each threshold)")
    for name, per_kind in pos.items():
        thresholds = SCHEMES[name][1]
        cells = []
        for kind, ds in per_kind.items():
            cells.append(f"{kind} {min(ds)}/{int(np.median(ds))}/{max(ds)}")
        every = [d for ds in per_kind.values() for d in ds]
        recall = "  ".join(f"<={t}: {np.mean(np.array(every) <= t):4.0%}" for t in thresholds)
        print(f"{name:22s} n={len(every):4d}  {recall}\n    " + "; ".join(cells))
    d = np.array([x for ds in pos["phash256 (current)"].values() for x in ds])
    low = np.array([x for ds in pos["low64 of stored"].values() for x in ds])
    for name, rule in RULES.items():
        print(f"{name:40s} recall {np.mean(rule(d, low)):4.0%}")


def print_negatives(neg: dict) -> None:
    for label, per_scheme in neg.items():
        print(f"\n== negatives: {label} (nearest distinct sample min/median; near pairs with matching colour; "
              "greedy rejections)")
        for name, row in per_scheme.items():
            print(f"{name:{22 if name in SCHEMES else 40}s} " + "  ".join(f"{k} {v}" for k, v in row.items()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--digits", type=int, default=1797)
    ap.add_argument("--shapes", type=int, default=900)
    ap.add_argument("--clips", type=int, default=1000)
    ap.add_argument("--shape-seed", type=int, default=0, help="the image demo's shapes of another seed (the demo: 0)")
    ap.add_argument("--demo-copies", type=int, default=40, help="demo pictures / clips re-encoded as positives")
    args = ap.parse_args()
    t0 = time.perf_counter()

    pics = photos()
    small = {k: v.resize((64, 48), Image.LANCZOS) for k, v in pics.items()}
    demo = image_demo(args.digits, args.shapes, args.shape_seed)

    # image positives
    for title, originals in (("photos, full size", pics), ("photos at 64x48", small)):
        copies = {k: {kind: [fn(v)] for kind, fn in IMAGE_COPIES.items()} for k, v in originals.items()}
        print_positives(title, positives({k: [v] for k, v in originals.items()}, copies))
    step = max(1, len(demo) // args.demo_copies)
    some = {k: demo[k] for k in list(demo)[::step]}
    copies = {k: {kind: [fn(v)] for kind, fn in IMAGE_COPIES.items()} for k, v in some.items()}
    print_positives(f"image demo pictures ({len(some)} digits and shapes)", positives({k: [v] for k, v in some.items()}, copies))

    # video positives: the original is the CRF 12 encode, as the demos and tests/video/pans.py write them
    for w, h in ((64, 64), (64, 48)):
        originals, copies = {}, {}
        for k, v in pics.items():
            raw = pan(v, w, h)
            originals[k] = keyframes(encode_decode(raw, 12))
            copies[k] = {kind: keyframes(fn(raw)) for kind, fn in VIDEO_COPIES.items()}
        print_positives(f"video pans {w}x{h} (CRF 12 original)", positives(originals, copies))
    clips = video_demo_frames(args.clips)
    step = max(1, len(clips) // args.demo_copies)
    originals, copies = {}, {}
    for k in list(clips)[::step]:
        originals[k] = keyframes(encode_decode(clips[k], 12))
        copies[k] = {kind: keyframes(fn(clips[k])) for kind, fn in VIDEO_COPIES.items()}
    print_positives(f"video demo clips ({len(originals)}, CRF 12 original)", positives(originals, copies))

    # negatives
    neg = {}
    names = list(demo)
    demo_pics = [demo[k] for k in names]
    neg.update(negatives(f"image demo ({len(names)} digits and shapes, shape seed {args.shape_seed})", signatures(demo_pics),
                         np.stack([colour(p) for p in demo_pics])))
    all_photos = list(pics.values()) + list(small.values())
    neg.update(negatives(f"photos ({len(pics)} at full size and at 64x48; a photo's two sizes are no pair)",
                         signatures(all_photos), np.stack([colour(p) for p in all_photos]), groups=np.arange(len(all_photos)) % len(pics)))
    clip_names = list(clips)
    frames = [keyframes(clips[k]) for k in clip_names]
    sigs = {name: np.concatenate([np.stack([fn(f[i]) for f in frames]) for i in range(3)], axis=1)
            for name, (fn, _) in SCHEMES.items()}
    neg.update(negatives(f"video demo ({len(clip_names)} clips, 3 keyframes)", sigs,
                         np.stack([colour(f[1]) for f in frames]), frames_of=3))
    print_negatives(neg)
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
