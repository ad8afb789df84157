"""Webdataset tars that are not what they seem: a compressed tar (and, below, a tar cut short) is
recorded with why, never read as something else or silently lost."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from preprocess.sources import SourceSpec, list_entries

N_PAIRS = 8  # an image and its caption each: 16 members


def _pairs() -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(N_PAIRS):
        buf = io.BytesIO()
        Image.fromarray((rng.random((24, 40, 3)) * 255).astype(np.uint8)).save(buf, format="PNG")
        out += [(f"{i:06d}.png", buf.getvalue()), (f"{i:06d}.txt", f"coloured noise number {i}".encode())]
    return out


def _write_tarfile(path: Path) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in _pairs():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_a_compressed_tar_is_recorded_unread(tmp_path):
    """Members are read in place by their offset, which a gzip-compressed tar has not: reading it so
    gave compressed bytes as images and captions. It is one `unreadable_archive` row, with why."""
    whole = tmp_path / "whole" / "part-0.tar"
    whole.parent.mkdir()
    _write_tarfile(whole)
    gz = tmp_path / "gz" / "part-0.tar.gz"
    gz.parent.mkdir()
    with tarfile.open(gz, "w:gz") as tar:
        with tarfile.open(whole) as src:
            for m in src.getmembers():
                tar.addfile(m, src.extractfile(m))
    entries = list_entries(SourceSpec(str(gz.parent / "*.tar.gz")))
    assert [(e.kind, e.detail) for e in entries] == [
        ("unreadable_archive", "gzip-compressed: its members cannot be read in place; decompress it first")]
