"""The embedded image-text corpus of the demo, written as a user's folder would look.

Every image file has a caption ``.txt`` beside it. The corpus holds scikit-learn's digits upscaled to
32x32 with captions that describe what is visible (label, stroke thickness, slant, position),
procedurally drawn coloured shapes, and a handful of planted bad inputs that curation must catch
(broken files and captions, duplicates, wrong sizes, and blurry, washed-out and blank images).
The output is deterministic: the same seed writes the same bytes, so keys are stable across runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from preprocess.digits import load_digit_images

DIGIT_SIZE = 32
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (50, 80, 230),
    "yellow": (235, 210, 40),
    "purple": (150, 60, 200),
    "white": (240, 240, 240),
}
SHAPES = ("circle", "square", "triangle")


@dataclass
class DemoCorpus:
    root: Path
    num_digits: int
    num_shapes: int
    planted: dict[str, str] = field(default_factory=dict)  # kind of bad input -> file name (relative)

    @property
    def num_files(self) -> int:
        return self.num_digits + self.num_shapes + len(self.planted)


def digit_attributes(img: np.ndarray) -> dict[str, str]:
    """Describe what a person sees in a digit: thickness from ink coverage, slant from the
    second moments, position from the centre of mass. img: [H, W] floats in [0, 1]."""
    h, w = img.shape
    mass = img.sum() + 1e-8
    ys, xs = np.mgrid[0:h, 0:w]
    cy, cx = (ys * img).sum() / mass, (xs * img).sum() / mass
    ink = (img > 0.5).mean()
    # Slant: covariance of x against y; ink leaning right going up means negative cov (y grows down).
    cov_xy = ((xs - cx) * (ys - cy) * img).sum() / mass
    var_y = (((ys - cy) ** 2) * img).sum() / mass
    slant = -cov_xy / (var_y + 1e-8)
    thickness = "thin" if ink < 0.22 else "thick" if ink > 0.33 else "medium"
    slant_word = "slanted right" if slant > 0.15 else "slanted left" if slant < -0.15 else "upright"
    dx = (cx - (w - 1) / 2) / w
    position = "left of centre" if dx < -0.04 else "right of centre" if dx > 0.04 else "centred"
    return {"thickness": thickness, "slant": slant_word, "position": position}


def digit_caption(label: int, attrs: dict[str, str]) -> str:
    return (
        f"a handwritten digit {label} ({DIGIT_WORDS[label]}), {attrs['thickness']} strokes, "
        f"{attrs['slant']}, {attrs['position']}"
    )


def _upscale_digit(pixels8: np.ndarray) -> Image.Image:
    img = Image.fromarray((pixels8 / 16.0 * 255).astype(np.uint8), mode="L")
    return img.resize((DIGIT_SIZE, DIGIT_SIZE), Image.BICUBIC)


def _draw_shape(rng: np.random.Generator, size: tuple[int, int]) -> tuple[Image.Image, str]:
    w, h = size
    shape = SHAPES[rng.integers(len(SHAPES))]
    colour = list(COLOURS)[rng.integers(len(COLOURS))]
    big = bool(rng.integers(2))
    r = int(min(w, h) * (0.36 if big else 0.2))
    cx = int(rng.integers(r + 1, w - r - 1))
    cy = int(rng.integers(r + 1, h - r - 1))
    img = Image.new("RGB", (w, h), (0, 0, 0))
    d = ImageDraw.Draw(img)
    fill = COLOURS[colour]
    if shape == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "square":
        d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    else:
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    vert = "top" if cy < h / 3 else "bottom" if cy > 2 * h / 3 else "middle"
    horiz = "left" if cx < w / 3 else "right" if cx > 2 * w / 3 else "centre"
    where = "in the centre" if (vert, horiz) == ("middle", "centre") else f"at the {vert} {horiz}"
    caption = f"a {'large' if big else 'small'} {colour} {shape} on a black background, {where}"
    return img, caption


def _save(img: Image.Image, caption: str | bytes, stem: Path) -> None:
    img.save(stem.with_suffix(".png"), format="PNG", optimize=False)
    data = caption if isinstance(caption, bytes) else caption.encode("utf-8")
    stem.with_suffix(".txt").write_bytes(data)


def write_demo_corpus(root: str | Path, num_digits: int | None = None, num_shapes: int = 300, seed: int = 0) -> DemoCorpus:
    """Write the corpus under ``root`` (idempotent: same arguments, same bytes)."""
    root = Path(root)
    (root / "digits").mkdir(parents=True, exist_ok=True)
    (root / "shapes").mkdir(parents=True, exist_ok=True)
    (root / "planted").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    images, labels = load_digit_images()
    n = len(images) if num_digits is None else min(num_digits, len(images))
    first_digit: tuple[Image.Image, str] | None = None
    for i in range(n):
        img = _upscale_digit(images[i])
        label = int(labels[i])
        caption = digit_caption(label, digit_attributes(np.asarray(img, dtype=np.float32) / 255.0))
        _save(img, caption, root / "digits" / f"digit_{i:05d}")
        if first_digit is None:
            first_digit = (img, caption)

    shape_sizes = [(32, 32), (48, 48), (64, 48), (48, 64), (40, 32)]
    for i in range(num_shapes):
        img, caption = _draw_shape(rng, shape_sizes[i % len(shape_sizes)])
        _save(img, caption, root / "shapes" / f"shape_{i:05d}")

    assert first_digit is not None
    planted = _write_planted(root / "planted", first_digit, rng)
    corpus = DemoCorpus(root=root, num_digits=n, num_shapes=num_shapes, planted=planted)
    (root / "README.json").write_text(json.dumps({"digits": n, "shapes": num_shapes, "planted": planted}, indent=1))
    return corpus


def _write_planted(folder: Path, first_digit: tuple[Image.Image, str], rng: np.random.Generator) -> dict[str, str]:
    """The bad inputs a real corpus always has. Returns kind -> file path relative to the corpus root."""
    img, caption = first_digit
    planted = {}

    # A corrupt image: a PNG cut off half-way.
    stem = folder / "corrupt"
    img.save(stem.with_suffix(".png"))
    data = stem.with_suffix(".png").read_bytes()
    stem.with_suffix(".png").write_bytes(data[: len(data) // 2])
    stem.with_suffix(".txt").write_text("a handwritten digit that will not decode")
    planted["corrupt_image"] = "planted/corrupt.png"

    # An empty caption.
    other, _ = _draw_shape(rng, (32, 32))
    _save(other, "   \n", folder / "empty_caption")
    planted["empty_caption"] = "planted/empty_caption.png"

    # An exact duplicate of the first digit: same bytes, same caption, another path.
    _save(img, caption, folder / "exact_duplicate")
    planted["exact_duplicate"] = "planted/exact_duplicate.png"

    # A near duplicate: the first digit, a little brighter, with another caption.
    arr = np.asarray(img, dtype=np.int16)
    near = Image.fromarray(np.clip(arr + 6, 0, 255).astype(np.uint8), mode="L")
    _save(near, caption.replace("handwritten", "hand-written"), folder / "near_duplicate")
    planted["near_duplicate"] = "planted/near_duplicate.png"

    # Below the minimum size.
    tiny, tiny_caption = _draw_shape(rng, (12, 12))
    _save(tiny, tiny_caption, folder / "too_small")
    planted["too_small"] = "planted/too_small.png"

    # An extreme aspect ratio (a banner).
    banner, banner_caption = _draw_shape(rng, (128, 24))
    _save(banner, banner_caption, folder / "banner")
    planted["bad_aspect_ratio"] = "planted/banner.png"

    # A caption that is not UTF-8 (Latin-1 bytes).
    other, _ = _draw_shape(rng, (32, 32))
    _save(other, "une forme rouge tr\xe8s jolie".encode("latin-1"), folder / "latin1_caption")
    planted["non_utf8_caption"] = "planted/latin1_caption.png"

    # An image with no caption file at all.
    lonely, _ = _draw_shape(rng, (32, 32))
    lonely.save(folder / "missing_caption.png")
    planted["missing_caption"] = "planted/missing_caption.png"
    planted.update(_write_planted_quality(folder))
    return planted


def _large_circle(colour: tuple[int, int, int], size: int = 48) -> Image.Image:
    img = Image.new("RGB", (size, size))
    ImageDraw.Draw(img).ellipse([8, 8, size - 8, size - 8], fill=colour)
    return img


def _write_planted_quality(folder: Path) -> dict[str, str]:
    """Images that decode and have the right size but are bad to learn from; each is caught by its
    own technical-quality filter (preprocess/filters/quality.py), and only by it."""
    caption = "a large {} circle on a black background, in the centre"
    planted = {}
    # Heavy blur: sharpness ~0.04 against a threshold of 0.07 (the blurriest real digit: 0.13).
    _save(_large_circle(COLOURS["red"]).filter(ImageFilter.GaussianBlur(3)), caption.format("red"), folder / "blurry")
    planted["blurry"] = "planted/blurry.png"
    # Washed out: a white circle faded into light grey, RMS contrast ~0.036 against 0.05.
    faded = np.asarray(_large_circle(COLOURS["white"]), dtype=np.float32) * 0.08 + 190
    _save(Image.fromarray(faded.astype(np.uint8)), caption.format("white"), folder / "washed_out")
    planted["washed_out"] = "planted/washed_out.png"
    # Blank: one flat colour under a caption that promises a shape (scraped data has these).
    _save(Image.new("RGB", (32, 32), (128, 128, 128)), caption.format("blue"), folder / "blank")
    planted["blank"] = "planted/blank.png"
    return planted
