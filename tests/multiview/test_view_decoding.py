"""Views decode as images do (preprocess/image/decode.py): a transparent RGBA render, a 16-bit
greyscale render and an EXIF-rotated JPEG curate like their opaque, 8-bit, upright twins (same
status and reason, nearly the same pixels). Before, transparency went on black (3 of 6 transparent
sets rejected as low contrast), 16-bit grey came out almost all white (rejected as distinct_views)
and sideways JPEGs were accepted sideways."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from preprocess.multiview.group import group_multiview
from preprocess.multiview.plugin import MultiviewOptions, MultiviewPlugin, load_views
from preprocess.sources import SourceSpec, list_entries

KEY = "0123456789abcdef"
AZIMUTHS = (10.0, 100.0, 190.0, 280.0)


def rendered_object(azimuth: float, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(RGB [H, W, 3] uint8, alpha [H, W] bool): a shaded, striped ellipse whose width, shading and
    stripe move with the azimuth, so every view differs, as a render of an object would."""
    y, x = np.mgrid[:size, :size].astype(np.float64) - size / 2 + 0.5
    a = math.radians(azimuth)
    inside = (x / (14 + 8 * abs(math.cos(a)))) ** 2 + (y / 22) ** 2 <= 1
    shade = 0.55 + 0.35 * (x * math.cos(a) + y * math.sin(a)) / size
    stripe = np.abs(x - 10 * math.sin(a)) < 2
    rgb = np.stack([shade * 230, shade * 70 + 20 * stripe, shade * 40 + 120 * stripe], -1)
    return np.clip(rgb, 0, 255).astype(np.uint8), inside


def write_set(folder: Path, views: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True)
    cams = [{"file": name, "elevation": 20.0, "azimuth": az, "radius": 2.0} for name, az in zip(views, AZIMUTHS)]
    (folder / "cameras.json").write_text(json.dumps({"convention": "spherical", "views": cams}))
    (folder / "caption.txt").write_text("a red test object")
    for name, data in views.items():
        (folder / name).write_bytes(data)
    return folder


def encoded(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def curated(folder: Path):
    """(status, reason, views in canonical order) of the one sample in ``folder``."""
    inputs, _ = group_multiview(list_entries(SourceSpec(str(folder))))
    (item,) = inputs
    opts = MultiviewOptions()
    rec = MultiviewPlugin().analyse(item, "a red test object", KEY, opts)[0].record
    views = load_views(item, KEY, opts, []).views if rec.status == "accepted" else None
    return rec.status, rec.reason, views


def assert_twins(a: Path, b: Path, max_mean_difference: float) -> None:
    (sa, ra, va), (sb, rb, vb) = curated(a), curated(b)
    assert (sa, ra) == (sb, rb) == ("accepted", None), ((sa, ra), (sb, rb))
    for x, y in zip(va, vb):
        assert x.shape == y.shape and np.abs(x.astype(int) - y.astype(int)).mean() <= max_mean_difference


def test_transparent_views_sit_on_white_like_opaque_renders(tmp_path):
    renders = {f"view_{i}.png": rendered_object(az) for i, az in enumerate(AZIMUTHS)}
    on_white = {n: np.where(m[..., None], rgb, 255).astype(np.uint8) for n, (rgb, m) in renders.items()}
    # Blender and Objaverse renders: RGB 0 under alpha 0
    rgba = {n: np.dstack([np.where(m[..., None], rgb, 0), m * 255]).astype(np.uint8) for n, (rgb, m) in renders.items()}
    opaque = write_set(tmp_path / "opaque", {n: encoded(Image.fromarray(v)) for n, v in on_white.items()})
    transparent = write_set(tmp_path / "rgba", {n: encoded(Image.fromarray(v, "RGBA")) for n, v in rgba.items()})
    assert_twins(opaque, transparent, max_mean_difference=0.0)


def test_sixteen_bit_grey_views_scale_like_eight_bit_grey(tmp_path):
    grey = {f"view_{i}.png": np.asarray(Image.fromarray(np.where(m[..., None], rgb, 255).astype(np.uint8)).convert("L"))
            for i, (rgb, m) in enumerate(map(rendered_object, AZIMUTHS))}
    eight = write_set(tmp_path / "grey8", {n: encoded(Image.fromarray(g)) for n, g in grey.items()})
    sixteen = write_set(tmp_path / "grey16", {n: encoded(Image.fromarray(g.astype(np.uint16) * 257)) for n, g in grey.items()})
    assert Image.open(next(sixteen.glob("*.png"))).mode.startswith("I")  # truly a 16-bit file
    assert_twins(eight, sixteen, max_mean_difference=0.5)


def test_exif_rotated_jpeg_views_are_turned_upright(tmp_path):
    views = {f"view_{i}.jpg": np.where(m[..., None], rgb, 255).astype(np.uint8)
             for i, (rgb, m) in enumerate(map(rendered_object, AZIMUTHS))}
    exif = Image.Exif()
    exif[0x0112] = 8  # stored turned 90 degrees clockwise: a viewer turns it back
    upright = write_set(tmp_path / "upright", {n: encoded(Image.fromarray(v), "JPEG", quality=95) for n, v in views.items()})
    sideways = write_set(tmp_path / "sideways", {n: encoded(Image.fromarray(np.ascontiguousarray(np.rot90(v, -1))), "JPEG",
                                                            quality=95, exif=exif.tobytes()) for n, v in views.items()})
    assert_twins(upright, sideways, max_mean_difference=3.0)  # JPEG blocks fall on other pixels once turned


def test_a_white_object_on_a_transparent_background_is_found_by_its_alpha(tmp_path):
    """On white, a white object has no border colour to differ from: the alpha channel says where it
    is (view_fill and the clipping scores), so compositing on white rejects no white object as blank."""
    renders = [rendered_object(az) for az in AZIMUTHS]
    white = {f"view_{i}.png": np.dstack([np.clip(rgb.astype(int) // 25 + 245, 0, 255), m * 255]).astype(np.uint8)
             for i, (rgb, m) in enumerate(renders)}
    folder = write_set(tmp_path / "white_rgba", {n: encoded(Image.fromarray(v, "RGBA")) for n, v in white.items()})
    (item,), _ = group_multiview(list_entries(SourceSpec(str(folder))))
    cand = MultiviewPlugin().analyse(item, "a white test object", KEY, MultiviewOptions())[0]
    fill = next(v for v in cand.verdicts if v.filter == "view_fill")
    assert fill.passed and fill.score == pytest.approx(min(m.mean() for _, m in renders))
    assert cand.record.reason is None or not cand.record.reason.startswith("view_fill"), cand.record.reason
