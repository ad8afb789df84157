"""Image-text curation as pure functions: analyse one file, deduplicate a set, write one shard.

Reasons start with a machine-readable kind before the first colon (``min_size: ...``,
``decode_error: ...``), so drop reasons group in SQL with ``split_part(reason, ':', 1)``.

Every input ends as exactly one ``SampleRecord``: accepted, rejected (with the filter and its
score) or quarantined (with the error; the file is copied to the quarantine folder). Filters record
a ``VerdictRecord`` per sample, so "why was this dropped?" is one query in the catalog.
"""

from __future__ import annotations

import io
import shutil
import traceback
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from catalog.records import Batch, SampleRecord, VerdictRecord
from preprocess.keys import sample_key, split_of
from preprocess.shards import write_tar

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
FILTER_VERSION = "1"


@dataclass(frozen=True)
class CurateConfig:
    min_side: int = 24  # pixels; smaller images cannot be cropped to out_size without upsampling mush
    max_aspect: float = 2.5  # long side / short side
    # Near duplicates: a 256-bit pHash within this Hamming distance AND a mean colour (4x4 grid)
    # within colour_max_diff. pHash alone is greyscale: a red and a blue circle would collide.
    # Measured on the demo corpus: distinct images are >= 20 bits apart, a brightened copy is 4.
    phash_max_distance: int = 12
    colour_max_diff: float = 12.0  # mean absolute difference, 0..255
    out_size: int = 32  # resize the shorter side to this, then centre-crop a square
    shard_size: int = 512  # samples per curated shard
    holdout_percent: int = 20


@dataclass
class Candidate:
    """One input after analysis: its record, its verdicts, and what dedup needs."""

    record: SampleRecord
    verdicts: list[VerdictRecord] = field(default_factory=list)
    phash: int | None = None  # 256-bit perceptual hash; None unless the image decoded
    colour: list[float] | None = None  # 4x4x3 mean colours


def discover(root: str | Path) -> list[Path]:
    """Every image file under root, in a stable order."""
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


PHASH_BITS = 256
PHASH_BANDS = 16  # 16 bands of 16 bits: two hashes within distance < 16 share a band (pigeonhole)


def perceptual_hash(img: Image.Image) -> int:
    """DCT pHash: 256 bits, robust to small brightness and resampling changes."""
    import imagehash

    bits = imagehash.phash(img.convert("L"), hash_size=16).hash.flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def colour_signature(img: Image.Image) -> list[float]:
    return np.asarray(img.convert("RGB").resize((4, 4), Image.BOX), dtype=np.float32).flatten().tolist()


def analyse_file(path: str | Path, cfg: CurateConfig, quarantine_dir: str | Path | None = None) -> Candidate:
    """Decode and validate one image+caption pair. Never raises: errors become quarantine records."""
    path = Path(path)
    uri = str(path.resolve())
    try:
        image_bytes = path.read_bytes()
    except OSError as e:  # unreadable file: nothing to hash, key the path instead
        return _quarantine(sample_key("unreadable", uri), uri, None, f"unreadable: {e}", [path], quarantine_dir)
    caption_path = path.with_suffix(".txt")
    caption_bytes = caption_path.read_bytes() if caption_path.exists() else None
    key = sample_key(image_bytes, caption_bytes or b"")
    if caption_bytes is None:
        return _quarantine(key, uri, None, f"missing_caption: no caption file {caption_path.name}", [path], quarantine_dir)
    try:
        caption = caption_bytes.decode("utf-8")
    except UnicodeDecodeError as e:
        return _quarantine(key, uri, None, f"caption_not_utf8: {e}", [path, caption_path], quarantine_dir)
    caption = " ".join(caption.split())
    try:
        with Image.open(io.BytesIO(image_bytes)) as probe:
            probe.verify()  # catches truncation and bad checksums before a full decode
        img = Image.open(io.BytesIO(image_bytes))
        img.load()
    except Exception as e:  # PIL raises many types for corrupt data
        return _quarantine(key, uri, caption, f"decode_error: {type(e).__name__}: {e}", [path, caption_path], quarantine_dir)

    w, h = img.size
    verdicts = [
        VerdictRecord(key, "caption_present", FILTER_VERSION, float(len(caption)), 1.0, len(caption) >= 1),
        VerdictRecord(key, "min_size", FILTER_VERSION, float(min(w, h)), float(cfg.min_side), min(w, h) >= cfg.min_side),
        VerdictRecord(key, "aspect_ratio", FILTER_VERSION, max(w, h) / min(w, h), cfg.max_aspect, max(w, h) / min(w, h) <= cfg.max_aspect),
    ]
    failed = [v for v in verdicts if not v.passed]
    status, reason = "accepted", None
    if failed:
        v = failed[0]
        status, reason = "rejected", f"{v.filter}: score {v.score:g} vs threshold {v.threshold:g}"
    record = SampleRecord(
        key=key, modality="image", source_uri=uri, status=status, reason=reason, caption=caption,
        width=w, height=h, frames=1, split=split_of(key, cfg.holdout_percent),
        meta={"source_dir": path.parent.name, "mode": img.mode},
    )
    return Candidate(record, verdicts, perceptual_hash(img), colour_signature(img))


def _quarantine(key, uri, caption, error, files, quarantine_dir) -> Candidate:
    if quarantine_dir is not None:
        dest = Path(quarantine_dir) / key
        dest.mkdir(parents=True, exist_ok=True)
        for f in files:
            if Path(f).exists():
                shutil.copy2(f, dest / Path(f).name)
        (dest / "error.txt").write_text(error + "\n")
    record = SampleRecord(key=key, modality="image", source_uri=uri, status="quarantined", reason=error, caption=caption, split=split_of(key))
    return Candidate(record)


def deduplicate(cands: list[Candidate], cfg: CurateConfig) -> list[Candidate]:
    """Exact duplicates (same key) and near duplicates (pHash within cfg.phash_max_distance).

    The first input in source order wins. An exact duplicate cannot keep the shared content key
    (one row per key), so it gets a key derived from the original's key and its own path: still
    deterministic, and still findable by source_uri. Near-duplicate search uses banded LSH
    (PHASH_BANDS bands), so it stays near-linear in the number of inputs.
    """
    cands = sorted(cands, key=lambda c: c.record.source_uri)
    out: list[Candidate] = []
    seen: dict[str, str] = {}
    for c in cands:
        k = c.record.key
        if k in seen:
            dup_key = sample_key(k, "exact-duplicate-of", c.record.source_uri)
            rec = replace(c.record, key=dup_key, status="rejected", reason=f"exact_duplicate: same content as {k} ({seen[k]})")
            verdicts = [replace(v, key=dup_key) for v in c.verdicts]
            verdicts.append(VerdictRecord(dup_key, "exact_dedup", FILTER_VERSION, 1.0, 1.0, False))
            out.append(Candidate(rec, verdicts))
            continue
        seen[k] = c.record.source_uri
        out.append(c)

    if cfg.phash_max_distance >= PHASH_BANDS:
        raise ValueError(f"phash_max_distance must be < {PHASH_BANDS} for the banded search to find every pair")
    width = PHASH_BITS // PHASH_BANDS
    buckets: dict[tuple[int, int], list[Candidate]] = defaultdict(list)
    for c in out:
        if c.record.status != "accepted" or c.phash is None:
            continue
        bands = [(b, (c.phash >> (width * b)) & ((1 << width) - 1)) for b in range(PHASH_BANDS)]
        best, best_dist = None, PHASH_BITS
        colour = np.asarray(c.colour)
        for band in bands:
            for other in buckets[band]:
                d = (c.phash ^ other.phash).bit_count()
                if d < best_dist and np.abs(colour - np.asarray(other.colour)).mean() <= cfg.colour_max_diff:
                    best, best_dist = other, d
        # score: Hamming distance to the nearest earlier image that shares a band and a similar
        # colour; PHASH_BITS when there is none (nothing near it at all)
        passed = best_dist > cfg.phash_max_distance
        c.verdicts.append(VerdictRecord(c.record.key, "phash_dedup", FILTER_VERSION, float(best_dist), float(cfg.phash_max_distance), passed))
        if not passed:
            c.record = replace(c.record, status="rejected", reason=f"phash_dedup: near duplicate of {best.record.key} (Hamming distance {best_dist})")
            continue
        for band in bands:
            buckets[band].append(c)
    return out


def normalise_image(img: Image.Image, out_size: int) -> Image.Image:
    """RGB, shorter side to out_size, centre crop to a square."""
    img = img.convert("RGB")
    w, h = img.size
    s = out_size / min(w, h)
    nw, nh = max(out_size, round(w * s)), max(out_size, round(h * s))
    img = img.resize((nw, nh), Image.BICUBIC)
    left, top = (nw - out_size) // 2, (nh - out_size) // 2
    return img.crop((left, top, left + out_size, top + out_size))


def write_curated_shard(cands: list[Candidate], out_dir: str | Path, cfg: CurateConfig) -> Batch:
    """Write the accepted candidates to one webdataset shard plus its batch file.

    The shard's name is a hash of its members' keys, so re-running writes the same file.
    """
    accepted = sorted((c for c in cands if c.record.status == "accepted"), key=lambda c: c.record.key)
    if not accepted:
        raise ValueError("a curated shard needs at least one accepted sample")
    members: list[tuple[str, bytes]] = []
    for c in accepted:
        img = normalise_image(Image.open(c.record.source_uri), cfg.out_size)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        members.append((f"{c.record.key}.png", buf.getvalue()))
        members.append((f"{c.record.key}.txt", (c.record.caption or "").encode("utf-8")))
    name = "curated-" + sample_key(*(c.record.key for c in accepted))[:16] + ".tar"
    shard = write_tar(Path(out_dir) / name, members, stage="curated", num_samples=len(accepted))
    batch = Batch(shard=shard, samples=[c.record for c in accepted], verdicts=[v for c in accepted for v in c.verdicts])
    batch.write(Batch.path_beside(shard.uri))
    return batch


def write_rejections(cands: list[Candidate], out_path: str | Path) -> Batch:
    """The batch of every input that did not make it into a shard (no shard of its own)."""
    dropped = [c for c in cands if c.record.status != "accepted"]
    batch = Batch(shard=None, samples=[c.record for c in dropped], verdicts=[v for c in dropped for v in c.verdicts])
    batch.write(out_path)
    return batch


def chunk(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def safe_analyse(path, cfg, quarantine_dir) -> Candidate:
    """analyse_file with a last line of defence: an unexpected bug quarantines, never crashes the run."""
    try:
        return analyse_file(path, cfg, quarantine_dir)
    except Exception as e:  # noqa: BLE001 - the run must go on; the traceback is kept in the reason
        uri = str(Path(path).resolve())
        tb = traceback.format_exception_only(type(e), e)[-1].strip()
        return _quarantine(sample_key("analysis-error", uri), uri, None, f"analysis_error: {tb}", [path], quarantine_dir)
