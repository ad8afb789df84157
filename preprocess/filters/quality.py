"""Technical image quality without weights: sharpness, exposure, contrast, colourfulness, solid colour.

Every score is computed on the image resized so its short side is REFERENCE_SIDE pixels
(area-averaged down, bicubic up), so a 32x32 digit and a 640x427 photo are judged at one scale:
"blurry" means blurry as a thumbnail, which is the blur a generator learns from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from contracts.config import check_ranges

REFERENCE_SIDE = 64
QUALITY_VERSION = "1"


def _at_reference_scale(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[H, W, 3] uint8 -> (luma [h, w] in [0, 1], RGB [h, w, 3] in 0..255), short side REFERENCE_SIDE."""
    img = Image.fromarray(np.asarray(rgb, dtype=np.uint8)).convert("RGB")
    s = REFERENCE_SIDE / min(img.size)
    size = (max(1, round(img.size[0] * s)), max(1, round(img.size[1] * s)))
    img = img.resize(size, Image.BOX if s < 1 else Image.BICUBIC, reducing_gap=None if s >= 1 else 3.0)  # big photos: integer reduce first
    return np.asarray(img.convert("L"), dtype=np.float32) / 255.0, np.asarray(img, dtype=np.float32)


def technical_quality(rgb: np.ndarray, opaque: np.ndarray | None = None) -> dict[str, float]:
    """[H, W, 3] uint8 -> named scores (see QualityThresholds for what each one gates). ``opaque``
    ([H, W] bool): the pixels drawn on a background (a transparent image's, a render's object);
    the clipping scores count only those (a white backdrop is no burnt-out highlight). The
    solid-colour share stays on the whole canvas: a mostly empty picture is what it catches."""
    from scipy import ndimage

    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=-1)
    grey, colour = _at_reference_scale(rgb)
    drawn = np.ones(grey.shape, bool)
    if opaque is not None:
        mask = Image.fromarray(np.asarray(opaque, np.uint8) * 255).resize(grey.shape[::-1], Image.NEAREST)
        drawn = np.asarray(mask) >= 128
        if not drawn.any():  # nothing drawn at all: judge the canvas as it is
            drawn[:] = True
    lap = ndimage.laplace(grey, mode="reflect")
    # Hasler & Suesstrunk (2003) colourfulness on the 0..255 scale
    r, g, b = colour[..., 0], colour[..., 1], colour[..., 2]
    rg, yb = r - g, 0.5 * (r + g) - b
    colourfulness = float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
    # solid colour: the share of pixels within 8 levels (per channel) of the most common coarse colour
    pixels = colour.reshape(-1, 3)
    q = np.clip(pixels, 0, 255).astype(np.int32) // 16
    codes = q[:, 0] * 256 + q[:, 1] * 16 + q[:, 2]
    dominant = pixels[codes == np.bincount(codes).argmax()].mean(0)
    solid = float((np.abs(pixels - dominant).max(1) <= 8).mean())
    return {
        "sharpness": float(lap.var() * 1000.0),  # variance of the Laplacian, x1000 for readable numbers
        "highlight_clip": float((grey[drawn] >= 250 / 255).mean()),
        "shadow_clip": float((grey[drawn] <= 5 / 255).mean()),
        "contrast": float(grey.std()),  # RMS contrast
        "brightness": float(grey.mean()),
        "colourfulness": colourfulness,
        "solid_fraction": solid,
    }


@dataclass(frozen=True)
class QualityThresholds:
    """Calibrated on the demo corpus (scores at REFERENCE_SIDE; see encoders/README.md for the table).

    Real digits are 8x8 upscaled to 32x32, blurry by nature (sharpness 0.13..0.59 over all 1,797),
    greyscale and on black; drawn shapes are sharp (>= 1.0) but mostly black background (solid up
    to 0.93, shadows up to 0.93). The planted blurry circle's sharpness is 0.037, the washed-out
    circle's contrast 0.036, the blank's solid fraction 1.0. Thresholds sit between, with margin.
    """

    max_solid_fraction: float = 0.97  # solid_colour: blank or almost blank frames
    min_contrast: float = 0.05  # contrast (RMS of luma): washed-out, faded, foggy
    min_sharpness: float = 0.07  # sharpness (variance of the Laplacian x1000): heavy blur
    max_highlight_clip: float = 0.3  # highlight_clip: overexposed, burnt-out whites
    max_shadow_clip: float = 0.97  # shadow_clip: an all but black frame (the demo's backgrounds are black)
    min_colourfulness: float = 0.0  # colourfulness: off by default (digits are greyscale); ~15 for colour-only corpora

    def __post_init__(self) -> None:
        # shares of pixels: 1 (0 for the minimums) already lets every image through; an infinite minimum lets none
        check_ranges(self, max_solid_fraction="0..1", min_contrast=">= 0 and finite", min_sharpness=">= 0 and finite", max_highlight_clip="0..1",
                     max_shadow_clip="0..1", min_colourfulness=">= 0 and finite")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


# filter name -> (score name, threshold field, "min" or "max"); checked in this order, so a blank
# image is rejected as solid_colour (it also has no contrast and no sharpness).
QUALITY_FILTERS: dict[str, tuple[str, str, str]] = {
    "solid_colour": ("solid_fraction", "max_solid_fraction", "max"),
    "contrast": ("contrast", "min_contrast", "min"),
    "sharpness": ("sharpness", "min_sharpness", "min"),
    "highlight_clip": ("highlight_clip", "max_highlight_clip", "max"),
    "shadow_clip": ("shadow_clip", "max_shadow_clip", "max"),
    "colourfulness": ("colourfulness", "min_colourfulness", "min"),
}


def quality_verdicts(key: str, scores: dict[str, float], th: QualityThresholds | None = None) -> list:
    """One VerdictRecord per named filter, with its score and threshold, in QUALITY_FILTERS order."""
    from contracts.records import VerdictRecord

    th = th or QualityThresholds()
    out = []
    for name, (score_name, field, kind) in QUALITY_FILTERS.items():
        score, limit = float(scores[score_name]), float(getattr(th, field))
        passed = score >= limit if kind == "min" else score <= limit
        out.append(VerdictRecord(key, name, QUALITY_VERSION, score, limit, passed))
    return out


def rejection_reason(verdicts: list) -> str | None:
    """'sharpness: 0.03742 < 0.07' for the first failed quality filter (reason kind before the colon), else None."""
    for v in verdicts:
        if not v.passed:
            kind = QUALITY_FILTERS.get(v.filter, (None, None, "min"))[2]
            return f"{v.filter}: {v.score:.4g} {'<' if kind == 'min' else '>'} {v.threshold:.4g}"
    return None


def frames_quality(frames: np.ndarray | list[np.ndarray], every: int = 1) -> dict[str, float]:
    """Video / multi-view: technical_quality of each frame (or every n-th), then the median per score.

    The median, not the worst frame: a clip with one fade-to-black frame is not blank, and a clip
    whose frames are mostly blurry is blurry.
    """
    scores = [technical_quality(f) for f in list(frames)[::every]]
    if not scores:
        raise ValueError("no frames to score")
    return {k: float(np.median([s[k] for s in scores])) for k in scores[0]}
