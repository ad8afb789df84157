"""The image modality: decode, validate, score, near-dedup and normalise image-text pairs."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from PIL import Image

from contracts.config import check_ranges
from contracts.keys import split_of
from contracts.records import Modality, SampleRecord, VerdictRecord
from preprocess.filters.clip_config import CLIP_FILTER_VERSION, ClipScoring
from preprocess.filters.quality import QUALITY_FILTERS, QUALITY_VERSION, QualityThresholds, quality_verdicts, technical_quality
from preprocess.image.decode import IMAGE_SUFFIXES, ImageRejected, decode_image
from preprocess.image.dedup import FILTER_VERSION as DEDUP_VERSION
from preprocess.image.dedup import PHASH_BANDS, NearSignature, colour_bytes, kept_in_catalog, mark_near_duplicates, perceptual_hash
from preprocess.image.preference import keep_preference
from preprocess.image.resize import fit_to_budget, square
from preprocess.modality import Candidate, ModalityPlugin, error_reason
from preprocess.sources import RawInput

MEDIA = "png"  # the curated shard stores normalised RGB PNGs
FILTER_VERSION = "1"


@dataclass(frozen=True)
class ImageOptions:
    min_side: int = 24  # pixels, of the original
    max_aspect: float = 2.5  # long side / short side
    max_pixels: int = 40_000_000  # checked in the header, before decoding (decompression bombs)
    phash_max_distance: int = 12  # near duplicates: Hamming distance of the 256-bit pHash ...
    colour_max_diff: float = 12.0  # ... and the largest 4x4-cell mean colour difference (0..255)
    resize: str = "fit"  # "fit": keep the aspect ratio within max_tokens; "square": shorter side to size, centre crop
    max_tokens: int = 1024  # fit: latent patch tokens per image (1024 = 512x512 px on an 8x VAE with patch 2)
    patch_size: int = 2
    vae_factor: int = 8  # 8 for SD/SDXL VAEs, 1 for identity (pixel-space) latents
    size: int = 32  # square: the side
    quality: QualityThresholds = field(default_factory=QualityThresholds)  # technical quality (preprocess/filters/quality.py)
    clip: ClipScoring = field(default_factory=ClipScoring)  # CLIP aesthetic and caption similarity: off until clip.path is set

    def __post_init__(self) -> None:
        if isinstance(self.clip, str):  # `options: {clip: /models/clip}`: the path alone
            object.__setattr__(self, "clip", ClipScoring(path=self.clip))
        if not isinstance(self.clip, ClipScoring):
            raise ValueError(f"clip: expected a CLIP path or a mapping (path, aesthetic, thresholds, ...), got {self.clip!r}")
        if self.resize not in ("fit", "square"):
            raise ValueError(f"resize must be 'fit' or 'square', got {self.resize!r}")
        # phash_max_distance: the banded search's limit, refused there only after the whole analysis
        check_ranges(self, min_side=">= 0", max_aspect=">= 1", max_pixels=">= 1", phash_max_distance=f"0..{PHASH_BANDS - 1}",
                     colour_max_diff=">= 0", max_tokens=">= 1", patch_size=">= 1", vae_factor=">= 1", size=">= 1")
        if self.resize == "square" and self.size % self.vae_factor:  # lumina encode refused them, after the whole curation
            down, up = self.size // self.vae_factor * self.vae_factor, -(-self.size // self.vae_factor) * self.vae_factor
            raise ValueError(f"size {self.size} is not a multiple of vae_factor {self.vae_factor}: {self.vae_factor}x VAEs "
                             f"(--latent sd15, sdxl) cannot encode {self.size}x{self.size} images; give {down or up} or {up}, "
                             "or vae_factor 1 (--vae-factor 1) if you will encode with --latent identity")


class ImagePlugin(ModalityPlugin):
    modality = Modality.IMAGE
    media_suffixes = IMAGE_SUFFIXES
    options_cls = ImageOptions
    curate_flags = {
        "max_tokens": "latent patch tokens per image or frame (the token budget), in patches of patch_size x --vae-factor pixels",
        "vae_factor": "pixels per latent of the encoder you will use: 8 for --latent sd15/sdxl, 1 for --latent identity "
                      "(lumina encode's default; with 8 its images have up to 64 times the budget's tokens)",
        "resize": "fit (keep the aspect ratio in the budget) or square (a fixed square)",
    }
    filter_versions = {  # the decoder's refusals with a score, then the analysis, quality, near duplicates, CLIP
        **dict.fromkeys(("too_many_pixels", "multi_page_image", "animated_image", "min_size", "aspect_ratio"), FILTER_VERSION),
        **dict.fromkeys(QUALITY_FILTERS, QUALITY_VERSION),
        "phash_dedup": DEDUP_VERSION,
        **dict.fromkeys(("aesthetic", "clip_similarity"), CLIP_FILTER_VERSION),
    }

    def analyse(self, item: RawInput, caption: str, key: str, opts: ImageOptions) -> list[Candidate]:
        data = item.media["media"].read()
        split = split_of(key)
        base = dict(key=key, modality="image", source_uri=item.uri, caption=caption, split=split)
        try:
            img = decode_image(data, opts.max_pixels)
        except ImageRejected as r:
            status = "quarantined" if r.kind in ("too_many_pixels", "empty_file") else "rejected"  # an empty file: as video and speech
            rec = SampleRecord(status=status, reason=f"{r.kind}: {r.detail}", **base)
            verdicts = [] if r.score is None else [VerdictRecord(key, r.kind, FILTER_VERSION, r.score, r.threshold, False)]
            return [Candidate(rec, verdicts, item)]
        except Exception as e:  # noqa: BLE001 - PIL raises many types for corrupt data
            return [Candidate(SampleRecord(status="quarantined", reason=error_reason("decode_error", e), **base), source=item)]

        w, h = img.size
        quality = technical_quality(np.asarray(img.convert("RGB")), _opaque(img))
        verdicts = [
            VerdictRecord(key, "min_size", FILTER_VERSION, float(min(w, h)), float(opts.min_side), min(w, h) >= opts.min_side),
            VerdictRecord(key, "aspect_ratio", FILTER_VERSION, max(w, h) / min(w, h), opts.max_aspect, max(w, h) / min(w, h) <= opts.max_aspect),
            # blank, washed-out, blurry, clipped: a verdict per named filter, on the decoded original
            *quality_verdicts(key, quality, opts.quality),
        ]
        out = self.normalise(img, opts)
        failed = [v for v in verdicts if not v.passed]
        status, reason = "accepted", None
        if failed:
            v = failed[0]
            status, reason = "rejected", f"{v.filter}: score {v.score:g} vs threshold {v.threshold:g}"
        # an accepted image's size is the curated one; a rejected image was never resized: its own
        width, height = out.size if status == "accepted" else (w, h)
        # interned: one string per folder (in a Ray task's results, one per chunk), not one per image
        meta = {"source_dir": sys.intern(item.name.rsplit("/", 2)[-2]) if "/" in item.name else "", "original_size": [w, h]}
        if opts.resize == "fit":  # the budget was counted for this latent downsampling (encode checks it)
            meta["latent_factor"] = opts.vae_factor
        rec = SampleRecord(status=status, reason=reason, width=width, height=height, frames=1, meta=meta, **base)
        signature = NearSignature(perceptual_hash(img), colour_bytes(img), keep_preference(img, data, quality["sharpness"]))
        return [Candidate(rec, verdicts, item, signature)]

    def scoring_stage(self, opts: ImageOptions):
        if not opts.clip.enabled:
            return None  # the default: no CLIP code is imported or run
        from preprocess.filters.clip_stage import ClipScoreStage

        opts.clip.check_paths()
        return ClipScoreStage(self.modality.value, opts.clip, partial(original_rgb, max_pixels=opts.max_pixels))

    def near_duplicates(self, cands: list[Candidate], opts: ImageOptions, catalog: str | None = None,
                        leaving: frozenset[str] = frozenset()) -> None:
        kept = kept_in_catalog(catalog, self.modality.value, cands, leaving)
        mark_near_duplicates(cands, opts.phash_max_distance, opts.colour_max_diff, kept)

    @staticmethod
    def normalise(img: Image.Image, opts: ImageOptions) -> Image.Image:
        if opts.resize == "square":
            return square(img, opts.size)
        return fit_to_budget(img, opts.max_tokens, opts.patch_size * opts.vae_factor)

    def curated_members(self, cand: Candidate, opts: ImageOptions) -> dict[str, bytes]:
        img = self.normalise(decode_image(cand.source.media["media"].read(), opts.max_pixels), opts)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return {MEDIA: buf.getvalue()}

    def media_array(self, fields: dict[str, bytes]) -> np.ndarray:
        rgb = np.asarray(Image.open(io.BytesIO(fields[MEDIA])).convert("RGB"), dtype=np.float32)
        return (rgb / 127.5 - 1.0).transpose(2, 0, 1)[:, None]  # [3, 1, H, W] in [-1, 1]


def original_rgb(cand: Candidate, max_pixels: int) -> np.ndarray:
    """The decoded original [H, W, 3] uint8, as the quality filters saw it (CLIP crops and resizes it itself)."""
    return np.asarray(decode_image(cand.source.media["media"].read(), max_pixels).convert("RGB"))


def _opaque(img) -> np.ndarray | None:
    """The drawn pixels of an image decoded from one with transparency (decode_image keeps its alpha)."""
    alpha = img.info.get("alpha")
    return None if alpha is None else np.asarray(alpha) >= 128
