"""Hostile and awkward inputs: each one ends accepted (decoded right), rejected or quarantined with
a deterministic reason, and none hangs, floods memory or leaks a file from outside the source."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from contracts.records import Batch
from contracts.shards import iter_samples
from preprocess.curate import CurateConfig, curate


# these are decoding tests: flat test colours must not trip the quality filters
NO_QUALITY = {"max_solid_fraction": 1.0, "min_contrast": 0.0, "min_sharpness": 0.0, "max_highlight_clip": 1.0,
              "max_shadow_clip": 1.0, "min_colourfulness": 0.0}


def _curate(folder: Path, home: Path, **options):
    result = curate(str(folder), home, CurateConfig(options={"quality": NO_QUALITY, **options}), backend="local")
    samples = {Path(s.source_uri).name: s for p in result.batch_paths for s in Batch.read(p).samples}
    members = {k: f for uri in result.shard_uris for k, f in iter_samples(uri)}
    return samples, members


def _pixels(members, sample) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(members[sample.key]["png"])))


def _caption(path: Path, text: str = "a test image with a caption") -> None:
    path.with_suffix(".txt").write_text(text)


@pytest.fixture()
def folder(tmp_path) -> Path:
    f = tmp_path / "src"
    f.mkdir()
    return f


def test_decoding_edge_cases_come_out_right(folder, tmp_path):
    # EXIF orientation 6 (rotate 90 CW to view): stored 64 wide x 32 high, seen 32 wide x 64 high
    img = Image.new("RGB", (64, 32), (200, 30, 30))
    img.paste((30, 30, 200), (0, 0, 32, 32))  # left half blue as stored
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(folder / "rotated.jpg", exif=exif.tobytes(), quality=95)
    _caption(folder / "rotated.jpg")
    # 16-bit greyscale at half range: must come out mid-grey, not white
    Image.fromarray(np.full((32, 32), 32768, np.uint16)).save(folder / "sixteen.png")
    _caption(folder / "sixteen.png")
    # a palette PNG with a transparent index: transparent pixels become the white background
    pal = Image.new("P", (32, 32), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.paste(1, (0, 0, 16, 32))
    pal.save(folder / "palette.png", transparency=0)
    _caption(folder / "palette.png")
    # CMYK JPEG
    Image.new("CMYK", (32, 32), (0, 255, 255, 0)).save(folder / "cmyk.jpg")
    _caption(folder / "cmyk.jpg")
    # an animated GIF is video, not an image
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 255, 0))]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    _caption(folder / "anim.gif")
    # a phone JPEG with a gain map after the photo (MPO): the photo is kept, not called animated
    photo = Image.new("RGB", (48, 32), (20, 200, 20))
    photo.save(folder / "gainmap.jpg", "MPO", save_all=True, append_images=[Image.new("RGB", (12, 8), (0, 0, 0))])
    _caption(folder / "gainmap.jpg")
    # a 2-page TIFF is a document, not a clip
    frames[0].save(folder / "pages.tif", save_all=True, append_images=frames[1:])
    _caption(folder / "pages.tif")

    samples, members = _curate(folder, tmp_path / "home", max_tokens=256, vae_factor=1, patch_size=4)
    rot = samples["rotated.jpg"]
    assert rot.status == "accepted" and (rot.width, rot.height) == (32, 64)  # upright
    top = _pixels(members, rot)[:8].reshape(-1, 3).mean(0)
    assert top[2] > 150 and top[0] < 100  # the blue half ends on top after rotating
    grey = _pixels(members, samples["sixteen.png"])
    assert abs(float(grey.mean()) - 128) < 3
    pal_px = _pixels(members, samples["palette.png"])
    assert (pal_px[:, -4:] == 255).all() and (pal_px[:, :4] == [255, 0, 0]).all()
    cmyk = _pixels(members, samples["cmyk.jpg"]).reshape(-1, 3).mean(0)
    assert cmyk[0] > 200 and cmyk[1] < 60 and cmyk[2] < 60  # CMYK (0,255,255,0) is red
    anim = samples["anim.gif"]
    assert anim.status == "rejected" and anim.reason.startswith("animated_image:")
    mpo = samples["gainmap.jpg"]
    assert mpo.status == "accepted" and (mpo.width, mpo.height) == (48, 32)  # the primary image
    assert _pixels(members, mpo).reshape(-1, 3).mean(0)[1] > 150  # green, not the black gain map
    pages = samples["pages.tif"]
    assert pages.status == "rejected" and pages.reason.startswith("multi_page_image: 2 pages")


def test_pixel_bombs_are_refused_from_the_header(folder, tmp_path):
    Image.new("L", (4000, 3000)).save(folder / "huge.png")
    _caption(folder / "huge.png")
    t = time.time()
    samples, _ = _curate(folder, tmp_path / "home", max_pixels=1_000_000)
    huge = samples["huge.png"]
    assert huge.status == "quarantined" and huge.reason.startswith("too_many_pixels: 4000x3000")
    assert time.time() - t < 20


def test_captions_that_could_hang_flood_or_leak(folder, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("the admin password is hunter2")
    for i, name in enumerate(("fifo", "zero", "leak", "long", "ctrl")):
        Image.new("RGB", (32, 32), (40 * i, 100, 100)).save(folder / f"{name}.png")
    os.mkfifo(folder / "fifo.txt")
    (folder / "zero.txt").symlink_to("/dev/zero")
    (folder / "leak.txt").symlink_to(outside)
    (folder / "long.txt").write_text("x" * 20000)
    (folder / "ctrl.txt").write_bytes(b"a caption\x00with\x07control characters")
    t = time.time()
    samples, _ = _curate(folder, tmp_path / "home")
    assert time.time() - t < 30  # the FIFO is never opened for reading
    reasons = {n: (s.status, (s.reason or "").split(":")[0]) for n, s in samples.items()}
    assert reasons["fifo.png"] == ("quarantined", "missing_caption") and reasons["fifo.txt"][1] == "not_a_regular_file"
    assert reasons["zero.png"] == ("quarantined", "missing_caption") and reasons["zero.txt"][1] == "symlink_outside_source"
    assert reasons["leak.png"] == ("quarantined", "missing_caption") and reasons["leak.txt"][1] == "symlink_outside_source"
    assert reasons["long.png"] == ("rejected", "caption_too_long")
    assert samples["ctrl.png"].status == "accepted" and samples["ctrl.png"].caption == "a caption with control characters"
    quarantined = list((tmp_path / "home" / "quarantine").rglob("*"))
    assert not any(p.is_file() and "hunter2" in p.read_text(errors="ignore") for p in quarantined)
    assert not any(p.is_symlink() for p in quarantined)


def test_reasons_are_deterministic_across_runs(folder, tmp_path):
    (folder / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    _caption(folder / "bad.png")
    a, _ = _curate(folder, tmp_path / "a")
    b, _ = _curate(folder, tmp_path / "b")
    assert a["bad.png"].reason == b["bad.png"].reason and "0x" not in a["bad.png"].reason


def test_an_empty_image_file_is_quarantined_as_empty(folder, tmp_path):
    """A zero-byte image was quarantined as "decode_error: UnidentifiedImageError: cannot identify
    image file <_io.BytesIO>": PIL's words for a file that holds nothing. Video and speech say
    empty_file; so does an image now."""
    (folder / "empty.png").write_bytes(b"")
    _caption(folder / "empty.png")
    samples, _ = _curate(folder, tmp_path / "home")
    assert (samples["empty.png"].status, samples["empty.png"].reason) == ("quarantined", "empty_file: 0 bytes")
    assert [p.name for p in (tmp_path / "home" / "quarantine").rglob("*.png")] == ["empty.png"]


def test_an_empty_view_of_a_multiview_sample_is_quarantined_as_empty(tmp_path):
    """The multi-view reader decoded views with PIL too: a zero-byte view was a view_decode_error
    quoting PIL's "cannot identify image file"; it is empty_file, naming the view."""
    import shutil

    from preprocess.multiview.demo_corpus import write_multiview_corpus

    corpus = write_multiview_corpus(tmp_path / "corpus", num_objects=1)
    src = tmp_path / "src"
    shutil.copytree(corpus.root / "objects", src)
    (src / "object_0000" / "view_02.png").write_bytes(b"")
    result = curate(str(src), tmp_path / "home", CurateConfig(modality="multiview"), backend="local")
    (sample,) = [s for p in result.batch_paths for s in Batch.read(p).samples if s.source_uri.endswith("object_0000")]
    assert (sample.status, sample.reason) == ("quarantined", "empty_file: view view_02.png is 0 bytes")
