"""Webdataset tars that are not what they seem, recorded with why, never read as something else or
silently lost. A tar cut short is recorded as cut wherever the cut falls: Python's tarfile reads a
tar cut on a member boundary (as an interrupted copy leaves it) as a valid shorter tar, and only
the missing end-of-archive marker (two zero blocks after the last member) tells. The members
before the cut are still curated, as they are for a cut inside a member."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from contracts.records import Batch
from preprocess.curate import CurateConfig, curate
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


def _write_webdataset(path: Path) -> None:
    wds = pytest.importorskip("webdataset")
    pairs = _pairs()
    with wds.TarWriter(str(path)) as sink:
        for (png, image), (_, caption) in zip(pairs[::2], pairs[1::2]):
            sink.write({"__key__": png[:-4], "png": image, "txt": caption.decode()})


def _write_gnu_tar(path: Path) -> None:
    if shutil.which("tar") is None:
        pytest.skip("no tar command")
    src = path.parent / "gnu-src"
    src.mkdir()
    for name, data in _pairs():
        (src / name).write_bytes(data)
    subprocess.run(["tar", "-cf", str(path), "-C", str(src), *sorted(p.name for p in src.iterdir())], check=True)


WRITERS = {"tarfile": _write_tarfile, "webdataset": _write_webdataset, "gnu_tar": _write_gnu_tar}


def _boundaries(path: Path) -> list[int]:
    """The byte at which each member's header starts, then where the end-of-archive marker starts."""
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        return [m.offset for m in members] + [tar.offset]


def _listed(path: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """(member names, (kind, detail) of each entry that is no member)."""
    entries = list_entries(SourceSpec(str(path.parent / "*.tar")))
    members = [e.name.split("/", 1)[1] for e in entries if e.kind == "file"]
    return members, [(e.kind, e.detail) for e in entries if e.kind != "file"]


@pytest.fixture(params=sorted(WRITERS))
def whole(request, tmp_path) -> Path:
    path = tmp_path / "whole" / "part-0.tar"
    path.parent.mkdir()
    WRITERS[request.param](path)
    return path


def _cut(whole: Path, size: int, tmp_path: Path, data: bytes | None = None) -> Path:
    out = tmp_path / f"cut-{size}" / whole.name
    out.parent.mkdir()
    out.write_bytes((data if data is not None else whole.read_bytes())[:size])
    return out


def test_an_intact_tar_lists_every_member_and_nothing_else(whole, tmp_path):
    members, others = _listed(whole)
    assert len(members) == 2 * N_PAIRS and others == []
    end = _boundaries(whole)[-1]
    assert whole.stat().st_size > end + 1024  # padded to a 10240-byte record: more zero blocks after the marker
    members, others = _listed(_cut(whole, end + 1024, tmp_path))  # the marker alone, no padding after it
    assert len(members) == 2 * N_PAIRS and others == []


def test_a_tar_cut_on_a_member_boundary_is_recorded_as_cut(whole, tmp_path):
    starts = _boundaries(whole)
    for k in (1, 8, 2 * N_PAIRS - 1, 2 * N_PAIRS):  # after 1, 8, 15 members, and after all 16 but before the marker
        members, others = _listed(_cut(whole, starts[k], tmp_path))
        assert len(members) == k, k  # the members before the cut are still read
        assert others == [("truncated_archive", f"cut short: ends at byte {starts[k]} without the end-of-archive marker")], k
    # one zero block of the two that end a tar: nothing is lost, but the file is cut all the same
    members, others = _listed(_cut(whole, starts[-1] + 512, tmp_path))
    assert len(members) == 2 * N_PAIRS
    assert others == [("truncated_archive", f"cut short: ends at byte {starts[-1] + 512} without the end-of-archive marker")]


def test_a_tar_cut_inside_a_header_or_a_member_is_recorded_as_cut(whole, tmp_path):
    starts = _boundaries(whole)
    members, others = _listed(_cut(whole, starts[4] + 100, tmp_path))  # inside the 5th header
    assert len(members) == 4 and others == [("truncated_archive", f"cut short: ends at byte {starts[4] + 100} without the end-of-archive marker")]
    with tarfile.open(whole) as tar:
        data_start = tar.getmembers()[4].offset_data  # after a pax header where the writer puts one
    members, others = _listed(_cut(whole, data_start + 100, tmp_path))  # inside the 5th member's data: it is listed, cut
    assert len(members) == 5 and others == [("truncated_archive", "ReadError: unexpected end of data")]


def test_a_last_member_that_ends_at_the_end_of_the_file_is_recorded_as_cut(tmp_path):
    """No padding and no marker after the last member's data: tarfile reads the whole member."""
    for size in (1024, 1000):  # data that fills its blocks, and data that does not
        path = tmp_path / f"last-{size}" / "part-0.tar"
        path.parent.mkdir()
        with tarfile.open(path, "w") as tar:
            info = tarfile.TarInfo("a.bin")
            info.size = size
            tar.addfile(info, io.BytesIO(bytes(range(256)) * 4))
        path.write_bytes(path.read_bytes()[: 512 + size])
        members, others = _listed(path)
        assert members == ["a.bin"] and [k for k, _ in others] == ["truncated_archive"], size


def test_a_damaged_header_after_some_members_is_recorded(tmp_path):
    """tarfile also stops without a word at a header it cannot parse: the members after it are lost."""
    whole = tmp_path / "whole" / "part-0.tar"
    whole.parent.mkdir()
    _write_tarfile(whole)
    starts = _boundaries(whole)
    data = bytearray(whole.read_bytes())
    data[starts[6] : starts[6] + 512] = b"\xff" * 512
    members, others = _listed(_cut(whole, len(data), tmp_path, bytes(data)))
    assert len(members) == 6 and others == [("truncated_archive", f"no valid member header at byte {starts[6]}: the rest is not read")]


def test_curating_a_tar_cut_on_a_member_boundary_accounts_for_the_cut(tmp_path):
    """The user's case: 16 members cut after the 8th: 4 samples and a row that says the tar was cut."""
    whole = tmp_path / "whole" / "part-0.tar"
    whole.parent.mkdir()
    _write_tarfile(whole)
    cut = _cut(whole, _boundaries(whole)[8], tmp_path)
    result = curate(str(cut.parent / "*.tar"), tmp_path / "home", CurateConfig(options={"vae_factor": 1}), backend="local")
    rows = [s for p in result.batch_paths for s in Batch.read(p).samples]
    assert result.counts == {"accepted": 4, "rejected": 1}, [(s.status, s.reason) for s in rows]
    [damaged] = [s for s in rows if s.status == "rejected"]
    assert damaged.reason == f"truncated_archive: part-0.tar (cut short: ends at byte {_boundaries(whole)[8]} without the end-of-archive marker)"
    assert damaged.source_uri == str(cut.resolve())


@pytest.mark.parametrize("mode, kind", [("gz", "gzip"), ("bz2", "bzip2"), ("xz", "xz")])
def test_a_compressed_tar_is_recorded_unread(tmp_path, mode, kind):
    """Members are read in place by their offset, which a compressed tar has not: reading it so
    gave compressed bytes as images and captions. It is one `unreadable_archive` row, with why."""
    whole = tmp_path / "whole" / "part-0.tar"
    whole.parent.mkdir()
    _write_tarfile(whole)
    packed = tmp_path / mode / f"part-0.tar.{mode}"
    packed.parent.mkdir()
    with tarfile.open(packed, f"w:{mode}") as tar:
        with tarfile.open(whole) as src:
            for m in src.getmembers():
                tar.addfile(m, src.extractfile(m))
    entries = list_entries(SourceSpec(str(packed.parent / f"*.tar.{mode}")))
    assert [(e.kind, e.detail) for e in entries] == [
        ("unreadable_archive", f"{kind}-compressed: its members cannot be read in place; decompress it first")]


@pytest.mark.parametrize("name", ["shards.tar.gz", "shards.tgz", "shards.tar.zst"])
def test_a_single_compressed_tar_given_without_a_glob_is_told_to_be_decompressed(tmp_path, name):
    from preprocess.sources import SourceError, detect_kind

    (tmp_path / name).write_bytes(b"\x1f\x8b\x08\x00")
    with pytest.raises(SourceError, match="is a compressed tar: decompress it first"):
        detect_kind(str(tmp_path / name))
