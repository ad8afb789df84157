"""Fault suite (issue 9, part 6): hostile inputs through `lumina curate`, and kill -9 in every stage.

    python bench/faults.py            # full: the hostile corpus twice, then >= 20 random kills
    python bench/faults.py --quick    # the hostile corpus twice, then one kill per stage at its named moment (make test)
    python bench/faults.py --json --seed 3 --kills 30 --out /tmp/faults --keep
    python bench/faults.py --quick --skip hostile --moment train-last   # one kill, at one named moment

(a) Hostile inputs. A corpus of awkward and malicious entries (truncated, mislabelled and bomb
images, every PIL mode that needs converting, EXIF rotations, animations, folders, links, FIFOs,
sockets, tars, bad captions, duplicates ...) is curated twice into one workspace with
`lumina curate --local`, each run under a timeout. Each case says what it must become (status and
reason kind, and for an accepted image what its pixels must look like, built independently of the
decoder); the suite checks every entry is in the catalog with a reason, the reasons are the same on
both runs, nothing accepted is wrong, no secret from outside the source reaches the workspace.

(b) Kills. A small clean chain (curate, encode, register, manifest, train) gives the reference row
counts. Then each kill copies the workspace as it was before a stage, starts that stage, sends
SIGKILL, reruns it, runs the checks of `lumina catalog check`, and compares the catalog's rows (by natural key)
with the clean run's: rows lost, rows duplicated, runs left 'running', processes left behind.
The full suite sends each SIGKILL after a seeded random fraction of the clean stage's duration
(measured in the same run, so it follows the machine's speed; one that comes after the stage has
finished is tried again), then one more at each named moment (MOMENTS: the stage has written part
of its work and not the rest). --quick sends one per stage at its named moment, and two at the last checkpoint: each lands
mid-work on every run, none is wasted before the stage has started or after it has finished.

The named moments of the four stages are hold points (contracts/hold_points.py): the suite sets
LUMINA_HOLD_AT and LUMINA_HOLD_MARK for the killed run, the stage stops itself there (SIGSTOP) after
writing the mark file, and the SIGKILL comes once it has stopped, however slow the machine:

    curate    curate.batches-written          every batch file written, registration next (preprocess/curate.py)
    encode    encode.shard-written            the first encoded shard and its batch file written (preprocess/encode.py)
    register  register.shard-registered:2     the first batch registered, the second's transaction begun (its
                                              shard row written; the suite's own register step, register_main)
    train     train.checkpoint-published:2    checkpoint-0000004, the second, published; its catalog rows not
                                              written (training/catalog_hook.py)

    train-last train.checkpoint-published:3    the last checkpoint, 6 of 6, published, its rows not written: the
                                              --resume trains nothing and registers it
    train-last-registered                      the last checkpoint registered, its log windows' rows not written:
               train.checkpoint-registered:3   the --resume trains nothing and logs them

The full suite's named moments add "register-new-catalog" (the new catalog's write-ahead log exists,
watched every 5 ms), and these, each after a stage's work is in the catalog and before the rest:

    curate-registered      curate.registered               every batch registered, the run not completed (flows/steps.py)
    encode-registered      encode.registered               every shard registered, the run not completed (flows/steps.py)
    manifest               manifest.members-written        the manifest's rows and members written, not committed
                                                           (`lumina catalog manifest create`; catalog/db.py)
    train-written          train.checkpoint-written:2      checkpoint-0000004 whole under its temporary name, not
                                                           published (training/trainer.py)
    train-registered       train.checkpoint-registered:2   checkpoint-0000004's row written, its log windows' rows not
                                                           (training/catalog_hook.py)
    train-last-registered  train.checkpoint-registered:3   the same at the last checkpoint (6 of 6; in --quick too)
    train-first-written    train.checkpoint-written:1      the first checkpoint whole under its temporary name; none in
                                                           the catalog, so the rerun is the same command (no --resume)
    train-first            train.checkpoint-published:1    the first checkpoint published, not registered; rerun the same
    train-first-resume     train.checkpoint-published:1    the same, rerun with --resume (Moment.resume), as a user who
                                                           knows the run was killed: it continues the killed run's folder
    train-async            train.checkpoint-published:2    with --async-checkpoint (killed run and rerun): the writer
                                                           thread published checkpoint-0000004, training went on
    train-async-last       train.checkpoint-registered:3   with --async-checkpoint: the last checkpoint's row written

--moment NAME kills at that one only. A kill survives when no row of any table compared (ROW_QUERIES:
metrics and manifest members too) is lost or duplicated, the rerun succeeds, the catalog's checks
pass, and no run is left running and no process behind.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python bench/faults.py` puts bench/ first, not the repository
    sys.path.insert(0, str(REPO))

from contracts.hold_points import HOLD_AT_ENV, HOLD_MARK_ENV, hold_point, read_mark  # noqa: E402

LUMINA = str(Path(sys.executable).parent / "lumina")
SECRET = "the admin password is hunter2"  # lives outside the source; must never reach the workspace
CURATE_TIMEOUT_S = 300.0  # a run that takes longer is a hang (the FIFO case used to block forever)
STAGE_TIMEOUT_S = 600.0
WATCH_POLL_S = 0.005  # a watched moment (a file appearing) lasts milliseconds
HOLD_POLL_S = 0.05  # a stage at its hold point has stopped itself: a later kill lands at the same point

# flat test colours must not trip the technical-quality filters: these cases test decoding
NO_QUALITY = {"max_solid_fraction": 1.0, "min_contrast": 0.0, "min_sharpness": 0.0, "max_highlight_clip": 1.0,
              "max_shadow_clip": 1.0, "min_colourfulness": 0.0}
# 4 px grid, at most 256 tokens (64x64 px): the corpus images (<= 48x48, 32x64) keep their size
CURATE_OPTIONS = {"quality": NO_QUALITY, "max_tokens": 256, "vae_factor": 1, "patch_size": 4}


# =========================================================================== (a) the hostile corpus


@dataclass
class Expect:
    """What one entry of a case must become in the catalog."""

    rel: str  # path relative to the corpus root; the sample's source_uri is root/rel
    statuses: tuple[str, ...]  # acceptable statuses
    kinds: tuple[str, ...] = ()  # acceptable reason kinds (text before the first colon)
    pixels: np.ndarray | None = None  # accepted images: the upright RGB picture the input shows
    tol: float = 3.0  # mean absolute error allowed against ``pixels`` (lossy formats need more)
    caption: str | None = None  # accepted: the caption the catalog must hold
    verdict: tuple[str, float] | None = None  # (filter, score) that must be recorded for the sample


@dataclass
class Case:
    name: str
    what: str
    files: list[str] = field(default_factory=list)  # every entry the case created (for accounting)
    expects: list[Expect] = field(default_factory=list)


def quads(w: int, h: int, seed: int) -> np.ndarray:
    """An asymmetric picture: four quadrants of seeded colours (rotations and flips change it)."""
    rng = np.random.default_rng(seed)
    c = rng.integers(20, 236, (4, 3))
    a = np.empty((h, w, 3), np.uint8)
    a[: h // 2, : w // 2], a[: h // 2, w // 2 :], a[h // 2 :, : w // 2], a[h // 2 :, w // 2 :] = c
    return a


def photo(size: int) -> np.ndarray:
    """scikit-image's astronaut photo (it ships in the package), size x size."""
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize((size, size), Image.BOX))


def encode(img: Image.Image, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png16_rgb(a: np.ndarray) -> bytes:
    """A 48-bit RGB PNG written by hand (PIL cannot write one)."""
    h, w, _ = a.shape
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


def png_bomb(w: int, h: int) -> bytes:
    """A valid PNG header claiming w x h pixels over a few bytes of data (a decompression bomb)."""
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + png_chunk(b"IEND", b""))


def jpeg_with_size(data: bytes, w: int, h: int) -> bytes:
    """Rewrite the frame header (SOF0) of a baseline JPEG to claim w x h pixels."""
    i = data.index(b"\xff\xc0")
    return data[: i + 5] + struct.pack(">HH", h, w) + data[i + 9 :]


class CorpusWriter:
    """Writes entries under root and records, per case, what was made and what it must become."""

    def __init__(self, root: Path, outside: Path):
        self.root, self.outside = root, outside
        self.cases: list[Case] = []
        root.mkdir(parents=True)
        outside.mkdir(parents=True)

    def case(self, name: str, what: str) -> "CorpusWriter":
        self.cases.append(Case(name, what))
        return self

    def _made(self, rel: str) -> Path:
        self.cases[-1].files.append(rel)
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def file(self, rel: str, data: bytes | str) -> str:
        p = self._made(rel)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        return rel

    def caption(self, media_rel: str, text: bytes | str = "", suffix: str = ".txt") -> str:
        stem = media_rel.rsplit(".", 1)[0]
        return self.file(stem + suffix, text or f"a picture for the case {self.cases[-1].name}")

    def image(self, rel: str, img: Image.Image | bytes, fmt: str = "PNG", caption: bytes | str | None = "", **kw: Any) -> str:
        self.file(rel, img if isinstance(img, bytes) else encode(img, fmt, **kw))
        if caption is not None:
            self.caption(rel, caption)
        return rel

    def link(self, rel: str, target: str | Path) -> str:
        self._made(rel).symlink_to(target)
        return rel

    def folder(self, rel: str) -> str:
        self._made(rel).mkdir()
        return rel

    def fifo(self, rel: str) -> str:
        os.mkfifo(self._made(rel))
        return rel

    def unix_socket(self, rel: str) -> str:
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(self._made(rel)))
        s.close()  # the socket file stays
        return rel

    def expect(self, rel: str, statuses: str | tuple[str, ...], kinds: str | tuple[str, ...] = (), **kw: Any) -> None:
        statuses = (statuses,) if isinstance(statuses, str) else statuses
        kinds = (kinds,) if isinstance(kinds, str) else kinds
        self.cases[-1].expects.append(Expect(rel, statuses, kinds, **kw))

    def accepted(self, rel: str, pixels: np.ndarray, tol: float = 3.0, **kw: Any) -> None:
        self.expect(rel, "accepted", (), pixels=pixels, tol=tol, **kw)


def write_hostile_corpus(root: Path, outside: Path) -> list[Case]:
    """The hostile corpus under root (and the files it must never read under outside)."""
    w = CorpusWriter(root, outside)
    Q = "quarantined"
    R = "rejected"
    (outside / "secret.txt").write_text(SECRET)
    Image.fromarray(quads(48, 48, 999)).save(outside / "secret.png")
    (outside / "dir").mkdir()
    Image.fromarray(quads(48, 48, 998)).save(outside / "dir" / "inside.png")
    (outside / "dir" / "inside.txt").write_text(SECRET)

    # --- decoding that must come out right
    a = quads(48, 48, 1)
    w.case("plain_png", "an ordinary RGB PNG (the control)").image("plain.png", Image.fromarray(a))
    w.accepted("plain.png", a)
    g = quads(48, 48, 2)[..., 0]
    w.case("grey_l", "8-bit greyscale").image("grey.png", Image.fromarray(g, "L"))
    w.accepted("grey.png", np.repeat(g[..., None], 3, 2))
    b = ((np.indices((48, 48)) // 8).sum(0) % 2 * 255).astype(np.uint8)
    w.case("bilevel_1", "1-bit black and white").image("bilevel.png", Image.fromarray(b).convert("1"))
    w.accepted("bilevel.png", np.repeat(b[..., None], 3, 2))
    a = quads(48, 48, 3)
    rgba = np.dstack([a, np.full((48, 48), 255, np.uint8)])
    rgba[:, :16, 3] = 0  # left third transparent: white after compositing
    rgba[:, 16:32, 3] = 128  # middle half transparent
    want = a.astype(np.float64)
    want[:, :16] = 255
    want[:, 16:32] = a[:, 16:32] * (128 / 255) + 255 * (127 / 255)
    w.case("rgba_png", "RGBA with transparent and half-transparent thirds").image("rgba.png", Image.fromarray(rgba, "RGBA"))
    w.accepted("rgba.png", want.round().astype(np.uint8), tol=2.0)
    la = np.dstack([np.full((48, 48), 60, np.uint8), np.full((48, 48), 255, np.uint8)])
    la[:24, :, 1] = 0
    want = np.full((48, 48, 3), 60, np.uint8)
    want[:24] = 255
    w.case("la_png", "greyscale + alpha, top half transparent").image("la.png", Image.fromarray(la, "LA"))
    w.accepted("la.png", want)
    pal = Image.new("P", (48, 48), 0)
    pal.putpalette([0, 0, 0, 200, 40, 40, 40, 40, 200] + [0] * 759)
    pal.paste(1, (0, 0, 24, 48))
    pal.paste(2, (24, 24, 48, 48))
    want = np.full((48, 48, 3), 255, np.uint8)
    want[:, :24] = (200, 40, 40)
    want[24:, 24:] = (40, 40, 200)
    w.case("palette_transparent", "palette PNG whose index 0 is transparent").image("palette_t.png", pal, transparency=0)
    w.accepted("palette_t.png", want)
    want0 = want.copy()
    want0[:24, 24:] = 0
    w.case("palette_plain", "palette PNG without transparency").image("palette.png", pal.copy())
    w.accepted("palette.png", want0)
    i16 = np.full((48, 48), 16384, np.uint16)
    i16[:, 24:] = 49152
    w.case("i16_png", "16-bit greyscale (I;16) at a quarter and three quarters of the range").image("i16.png", Image.fromarray(i16))
    w.accepted("i16.png", np.repeat(np.where(np.arange(48) < 24, 64, 191).astype(np.uint8)[None, :, None], 48, 0).repeat(3, 2), tol=1.5)
    a = quads(48, 48, 4)
    w.case("rgb16_png", "48-bit RGB PNG").image("rgb16.png", png16_rgb(a.astype(np.uint16) * 257))
    w.accepted("rgb16.png", a, tol=1.5)
    f = np.full((48, 48), 0.25, np.float32)
    f[24:] = 0.75
    w.case("float_tiff", "32-bit float greyscale TIFF in [0, 1]").image("float.tif", Image.fromarray(f, "F"), "TIFF")
    w.accepted("float.tif", np.repeat(np.where(np.arange(48) < 24, 64, 191).astype(np.uint8)[:, None, None], 48, 1).repeat(3, 2), tol=1.5)
    cmyk = Image.new("CMYK", (48, 48), (0, 255, 255, 0))  # red
    cmyk.paste((255, 0, 255, 0), (24, 0, 48, 48))  # green
    want = np.zeros((48, 48, 3), np.uint8)
    want[:, :24] = (255, 0, 0)
    want[:, 24:] = (0, 255, 0)
    w.case("cmyk_jpeg", "CMYK JPEG").image("cmyk.jpg", cmyk, "JPEG", quality=95)
    w.accepted("cmyk.jpg", want, tol=12.0)
    for orient, rotate in ((6, Image.Transpose.ROTATE_270), (3, Image.Transpose.ROTATE_180), (8, Image.Transpose.ROTATE_90)):
        up = quads(32, 48, 10 + orient)  # what the viewer sees
        stored = Image.fromarray(up).transpose({6: Image.Transpose.ROTATE_90, 3: Image.Transpose.ROTATE_180,
                                                8: Image.Transpose.ROTATE_270}[orient])
        assert np.array_equal(np.asarray(stored.transpose(rotate)), up)
        exif = Image.Exif()
        exif[0x0112] = orient
        fmt, ext = ("JPEG", "jpg") if orient != 8 else ("PNG", "png")
        w.case(f"exif_{orient}", f"EXIF orientation {orient} ({fmt})").image(f"exif{orient}.{ext}", stored, fmt, exif=exif.tobytes(),
                                                                           **({"quality": 95} if fmt == "JPEG" else {}))
        w.accepted(f"exif{orient}.{ext}", up, tol=10.0 if fmt == "JPEG" else 0.5)
    gif = Image.new("P", (48, 48), 0)
    gif.putpalette([0, 0, 0, 30, 160, 90] + [0] * 762)
    gif.paste(1, (0, 24, 48, 48))
    want = np.full((48, 48, 3), 255, np.uint8)
    want[24:] = (30, 160, 90)
    w.case("gif_transparent", "one-frame GIF with a transparent colour").image("still.gif", gif, "GIF", transparency=0)
    w.accepted("still.gif", want)
    a = quads(48, 48, 5)
    rgba = np.dstack([a, np.full((48, 48), 255, np.uint8)])
    rgba[40:, :, 3] = 0
    want = a.copy()
    want[40:] = 255
    w.case("webp_alpha", "lossless WebP with a transparent band").image("alpha.webp", Image.fromarray(rgba, "RGBA"), "WEBP", lossless=True)
    w.accepted("alpha.webp", want, tol=1.0)
    a = quads(48, 48, 6)
    w.case("bmp", "a BMP").image("plain.bmp", Image.fromarray(a), "BMP")
    w.accepted("plain.bmp", a)
    a = quads(48, 48, 7)
    w.case("jpeg_named_png", "JPEG bytes in a .png file").image("actually_jpeg.png", Image.fromarray(a), "JPEG", quality=95)
    w.accepted("actually_jpeg.png", a, tol=10.0)
    a = quads(48, 48, 8)
    w.case("png_named_jpg", "PNG bytes in a .jpg file").image("actually_png.jpg", Image.fromarray(a), "PNG")
    w.accepted("actually_png.jpg", a)
    a = quads(48, 48, 9)
    w.case("unicode_name", "a file name in three scripts").image("фото 写真 é.png", Image.fromarray(a))
    w.accepted("фото 写真 é.png", a)
    a = quads(48, 48, 20)
    w.case("newline_name", "a newline and a tab in the file name").image("new\nline\tname.png", Image.fromarray(a))
    w.accepted("new\nline\tname.png", a)
    a = quads(48, 48, 21)
    deep = "/".join(f"d{i}" for i in range(16)) + "/deep.png"
    w.case("deep_nesting", "an image 16 folders deep").image(deep, Image.fromarray(a))
    w.accepted(deep, a)
    a = quads(48, 48, 22)
    w.case("hidden_file", "a dot file").image(".hidden.png", Image.fromarray(a))
    w.accepted(".hidden.png", a)
    a = quads(48, 48, 23)
    latin1 = os.fsdecode("café.png".encode("latin-1"))  # not valid UTF-8: a surrogate in Python's str
    w.case("non_utf8_name", "a Latin-1 file name").image(latin1, Image.fromarray(a))
    w.accepted(latin1, a)

    # --- files that are no usable still image
    w.case("text_named_jpg", "a text file named .jpg").image("letter.jpg", b"Dear user, this is not a JPEG.\n")
    w.expect("letter.jpg", Q, "decode_error")
    w.case("zero_bytes", "an empty .png").image("empty.png", b"")
    w.expect("empty.png", Q, "empty_file")
    for name, fmt, ext in (("truncated_png", "PNG", "png"), ("truncated_jpeg", "JPEG", "jpg"), ("truncated_gif", "GIF", "gif"),
                           ("truncated_webp", "WEBP", "webp")):
        data = encode(Image.fromarray(quads(48, 48, 30 + len(name))), fmt)
        w.case(name, f"a {fmt} cut in half").image(f"cut.{ext}", data[: len(data) // 2])
        w.expect(f"cut.{ext}", Q, "decode_error")
    data = bytearray(encode(Image.fromarray(quads(48, 48, 40)), "PNG"))
    data[data.index(b"IDAT") + 8] ^= 0xFF  # a flipped byte in the compressed pixels: the CRC no longer matches
    w.case("bad_crc_png", "a PNG whose IDAT checksum fails").image("bad_crc.png", bytes(data))
    w.expect("bad_crc.png", Q, "decode_error")
    w.case("bomb_png", "PNG header claiming 100000 x 100000 pixels").image("bomb.png", png_bomb(100_000, 100_000))
    w.expect("bomb.png", Q, "too_many_pixels", verdict=("too_many_pixels", 1e10))
    small = encode(Image.fromarray(quads(48, 48, 41)), "JPEG")
    w.case("bomb_jpeg", "JPEG frame header claiming 65000 x 65000 pixels").image("bomb.jpg", jpeg_with_size(small, 65000, 65000))
    w.expect("bomb.jpg", Q, "too_many_pixels")
    gif_data = bytearray(encode(Image.fromarray(quads(48, 48, 42)), "GIF"))
    gif_data[6:10] = struct.pack("<HH", 65535, 65535)  # logical screen size
    w.case("bomb_gif", "GIF screen of 65535 x 65535 pixels").image("bomb.gif", bytes(gif_data))
    w.expect("bomb.gif", Q, ("too_many_pixels", "decode_error"))
    w.case("one_by_n", "a 1 x 200 image").image("line.png", Image.new("RGB", (1, 200), (90, 20, 200)))
    w.expect("line.png", R, ("min_size", "aspect_ratio"))
    w.case("one_by_one", "a 1 x 1 image").image("dot.png", Image.new("RGB", (1, 1), (90, 200, 20)))
    w.expect("dot.png", R, "min_size")
    frames = [Image.fromarray(quads(48, 48, 50 + i)) for i in range(3)]
    w.case("animated_gif", "a 3-frame GIF").image("anim.gif", frames[0], "GIF", save_all=True, append_images=frames[1:], duration=80)
    w.expect("anim.gif", R, "animated_image")
    w.case("animated_webp", "a 3-frame WebP").image("anim.webp", frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=80)
    w.expect("anim.webp", R, "animated_image")
    w.case("apng", "a 3-frame APNG").image("anim_apng.png", frames[0], "PNG", save_all=True, append_images=frames[1:], duration=80)
    w.expect("anim_apng.png", R, "animated_image")
    w.case("multipage_tiff", "a 2-page TIFF").image("pages.tif", frames[0], "TIFF", save_all=True, append_images=frames[1:2])
    w.expect("pages.tif", R, "multi_page_image")

    # --- entries that are no image file at all
    w.case("folder_named_png_empty", "an empty folder named like an image").folder("folder.png")
    w.expect("folder.png", R, ("empty_folder", "not_a_regular_file"))
    a = quads(48, 48, 60)
    w.case("folder_named_png_full", "a folder named like an image, holding one").image("album.png/inner.png", Image.fromarray(a))
    w.accepted("album.png/inner.png", a)
    w.case("orphan_caption", "a caption without an image").caption("lonely.png")
    w.expect("lonely.txt", R, "orphan_caption")
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w") as tar:
        for name, data in (("packed.png", encode(Image.fromarray(quads(48, 48, 61)), "PNG")), ("packed.txt", b"a packed image")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    w.case("tar_in_source", "a tar of image + caption inside the folder").file("bundle.tar", tar_buf.getvalue())
    w.expect("bundle.tar", R, "unsupported_type")
    w.case("pdf", "an unsupported document").file("notes.pdf", b"%PDF-1.4\n%%EOF\n")
    w.expect("notes.pdf", R, "unsupported_type")
    w.case("no_extension", "a file without an extension").file("README", "read me")
    w.expect("README", R, "unsupported_type")
    a = quads(48, 48, 62)
    w.case("symlinked_folder_inside", "a link to a folder of the source").image("real_dir/photo.png", Image.fromarray(a))
    w.link("mirror_dir", "real_dir")
    w.accepted("real_dir/photo.png", a)
    w.expect("mirror_dir", R, "symlink")
    w.case("symlinked_folder_outside", "a link to a folder outside the source").link("outside_dir", outside / "dir")
    w.expect("outside_dir", R, "symlink_outside_source")
    w.case("link_out_image", "a link to an image outside the source, captioned").link("stolen.png", outside / "secret.png")
    w.caption("stolen.png")
    w.expect("stolen.png", R, "symlink_outside_source")
    w.expect("stolen.txt", R, "orphan_caption")
    w.case("link_in_image", "a link to an image of the source with the same caption").link("plain_alias.png", "plain.png")
    w.file("plain_alias.txt", (root / "plain.txt").read_bytes())
    w.expect("plain_alias.png", R, "exact_duplicate")
    w.case("dangling_link", "a link to nothing").link("dangling.png", "nothere.png")
    w.expect("dangling.png", R, ("symlink", "broken_symlink"))
    w.case("symlink_loop", "two links pointing at each other").link("loop_a.png", "loop_b.png")
    w.link("loop_b.png", "loop_a.png")
    w.expect("loop_a.png", R, ("symlink", "symlink_loop", "broken_symlink"))
    w.expect("loop_b.png", R, ("symlink", "symlink_loop", "broken_symlink"))
    w.case("fifo_media", "a FIFO named .png").fifo("pipe.png")
    w.expect("pipe.png", R, "not_a_regular_file")
    w.case("socket_media", "a unix socket named .png").unix_socket("sock.png")
    w.expect("sock.png", R, "not_a_regular_file")
    w.case("devzero_media", "a .png linked to /dev/zero").link("zeros.png", "/dev/zero")
    w.expect("zeros.png", R, "symlink_outside_source")

    # --- captions
    def captioned(case: str, what: str, rel: str, seed: int, text: bytes | str | None, suffix: str = ".txt") -> np.ndarray:
        a = quads(48, 48, seed)
        w.case(case, what).image(rel, Image.fromarray(a), caption=None)
        if text is not None:
            w.caption(rel, text, suffix)
        return a

    captioned("fifo_caption", "the caption is a FIFO", "fifo_cap.png", 70, None)
    w.fifo("fifo_cap.txt")
    w.expect("fifo_cap.png", Q, "missing_caption")
    w.expect("fifo_cap.txt", R, "not_a_regular_file")
    captioned("devzero_caption", "the caption links to /dev/zero", "zero_cap.png", 71, None)
    w.link("zero_cap.txt", "/dev/zero")
    w.expect("zero_cap.png", Q, "missing_caption")
    w.expect("zero_cap.txt", R, "symlink_outside_source")
    captioned("leak_caption", "the caption links to a secret outside the source", "leak.png", 72, None)
    w.link("leak.txt", outside / "secret.txt")
    w.expect("leak.png", Q, "missing_caption")
    w.expect("leak.txt", R, "symlink_outside_source")
    captioned("long_caption", "a 20000-byte caption", "long.png", 73, "x" * 20000)
    w.expect("long.png", R, "caption_too_long", verdict=("caption_length", 20000.0))
    a = captioned("control_caption", "NUL, bell and escape characters in a caption", "ctrl.png", 74,
                  b"a caption\x00with\x07control\x1b[31m characters\r\n")
    w.accepted("ctrl.png", a, caption="a caption with control [31m characters")
    captioned("latin1_caption", "a Latin-1 caption", "latin1.png", 75, "café au lait".encode("latin-1"))
    w.expect("latin1.png", Q, "caption_not_utf8")
    captioned("json_wrong_key", "a JSON caption under the wrong key", "wrongkey.png", 76, json.dumps({"text": "a caption"}), ".json")
    w.expect("wrongkey.png", Q, "caption_bad_json")
    captioned("json_invalid", "a caption file that is not JSON", "badjson.png", 77, "{not json", ".json")
    w.expect("badjson.png", Q, "caption_bad_json")
    a = captioned("json_good", "a JSON caption", "goodjson.png", 78, json.dumps({"caption": "a caption from json", "x": 1}), ".json")
    w.accepted("goodjson.png", a, caption="a caption from json")
    a = captioned("txt_and_json", "both a .txt and a .json caption", "both.png", 79, "the text caption")
    w.caption("both.png", json.dumps({"caption": "the json caption"}), ".json")
    w.accepted("both.png", a, caption="the text caption")
    w.expect("both.json", R, "orphan_caption")
    captioned("empty_caption", "an empty caption", "blank.png", 80, b"\n")
    w.expect("blank.png", R, "caption_present")
    captioned("control_only_caption", "a caption of control characters only", "ctrlonly.png", 81, b"\x00\x07\x1b")
    w.expect("ctrlonly.png", R, "caption_present")
    captioned("missing_caption", "an image without a caption", "nocap.png", 82, None)
    w.expect("nocap.png", Q, "missing_caption")
    captioned("caption_is_folder", "the caption is a folder", "capdir.png", 83, None)
    w.folder("capdir.txt")
    w.expect("capdir.png", Q, "missing_caption")
    w.expect("capdir.txt", R, ("empty_folder", "not_a_regular_file"))

    # --- duplicates
    a = quads(48, 48, 90)
    data = encode(Image.fromarray(a), "PNG")
    w.case("duplicate_content", "the same image and caption under two names").image("dup_a.png", data, caption="the same caption")
    w.image("dup_b.png", data, caption="the same caption")
    w.accepted("dup_a.png", a)
    w.expect("dup_b.png", R, "exact_duplicate")
    a = photo(48)  # a textured picture: flat test patterns have no stable perceptual hash
    noisy = np.clip(a.astype(int) + np.random.default_rng(0).integers(-3, 4, a.shape), 0, 255).astype(np.uint8)
    # the copy is the worse one (a lossy re-encode): of a near-duplicate group the best copy is kept, and faint
    # noise alone reads as sharper (preprocess/image/preference.py)
    w.case("near_duplicate", "a photo and a JPEG of it with faint noise, another caption").image("near_a.png", Image.fromarray(a))
    w.image("near_b.jpg", encode(Image.fromarray(noisy), "JPEG", quality=90), caption="another caption of the same picture")
    w.accepted("near_a.png", a)
    w.expect("near_b.jpg", R, "phash_dedup")
    return w.cases


# =========================================================================== running commands


def child_env(work: Path) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1", "PREFECT_HOME": str(work / "prefect_home")}
    for k in ("LUMINA_HOME", "LUMINA_CATALOG"):  # every command names its workspace
        env.pop(k, None)
    for k in (HOLD_AT_ENV, HOLD_MARK_ENV):  # only a killed run holds, where the suite says (run's hold)
        env.pop(k, None)
    return env


@dataclass
class Outcome:
    args: list[str]
    rc: int | None  # None: killed by us (timeout or planned kill)
    seconds: float
    timed_out: bool = False
    killed: bool = False  # a planned SIGKILL reached the process while it ran
    orphans: int = 0  # processes of its session still alive after it died
    log: str = ""
    cpu_s: float = 0.0  # user + system seconds it used (the figure that predicts an idle machine's time)

    @property
    def crashed(self) -> bool:
        return not self.killed and not self.timed_out and (self.rc != 0 or "Traceback (most recent call last)" in self.tail())

    def tail(self, n: int = 3000) -> str:
        try:
            return Path(self.log).read_text(errors="replace")[-n:]
        except OSError:
            return ""


def _session_members(sid: int) -> list[int]:
    import psutil

    out = []
    for p in psutil.process_iter():
        try:
            if os.getsid(p.pid) == sid and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p.pid)
        except (OSError, psutil.Error):
            continue
    return out


def run(args: list[str], work: Path, log: Path, timeout: float, kill_after: float | None = None,
        kill_when: Callable[[], bool] | None = None, hold: tuple[str, Path] | None = None) -> Outcome:
    """Run a command in its own session. A planned SIGKILL comes after ``kill_after`` seconds or as
    soon as ``kill_when()`` holds (polled every 5 ms, a hold point every 50 ms; nothing polled when
    there is nothing to watch); past ``timeout`` the SIGKILL means a hang.
    ``hold``: (hold point, mark file): the command stops there (contracts/hold_points.py) and the
    SIGKILL comes once it has (see ``has_held``). Whatever of its session survives its death is
    counted, then killed."""
    log.parent.mkdir(parents=True, exist_ok=True)
    t, cpu = time.monotonic(), _children_cpu()
    env = child_env(work)
    if hold is not None:
        env |= {HOLD_AT_ENV: hold[0], HOLD_MARK_ENV: str(hold[1])}
        kill_when = lambda: has_held(hold[1])  # noqa: E731
    planned = kill_after is not None or kill_when is not None
    deadline = t + (timeout if kill_after is None else min(kill_after, timeout))
    with open(log, "wb") as out:
        p = subprocess.Popen(args, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        if kill_when is None:  # nothing to watch: wait for the end or the deadline, no polling
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        # a hold point stops the process itself, so its check may be slower than a watched moment's
        poll_s = WATCH_POLL_S if hold is None else HOLD_POLL_S
        while kill_when is not None and p.poll() is None and time.monotonic() < deadline and not kill_when():
            time.sleep(poll_s)
        if p.poll() is not None:
            return Outcome(args, p.returncode, time.monotonic() - t, log=str(log), cpu_s=_children_cpu() - cpu)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    seconds = time.monotonic() - t
    # children notice a dead parent within moments, or never: what is left after 0.3 s stays (no
    # process can join the session once none of it is left, so an empty one ends the wait)
    until, left = time.monotonic() + 0.3, _session_members(p.pid)
    while left and time.monotonic() < until:
        time.sleep(0.02)
        left = _session_members(p.pid)
    for pid in left:  # ours: started by this command
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    hang = seconds >= timeout
    return Outcome(args, None, seconds, timed_out=hang, killed=planned and not hang, orphans=len(left), log=str(log),
                   cpu_s=_children_cpu() - cpu)


def has_held(mark: Path) -> bool:
    """The process named by a hold point's mark file has stopped there (or is gone): a kill now
    lands exactly at the point. One that wrote the mark but does not stop (no SIGSTOP: it sleeps in
    the holding thread) counts as held after a second."""
    import psutil

    info = read_mark(mark)
    if info is None:
        return False
    try:
        if psutil.Process(int(info["pid"])).status() in (psutil.STATUS_STOPPED, psutil.STATUS_ZOMBIE):
            return True
    except psutil.NoSuchProcess:
        return True
    return time.time() - mark.stat().st_mtime > 1.0


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


_HELD: dict[str, Any] = {}  # catalog path -> the Catalog whose connection held_catalog keeps open


@contextmanager
def held_catalog(path: Path) -> Iterator[Any]:
    """The catalog at ``path``, read-only, on one connection that read_catalog (and catalog_check)
    use within: each open costs 25-50 ms of CPU, and a kill's comparison and the hostile corpus's
    judging read it a hundred times. Only while no stage runs: a writer would wait for it."""
    from catalog import Catalog

    key = os.path.abspath(path)
    if key in _HELD:
        yield _HELD[key]
        return
    with Catalog.open(path, read_only=True) as cat, cat.hold():
        _HELD[key] = cat
        try:
            yield cat
        finally:
            del _HELD[key]


def read_catalog(path: Path, query: str, params: list | None = None) -> list[tuple]:
    with held_catalog(path) as cat:
        return cat.sql(query, params or [])[1]


# =========================================================================== (a) judging the corpus


@dataclass
class CaseResult:
    name: str
    what: str
    accounted: bool
    silently_wrong: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    differs: list[str] = field(default_factory=list)


def _kind(reason: str | None) -> str:
    return (reason or "").split(":", 1)[0]


def _curated_pixels(catalog: Path, key: str) -> np.ndarray | None:
    from contracts.shards import read_members

    rows = read_catalog(catalog, "SELECT x.shard_uri FROM shard_samples x JOIN shards s ON s.uri = x.shard_uri "
                                 "WHERE x.key = ? AND s.stage = 'curated'", [key])
    if not rows:
        return None
    data = read_members(rows[0][0], {f"{key}.png"})[f"{key}.png"]
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def printable(path: str) -> str:
    """How the catalog spells a path whose bytes are not UTF-8: each such byte as \\xNN."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def judge_case(case: Case, root: Path, catalog: Path, first: dict, final: dict) -> CaseResult:
    res = CaseResult(case.name, case.what, accounted=True)
    uri = lambda rel: printable(str(root / rel))  # noqa: E731
    for e in case.expects:
        rows = final.get(uri(e.rel), [])
        if len(rows) != 1:
            res.accounted = False
            res.unexpected.append(f"{e.rel!r}: {len(rows)} rows")
            continue
        key, status, reason, caption = rows[0]
        if status != "accepted" and ":" not in (reason or ""):
            res.accounted = False
            res.unexpected.append(f"{e.rel!r}: {status} without a 'kind: detail' reason")
        if status not in e.statuses:
            (res.silently_wrong if status == "accepted" else res.unexpected).append(
                f"{e.rel!r}: {status} ({reason}), expected {'/'.join(e.statuses)}")
        elif e.kinds and _kind(reason) not in e.kinds:
            res.unexpected.append(f"{e.rel!r}: reason {reason!r}, expected {'/'.join(e.kinds)}")
        if status == "accepted":
            if caption is None or any(ord(ch) < 32 or ord(ch) == 127 for ch in caption):
                res.silently_wrong.append(f"{e.rel!r}: caption {caption!r} has control characters")
            if e.caption is not None and caption != e.caption:
                res.silently_wrong.append(f"{e.rel!r}: caption {caption!r}, expected {e.caption!r}")
            if e.pixels is not None:
                got = _curated_pixels(catalog, key)
                if got is None:
                    res.silently_wrong.append(f"{e.rel!r}: accepted but in no curated shard")
                elif got.shape != e.pixels.shape:
                    res.silently_wrong.append(f"{e.rel!r}: stored {got.shape[1]}x{got.shape[0]}, the input shows "
                                              f"{e.pixels.shape[1]}x{e.pixels.shape[0]}")
                else:
                    mae = float(np.abs(got.astype(np.float64) - e.pixels).mean())
                    if mae > e.tol:
                        res.silently_wrong.append(f"{e.rel!r}: pixels differ from the input by {mae:.1f} on average (tolerance {e.tol})")
        if e.verdict is not None:
            got = read_catalog(catalog, "SELECT score FROM verdicts WHERE key = ? AND filter = ?", [key, e.verdict[0]])
            if not got or got[0][0] != e.verdict[1]:
                res.unexpected.append(f"{e.rel!r}: verdict {e.verdict[0]} = {got[0][0] if got else None}, expected {e.verdict[1]:g}")
    with_rows = {rel for rel in case.files if uri(rel) in final}
    for rel in case.files:
        stem = rel.rsplit(".", 1)[0]
        is_caption = rel.endswith((".txt", ".json"))
        if rel not in with_rows and not (is_caption and any(r.rsplit(".", 1)[0] == stem for r in with_rows)):
            res.accounted = False
            res.unexpected.append(f"{rel!r}: no row, not the caption of one")
        before = [(s, r) for _, s, r, _ in first.get(uri(rel), [])]
        after = [(s, r) for _, s, r, _ in final.get(uri(rel), [])]
        if before != after:
            res.differs.append(f"{rel!r}: {before} then {after}")
    return res


def samples_by_uri(catalog: Path) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for uri, key, status, reason, caption in read_catalog(catalog, "SELECT source_uri, key, status, reason, caption FROM samples ORDER BY key"):
        out.setdefault(uri, []).append((key, status, reason, caption))
    return out


def workspace_findings(home: Path, root: Path, rows: dict[str, list[tuple]], cases: list[Case]) -> list[str]:
    """What no single case owns: secrets or outside pixels in the workspace, links or floods in it,
    rows for paths no case made, rows for paths outside the source."""
    found = []
    secret = SECRET.encode()
    for p in home.rglob("*"):
        if p.is_symlink():
            found.append(f"a symlink in the workspace: {p.relative_to(home)}")
        elif p.is_file():
            if p.stat().st_size > 64 << 20:
                found.append(f"a {p.stat().st_size >> 20} MiB file in the workspace: {p.relative_to(home)}")
            elif secret in p.read_bytes():
                found.append(f"the secret from outside the source is in {p.relative_to(home)}")
    made = {printable(str(root / rel)) for c in cases for rel in c.files}
    for uri in rows:
        if not uri.startswith(str(root) + os.sep):
            found.append(f"a row for a path outside the source: {uri!r}")
        elif uri not in made:
            found.append(f"a row for a path the corpus never made: {uri!r}")
    from contracts.shards import iter_samples

    outside = [quads(48, 48, 999), quads(48, 48, 998)]
    for (shard,) in read_catalog(home / "catalog.duckdb", "SELECT uri FROM shards WHERE stage = 'curated'"):
        for key, fields in iter_samples(shard):
            px = np.asarray(Image.open(io.BytesIO(fields["png"])).convert("RGB"))
            if any(px.shape == o.shape and np.abs(px.astype(int) - o).mean() < 3 for o in outside):
                found.append(f"an image from outside the source was curated as {key}")
    return found


def hostile_inputs(work: Path, log_dir: Path) -> dict[str, Any]:
    """Write the corpus, curate it twice into one workspace, judge every case."""
    root, home = (work / "hostile" / "source").resolve(), work / "hostile" / "home"
    cases = write_hostile_corpus(root, work / "hostile" / "outside")
    cfg = work / "hostile" / "curate.yaml"
    cfg.write_text(json.dumps({"options": CURATE_OPTIONS}))  # JSON is YAML
    args = [LUMINA, "curate", str(root), "--modality", "image", "--home", str(home), "--config", str(cfg), "--local", "--json"]
    runs, snapshots = [], []
    for i in (1, 2):
        out = run(args, work, log_dir / f"hostile-curate-{i}.log", CURATE_TIMEOUT_S)
        runs.append(out)
        snapshots.append(samples_by_uri(home / "catalog.duckdb") if (home / "catalog.duckdb").exists() else {})
    results, extra = [], []
    if snapshots[1]:
        with held_catalog(home / "catalog.duckdb"):
            results = [judge_case(c, root, home / "catalog.duckdb", snapshots[0], snapshots[1]) for c in cases]
            extra = workspace_findings(home, root, snapshots[1], cases)
    n1, n2 = (sum(len(v) for v in s.values()) for s in snapshots)
    if n2 != n1:
        extra.append(f"the second run changed the number of sample rows from {n1} to {n2}")
    return {
        "inputs_tried": len(cases),
        "accounted_with_reason": sum(r.accounted for r in results),
        "silently_wrong": sum(bool(r.silently_wrong) for r in results) + len(extra),
        "unexpected_outcome": sum(bool(r.unexpected) for r in results),
        "reasons_differing_across_runs": sum(bool(r.differs) for r in results),
        "crashes": sum(o.crashed for o in runs),
        "hangs": sum(o.timed_out for o in runs),
        "curate_seconds": [round(o.seconds, 1) for o in runs],
        "curate_cpu_seconds": [round(o.cpu_s, 1) for o in runs],
        "findings": [f"{r.name}: {m}" for r in results for m in r.silently_wrong + r.unexpected + r.differs] + extra,
        "crash_logs": [o.tail(1500) for o in runs if o.crashed],
    }


# =========================================================================== (b) kill -9 in every stage

STAGES = ("curate", "encode", "register", "train")
# rows compared with the clean run, by natural key (paths differ between workspaces: shards by file name)
ROW_QUERIES = {
    "samples": "SELECT key FROM samples",
    "verdicts": "SELECT key, filter, filter_version FROM verdicts",
    "shards": "SELECT regexp_extract(uri, '[^/]+$'), sha256 FROM shards",
    "encodings": "SELECT key, encoder_fingerprint, kind FROM encodings",
    "checkpoints": "SELECT manifest, step FROM checkpoints",
    "shard_samples": "SELECT regexp_extract(shard_uri, '[^/]+$'), key FROM shard_samples",
    "metrics": "SELECT name, split, step FROM metrics",
    "manifests": "SELECT name, version, num_members FROM manifests",
    "manifest_members": "SELECT manifest, version, key FROM manifest_members",
}
HEADLINE_TABLES = ("samples", "verdicts", "shards", "encodings", "checkpoints")
TRAIN_YAML = ("steps: 6\nbatch_size: 8\ncheckpoint_every: 2\nlog_every: 2\nwarmup_steps: 2\ntensorboard: false\nprogress: false\n"
              "model_overrides: {dim: 32, n_layers: 1, n_heads: 2, patch_size: 4}\n")
MANIFEST = "faults-train"


def catalog_check(catalog: Path) -> dict[str, int]:
    """What `lumina catalog check` finds (each check with violations), in this process: a command
    would cost a second of start-up per kill for the same answer."""
    with held_catalog(catalog) as cat:
        return {name: n for name, n in cat.check().items() if n}


def catalog_rows(catalog: Path) -> dict[str, Counter]:
    with held_catalog(catalog):
        return {t: Counter(read_catalog(catalog, q)) for t, q in ROW_QUERIES.items()}


def register_main(home: str) -> None:
    """The registration step on its own (what curate and encode do after writing batch files):
    every batch file of the workspace, curated before encoded, in one catalog run. Its hold point
    "register.shard-registered" comes in each batch's transaction, after the batch's shard rows
    (the named moment "register" holds at the second: "register.shard-registered:2")."""
    from contracts.layout import Workspace
    from flows.steps import catalog_run, register

    _hold_point_in_each_batch()
    ws = Workspace.at(home)
    paths = [str(p) for stage in ("curated", "encoded") for p in sorted((ws.home / stage).rglob("*.batch.json"))]
    with catalog_run(ws, "register", {"batches": len(paths)}) as rid:
        print(json.dumps(register(ws, paths, rid)))


def _hold_point_in_each_batch() -> None:
    """The hold point "register.shard-registered" in each batch's transaction, after its shard rows:
    the catalog's hook between the statements of a batch (Catalog._step) is where (the suite's own
    register step only: the catalog has no hold point of its own)."""
    from catalog.db import Catalog

    step = Catalog._step

    def hold(self: Catalog, name: str) -> None:
        step(self, name)
        if name == "shard":  # every batch that is not skipped passes it once
            hold_point("register.shard-registered")

    Catalog._step = hold


def moment_mark(home: Path) -> Path:
    """The mark file a stage writes beside ``home`` when it holds at its named moment's hold point."""
    return home.parent / f"{home.name}.moment"


class Chain:
    """The small clean pipeline, its workspace before each stage, and each stage's command."""

    def __init__(self, work: Path, log_dir: Path, num_digits: int, text: str = "minilm"):
        self.work, self.log_dir, self.num_digits, self.text = work, log_dir, num_digits, text
        self.corpus = work / "chain" / "corpus"
        self.snapshots: dict[str, Path] = {}  # stage -> the workspace as it was before it
        self.expected: dict[str, dict[str, Counter]] = {}  # stage -> rows after its clean run
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        (work / "chain").mkdir(parents=True, exist_ok=True)
        (work / "chain" / "train.yaml").write_text(TRAIN_YAML)

    def command(self, stage: str, home: Path, resume: bool = False) -> list[str]:
        if stage == "curate":
            return [LUMINA, "curate", str(self.corpus), "--modality", "image", "--home", str(home), "--resize", "square",
                    "--set", "options.size=32", "--shard-size", "4", "--local"]
        if stage == "encode":
            return [LUMINA, "encode", "--home", str(home), "--modality", "image", "--batch-size", "4", "--text", self.text, "--local"]
        if stage == "register":
            return [sys.executable, str(Path(__file__).resolve()), "register", "--home", str(home)]
        if stage == "manifest":
            return [LUMINA, "catalog", "manifest", "create", MANIFEST, "--where", "modality = 'image' AND split = 'train'",
                    "--catalog", str(home / "catalog.duckdb")]
        if stage == "train":
            return [LUMINA, "train", "--home", str(home), "--manifest", MANIFEST, "--config", str(self.work / "chain" / "train.yaml"),
                    *(["--resume"] if resume else [])]
        raise ValueError(stage)

    def _step(self, stage: str, home: Path) -> None:
        out = run(self.command(stage, home), self.work, self.log_dir / f"clean-{stage}.log", STAGE_TIMEOUT_S)
        if out.rc != 0:
            raise RuntimeError(f"the clean {stage} failed (rc {out.rc}):\n{out.tail()}")
        self.seconds[stage] = out.seconds
        self.cpu[stage] = out.cpu_s

    def build(self) -> None:
        from preprocess.image.demo_corpus import write_demo_corpus

        write_demo_corpus(self.corpus, num_digits=self.num_digits, num_shapes=4)
        home = self.work / "chain" / "clean"
        home.mkdir()
        self.snapshots["curate"] = self._snapshot(home, "before-curate")
        for stage, nxt in (("curate", "encode"), ("encode", "manifest"), ("manifest", "train"), ("train", None)):
            self._step(stage, home)
            self.expected[stage] = catalog_rows(home / "catalog.duckdb")
            if nxt:
                self.snapshots[nxt] = self._snapshot(home, f"before-{nxt}")
            if stage == "encode":  # registration alone: the encoded workspace with a fresh catalog
                self.snapshots["register"] = self._snapshot(home, "before-register", with_catalog=False)
                reg = self._snapshot(self.snapshots["register"], "clean-register")
                self._step("register", reg)
                self.expected["register"] = catalog_rows(reg / "catalog.duckdb")

    def _snapshot(self, home: Path, name: str, with_catalog: bool = True) -> Path:
        dest = self.work / "chain" / name
        shutil.copytree(home, dest, symlinks=True,
                        ignore=None if with_catalog else shutil.ignore_patterns("catalog.duckdb", "catalog.duckdb.wal"))
        return dest


@dataclass
class KillResult:
    stage: str
    point: str  # where the kill was aimed: a fraction of the clean stage's time, or a named moment
    after_s: float  # when it came
    landed: bool  # the process was still running when the SIGKILL came
    held_at: str = ""  # a named moment's hold point where the process stood when the SIGKILL came ("point:pass")
    rerun_ok: bool = False
    check_ok: bool = False
    lost: dict[str, int] = field(default_factory=dict)
    duplicated: dict[str, int] = field(default_factory=dict)
    runs_left_running: int = 0
    killed_runs: list[str] = field(default_factory=list)  # final status of the runs the killed process started
    orphans: int = 0
    temp_files_left: int = 0
    cpu_s: float = 0.0  # user + system seconds of the killed run and its rerun
    note: str = ""

    @property
    def survived(self) -> bool:
        return (self.landed and self.rerun_ok and self.check_ok and self.runs_left_running == 0 and self.orphans == 0
                and not any(self.lost.values()) and not any(self.duplicated.values()))  # every table's rows, metrics too


@dataclass(frozen=True)
class Moment:
    """A named moment where a kill hurts most: the stage has written part of its work and not the rest."""

    stage: str
    what: str
    point: str | None = None  # the hold point where the stage stops to be killed ("name" or "name:pass")
    holds: Callable[[Path], bool] | None = None  # else: watched on the workspace, every 5 ms
    args: tuple[str, ...] = ()  # added to the stage's command, the killed run's and its rerun's
    resume: bool | None = None  # train: rerun with --resume (None: when the catalog has a checkpoint)


# Each stage holds at a hold point of its own (contracts/hold_points.py) and is killed there, on a
# busy machine as on an idle one. Only the moment inside the catalog's first migration is watched
# (the catalog has no hold point): it lands when the 5 ms poll sees the file in time.
MOMENTS: dict[str, Moment] = {
    "curate": Moment("curate", "all batch files written, registration next", "curate.batches-written"),
    "encode": Moment("encode", "the first encoded shard written", "encode.shard-written"),
    "register": Moment("register", "the first batch registered, the second's transaction begun", "register.shard-registered:2"),
    "register-new-catalog": Moment("register", "the new catalog's write-ahead log exists",
                                   holds=lambda h: (h / "catalog.duckdb.wal").exists()),
    "train": Moment("train", "the second checkpoint folder published, its catalog rows not written", "train.checkpoint-published:2"),
    # the last one (6 of 6): its --resume trains nothing, and must register the folder and its rows all the same
    "train-last": Moment("train", "the last checkpoint folder (6 of 6) published, its catalog rows not written",
                         "train.checkpoint-published:3"),
    # each stage's own: after its work is registered, before its run is completed
    "curate-registered": Moment("curate", "every batch registered, the curate run not yet completed", "curate.registered"),
    "encode-registered": Moment("encode", "every shard registered, the encode run not yet completed", "encode.registered"),
    "manifest": Moment("manifest", "the manifest's rows and members written, its transaction not committed",
                       "manifest.members-written"),
    "train-written": Moment("train", "the second checkpoint written under its temporary name, not yet published",
                            "train.checkpoint-written:2"),
    "train-registered": Moment("train", "the second checkpoint's catalog row written, its log windows' rows not",
                               "train.checkpoint-registered:2"),
    "train-last-registered": Moment("train", "the last checkpoint's (6 of 6) catalog row written, its log windows' rows not",
                                    "train.checkpoint-registered:3"),
    # the first checkpoint: none in the catalog yet, so the rerun is the same command again (no --resume)
    "train-first-written": Moment("train", "the first checkpoint written under its temporary name, not yet published",
                                  "train.checkpoint-written:1"),
    "train-first": Moment("train", "the first checkpoint folder published, its catalog rows not written",
                          "train.checkpoint-published:1"),
    # the same, rerun as a user who knows the run was killed: --resume
    "train-first-resume": Moment("train", "the first checkpoint folder published, its catalog rows not written (rerun with "
                                 "--resume)", "train.checkpoint-published:1", resume=True),
    # --async-checkpoint: the writer thread publishes and registers while training goes on
    "train-async": Moment("train", "with --async-checkpoint, the second checkpoint published by the writer thread, its rows "
                          "not written", "train.checkpoint-published:2", args=("--async-checkpoint",)),
    "train-async-last": Moment("train", "with --async-checkpoint, the last checkpoint's catalog row written by the writer thread, "
                               "its log windows' rows not", "train.checkpoint-registered:3", args=("--async-checkpoint",)),
}
# one per stage, and the last checkpoint: published, and registered without its log windows' rows
QUICK_MOMENTS = ("curate", "encode", "register", "train", "train-last", "train-last-registered")


def _temp_entries(home: Path) -> int:
    """Leftovers of interrupted atomic writes (temp files and folders), counted once per top entry. A
    run folder's lock file is kept by design (training/state.py: RunFolderLock), so it is not one."""
    from training.state import LOCK_FILE

    is_temp = lambda p: (p.name.endswith(".tmp") or p.name.startswith(".")) and p.name != LOCK_FILE  # noqa: E731
    return sum(1 for p in home.rglob("*") if is_temp(p) and not any(is_temp(q) for q in p.relative_to(home).parents if q.name))


def kill_and_rerun(chain: Chain, stage: str, index: int, fraction: float | None = None, moment: str | None = None) -> KillResult:
    """Copy the workspace as it was before ``stage``, kill the stage at a fraction of its clean
    duration or at a named moment, rerun it, check the catalog and compare its rows."""
    home = chain.work / "kills" / f"{index:02d}-{stage}"
    home.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(chain.snapshots[stage], home, symlinks=True)
    logs = chain.log_dir / "kills"
    m = MOMENTS[moment] if moment is not None else None
    hold = (m.point, moment_mark(home)) if m is not None and m.point else None
    if m is not None:
        assert m.stage == stage, (moment, stage)
        point, after, when = f"when {m.what}", None, (None if hold else lambda: m.holds(home))
    else:
        point, after, when = f"{fraction:.0%} of the clean {chain.seconds[stage]:.1f} s", fraction * chain.seconds[stage], None
    args = m.args if m is not None else ()
    killed = run(chain.command(stage, home) + list(args), chain.work, logs / f"{index:02d}-{stage}-killed.log",
                 STAGE_TIMEOUT_S, kill_after=after, kill_when=when, hold=hold)
    res = KillResult(stage, point, round(killed.seconds, 2), killed.killed, orphans=killed.orphans, cpu_s=killed.cpu_s)
    if hold is not None:
        mark = read_mark(hold[1])
        res.held_at = f"{mark['point']}:{mark['pass']}" if mark else ""
    if not killed.killed:
        res.note = f"finished (rc {killed.rc}) before {'the moment' if m is not None else 'the kill'}"
        return res
    from catalog.errors import CatalogError

    catalog = home / "catalog.duckdb"
    before_runs, resume = set(), False
    try:  # a kill during the catalog's first migration leaves a file only a writer can open (the rerun)
        if catalog.exists():
            with held_catalog(catalog):
                before_runs = {r[0] for r in read_catalog(catalog, "SELECT run_id FROM runs")}
                resume = stage == "train" and bool(read_catalog(catalog, "SELECT count(*) FROM checkpoints")[0][0])
    except CatalogError as e:
        before_runs, resume = set(), False
        res.note = f"before the rerun: {e}"
    if m is not None and m.resume is not None:
        resume = m.resume
    rerun = run(chain.command(stage, home, resume=resume) + list(args), chain.work, logs / f"{index:02d}-{stage}-rerun.log", STAGE_TIMEOUT_S)
    res.cpu_s += rerun.cpu_s
    res.rerun_ok = rerun.rc == 0
    res.temp_files_left = _temp_entries(home)
    if not res.rerun_ok:
        res.note = f"rerun{' --resume' if resume else ''} failed (rc {rerun.rc}): {rerun.tail(400)}"
        return res
    res.cpu_s = round(res.cpu_s, 1)
    with held_catalog(catalog):
        violations = catalog_check(catalog)
        got, want = catalog_rows(catalog), chain.expected[stage]
        runs = read_catalog(catalog, "SELECT run_id, status FROM runs")
    res.check_ok = not violations
    if violations:
        res.note = f"catalog check: {violations}"
    res.lost = {t: sum((want[t] - got[t]).values()) for t in ROW_QUERIES}
    res.duplicated = {t: sum((got[t] - want[t]).values()) for t in ROW_QUERIES}
    res.runs_left_running = sum(s == "running" for _, s in runs)
    clean_runs = _clean_run_ids(chain, stage)
    res.killed_runs = [s for r, s in runs if r in before_runs and r not in clean_runs]
    if resume:
        res.note = "; ".join(filter(None, (res.note, "rerun with --resume")))
    return res


def _clean_run_ids(chain: Chain, stage: str) -> set[str]:
    cat = chain.snapshots[stage] / "catalog.duckdb"
    return {r[0] for r in read_catalog(cat, "SELECT run_id FROM runs")} if cat.exists() else set()


def kills(work: Path, log_dir: Path, seed: int, want: int, max_tries: int, num_digits: int, moments: bool,
          text: str = "minilm", aimed: tuple[str, ...] = ()) -> dict[str, Any]:
    """Random kills until ``want`` have landed (stages in turn; a stage whose kill came too late
    is tried again), then, with ``moments``, one kill per named moment. ``aimed``: instead of
    the random ones, one kill at each of these named moments (--quick: QUICK_MOMENTS), none tried again."""
    chain = Chain(work, log_dir, num_digits, text)
    chain.build()
    rng = random.Random(seed)
    results: list[KillResult] = []
    if aimed:
        results = [kill_and_rerun(chain, MOMENTS[m].stage, i, moment=m) for i, m in enumerate(aimed)]
    for i in range(0 if aimed else max_tries):
        landed = sum(r.landed for r in results)
        if landed >= want:
            break
        stage = STAGES[landed % len(STAGES)]
        results.append(kill_and_rerun(chain, stage, i, fraction=rng.uniform(0.02, 0.9)))
        if not results[-1].landed:  # it ran faster than the clean run did (warm caches, less load): aim by its time
            chain.seconds[stage] = min(chain.seconds[stage], results[-1].after_s)
    targeted = [kill_and_rerun(chain, m.stage, len(results) + j, moment=name) for j, (name, m) in enumerate(MOMENTS.items())] if moments else []
    landed = [r for r in results if r.landed]
    total = lambda what, tables: sum(sum(getattr(r, what).get(t, 0) for t in tables) for r in landed)  # noqa: E731
    return {
        "seed": seed,
        "text_encoder": text,
        "clean_seconds": {k: round(v, 1) for k, v in chain.seconds.items()},
        "clean_cpu_seconds": {k: round(v, 1) for k, v in chain.cpu.items()},
        "clean_rows": {s: {t: sum(c.values()) for t, c in rows.items()} for s, rows in chain.expected.items()},
        "kills_tried": len(results),
        "kills_landed": len(landed),
        "kills_survived": sum(r.survived for r in landed),
        "kills_per_stage": dict(Counter(r.stage for r in landed)),
        "rows_lost": total("lost", HEADLINE_TABLES),
        "rows_duplicated": total("duplicated", HEADLINE_TABLES),
        "other_rows_lost": {t: total("lost", (t,)) for t in ROW_QUERIES if t not in HEADLINE_TABLES},
        "other_rows_duplicated": {t: total("duplicated", (t,)) for t in ROW_QUERIES if t not in HEADLINE_TABLES},
        "runs_left_running": sum(r.runs_left_running for r in landed),
        "catalog_check_failures": sum(not r.check_ok for r in landed if r.rerun_ok),
        "rerun_failures": sum(not r.rerun_ok for r in landed),
        "processes_left_behind": sum(r.orphans for r in results),
        "temp_files_left": sum(r.temp_files_left for r in landed),
        "kills": [asdict(r) | {"survived": r.survived} for r in results],
        "targeted": [asdict(r) | {"survived": r.survived} for r in targeted],
    }


# =========================================================================== report and entry point


def print_report(report: dict[str, Any]) -> None:
    h, k = report.get("hostile"), report.get("kills")
    if h:
        print("hostile inputs")
        for label, key in (("inputs tried", "inputs_tried"), ("accounted for with a reason", "accounted_with_reason"),
                           ("silently wrong", "silently_wrong"), ("unexpected outcome", "unexpected_outcome"),
                           ("reasons differing across runs", "reasons_differing_across_runs"), ("crashes", "crashes"), ("hangs", "hangs")):
            print(f"  {label:32s}{h[key]}")
        for f in h["findings"]:
            print(f"    - {f}")
    if k:
        print(f"kills (seed {k['seed']}; clean stage wall seconds {k['clean_seconds']}, CPU seconds {k['clean_cpu_seconds']})")
        print(f"  {'kills survived':32s}{k['kills_survived']} of {k['kills_landed']} landed ({k['kills_per_stage']}; {k['kills_tried']} tried)")
        for label, key in (("rows lost", "rows_lost"), ("rows duplicated", "rows_duplicated"), ("runs left running", "runs_left_running"),
                           ("catalog check failures", "catalog_check_failures"), ("rerun failures", "rerun_failures"),
                           ("processes left behind", "processes_left_behind"), ("temp files left", "temp_files_left"),
                           ("other rows lost", "other_rows_lost"), ("other rows duplicated", "other_rows_duplicated")):
            print(f"  {label:32s}{k[key]}")
        for r in k["kills"]:
            if not r["survived"] or r["note"]:
                print(f"    - {_kill_line(r)}")
        if k["targeted"]:
            print(f"  {'targeted kills survived':32s}{sum(r['survived'] for r in k['targeted'])} of {sum(r['landed'] for r in k['targeted'])} landed")
            for r in k["targeted"]:
                print(f"    - {_kill_line(r)}")


def _kill_line(r: dict) -> str:
    bad = {t: n for t, n in r["lost"].items() if n} | {f"+{t}": n for t, n in r["duplicated"].items() if n}
    status = "survived" if r["survived"] else "LANDED, NOT SURVIVED" if r["landed"] else "missed"
    runs = f" killed run: {', '.join(r['killed_runs'])};" if r["killed_runs"] else ""
    held = f", held at {r['held_at']}" if r.get("held_at") else ""
    temp = f" temp files left: {r['temp_files_left']};" if r.get("temp_files_left") else ""
    return f"{r['stage']} killed {r['point']} (at {r['after_s']} s{held}): {status};{runs}{temp} {'rows ' + str(bad) if bad else ''} {r['note']}".rstrip()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["register"]:
        p = argparse.ArgumentParser(prog="faults.py register")
        p.add_argument("--home", required=True)
        ra = p.parse_args(argv[1:])
        register_main(ra.home)
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="one kill per stage, at its named moment, on a smaller chain with phone captions (what make test runs)")
    p.add_argument("--kills", type=int, help="random kills that must land (default 20; with --quick, instead of the aimed ones)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--text", choices=["minilm", "phone"],
                   help="the chain's caption encoder (default: minilm; quick: phone, which loads no model: 5-7 s less CPU per encode run)")
    p.add_argument("--moment", action="append", choices=list(MOMENTS), metavar="NAME",
                   help=f"kill only at this named moment (again for more; instead of the random or --quick kills): {', '.join(MOMENTS)}")
    p.add_argument("--skip", choices=["hostile", "kills"], help="run only the other half")
    p.add_argument("--out", help="working folder (default: a temporary one, removed unless --keep)")
    p.add_argument("--keep", action="store_true", help="keep the working folder (corpus, workspaces, logs)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--report", metavar="FILE", help="only print a report saved earlier with --json")
    a = p.parse_args(argv)
    if a.report:
        print_report(json.loads(Path(a.report).read_text()))
        return 0
    want = a.kills or 20
    aimed = tuple(a.moment) if a.moment else QUICK_MOMENTS if a.quick and not a.kills else ()
    work = Path(a.out or tempfile.mkdtemp(prefix="lumina-faults-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    t = time.monotonic()
    report: dict[str, Any] = {"quick": a.quick, "work": str(work)}
    try:
        if a.skip != "hostile":
            report["hostile"] = hostile_inputs(work, work / "logs")
        if a.skip != "kills":
            report["kills"] = kills(work, work / "logs", a.seed, want, max_tries=want + 4 if a.quick else 2 * want,
                                    num_digits=8 if a.quick else 12, moments=not (a.quick or a.moment),
                                    text=a.text or ("phone" if a.quick else "minilm"),
                                    aimed=aimed)
    finally:
        report["seconds"] = round(time.monotonic() - t, 1)
        import resource

        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        report["cpu_seconds"] = round(me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, 1)
        if not (a.keep or a.out):
            shutil.rmtree(work, ignore_errors=True)
    if a.json:
        print(json.dumps(report, indent=1, default=str))
    else:
        print_report(report)
        print(f"({report['seconds']} s wall, {report['cpu_seconds']} s CPU; work folder {work}{'' if a.keep or a.out else ', removed'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
