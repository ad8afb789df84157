"""The stream's own tar header reader gives tarfile's (name -> data offset, size) on every archive
form a shard may come in, and hands any other to tarfile."""

from __future__ import annotations

import io
import tarfile

import pytest

from training.stream import DamagedShard, _scan_tar_headers, _tar_table


def tarfile_table(path) -> dict[str, tuple[int, int]]:
    with tarfile.open(path) as tar:
        return {i.name: (i.offset_data, i.size) for i in tar if i.isfile()}


def write(path, fmt, members):
    with tarfile.open(path, "w", format=fmt) as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = "x"
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return path


MEMBERS = [
    ("000001.latent.npy", b"a" * 700, tarfile.REGTYPE),
    ("000001.meta.json", b"{}", tarfile.REGTYPE),
    ("empty.txt", b"", tarfile.REGTYPE),
    ("d", b"", tarfile.DIRTYPE),
    ("d/link", b"", tarfile.SYMTYPE),
    ("deep/" * 30 + "sample.cap_feats.npy", b"b" * 1500, tarfile.REGTYPE),  # past ustar's 100 + 155
    ("x" * 120 + ".cap_mask.npy", b"c" * 3, tarfile.REGTYPE),  # a name past 100 bytes, no slash
    ("pre/" * 30 + "fix.npy", b"d" * 10, tarfile.REGTYPE),  # ustar's prefix field: 120 + 7 bytes
    ("ünïcödé-キー.meta.json", b"e" * 513, tarfile.REGTYPE),
]


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT])
def test_every_tar_format_reads_as_tarfile_reads_it(tmp_path, fmt):
    members = MEMBERS if fmt != tarfile.USTAR_FORMAT else [m for m in MEMBERS if "deep/" not in m[0] and "xxx" not in m[0]]
    path = write(tmp_path / "a.tar", fmt, members)
    expected = tarfile_table(path)
    assert _scan_tar_headers(str(path)) == expected == _tar_table(str(path))
    assert len(expected) == len([m for m in members if m[2] == tarfile.REGTYPE])


def test_the_encode_stages_shards_read_the_same(tmp_path):
    from training.synthetic import write_synthetic_shards

    manifest = write_synthetic_shards(tmp_path, [(4, 1, 8, 8)] * 30, per_shard=10)
    shards = sorted({m.encodings["latent"][0] for m in manifest.members})
    assert len(shards) == 3
    for shard in shards:
        assert _scan_tar_headers(shard) == tarfile_table(shard) and len(tarfile_table(shard)) >= 10


def test_a_damaged_header_goes_to_tarfile(tmp_path):
    path = write(tmp_path / "a.tar", tarfile.PAX_FORMAT, MEMBERS[:2])
    raw = bytearray(path.read_bytes())
    raw[5] ^= 0x01  # the first name changes, its checksum no longer agrees
    path.write_bytes(bytes(raw))
    with pytest.raises(DamagedShard, match=f"encoded shard {path} cannot be read"):  # not a silently wrong table
        _tar_table(str(path))


@pytest.mark.parametrize("cut", [300, 600, 1100, 1600])
def test_a_shard_cut_short_is_named_in_one_line(tmp_path, cut):
    """A truncated copy: a one-line error naming the shard (it was tarfile's ReadError traceback
    'unexpected end of data', which named no file), or, cut between members, the members before."""
    path = write(tmp_path / "a.tar", tarfile.PAX_FORMAT, MEMBERS[:2])
    whole = tarfile_table(path)
    path.write_bytes(path.read_bytes()[:cut])
    try:
        table = _tar_table(str(path))
    except DamagedShard as e:
        assert str(path) in str(e) and "lumina encode" in str(e) and "\n" not in str(e)
    else:  # every member it lists is whole
        assert all(whole[name] == loc and loc[0] + loc[1] <= cut for name, loc in table.items())


def test_a_member_missing_from_its_shard_is_named(tmp_path):
    from training.stream import ShardReader

    path = write(tmp_path / "a.tar", tarfile.PAX_FORMAT, MEMBERS[:2])
    reader = ShardReader()
    assert reader.loc(str(path), "000001.meta.json").size == 2
    with pytest.raises(DamagedShard, match=f"encoded shard {path} has no member 000002.latent.npy"):
        reader.loc(str(path), "000002.latent.npy")


def test_a_sparse_member_goes_to_tarfile(tmp_path):
    path = write(tmp_path / "a.tar", tarfile.GNU_FORMAT, MEMBERS[:1])
    raw = bytearray(path.read_bytes())
    raw[156:157] = b"S"  # GNU sparse: a size this reader would get wrong
    raw[148:156] = b"%06o\0 " % (sum(raw[:148]) + 256 + sum(raw[156:512]))
    path.write_bytes(bytes(raw))
    with pytest.raises(Exception) as e:
        _scan_tar_headers(str(path))
    assert type(e.value).__name__ == "_UnknownTar"
    assert isinstance(_tar_table(str(path)), dict)  # tarfile's answer, whatever it makes of it


def _tar_bytes(members, fmt=tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_a_member_cut_short_goes_to_tarfile(tmp_path):
    """A tar still being written: the second member's data is only partly there. The reader gave it
    a size past the end, and the error came later, from the payload, naming neither shard nor cause."""
    path = tmp_path / "cut.tar"
    path.write_bytes(_tar_bytes([("a.latent.npy", b"x" * 3000), ("a.meta.json", b"{}" * 10)])[:512 + 3072 + 512 + 5])
    with pytest.raises(DamagedShard, match="unexpected end of data"):
        _tar_table(str(path))


def test_a_pax_record_of_length_zero_goes_to_tarfile(tmp_path):
    """The pax payload is not under the header's checksum: a record of length 0 looped for good."""
    raw = bytearray(_tar_bytes([("p" * 120 + ".npy", b"y" * 10)]))
    i = raw.index(b" path=")
    j = i
    while raw[j - 1:j].isdigit():
        j -= 1
    raw[j:i] = b"0" * (i - j)
    path = tmp_path / "pax0.tar"
    path.write_bytes(bytes(raw))
    with pytest.raises(DamagedShard, match="invalid header"):
        _tar_table(str(path))


def test_a_directory_header_with_a_size_carries_no_data(tmp_path):
    """ustar lets a directory's size be an allocation hint; skipping that many bytes hid the next member."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        d = tarfile.TarInfo("d")
        d.type = tarfile.DIRTYPE
        tar.addfile(d)
        for name in ("a.latent.npy", "b.latent.npy"):
            info = tarfile.TarInfo(name)
            info.size = 300
            tar.addfile(info, io.BytesIO(b"q" * 300))
    raw = bytearray(buf.getvalue())
    raw[124:136] = b"%011o\0" % 1024
    raw[148:156] = b"        "
    raw[148:156] = b"%06o\0 " % sum(raw[:512])
    path = tmp_path / "dir.tar"
    path.write_bytes(bytes(raw))
    assert _scan_tar_headers(str(path)) == tarfile_table(path) and set(tarfile_table(path)) == {"a.latent.npy", "b.latent.npy"}


def test_a_global_pax_header_reads_as_tarfile_reads_it(tmp_path):
    """git archive writes a global header with a comment: it names no member and is passed over. A
    global path (or size) record changes the later pax members' names in tarfile, so it goes there."""
    for globals_ in ({"comment": "0123abcd"}, {"path": "shared.npy"}, {"size": "5"}):
        path = tmp_path / "g.tar"
        with tarfile.open(path, "w", format=tarfile.PAX_FORMAT, pax_headers=globals_) as tar:
            for name, data in (("a.latent.npy", b"a" * 40), ("ü.meta.json", b"{}"), ("p" * 120 + ".npy", b"z")):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        assert _tar_table(str(path)) == tarfile_table(path)
        if "comment" in globals_:
            assert _scan_tar_headers(str(path)) == tarfile_table(path)
            assert sorted(tarfile_table(path)) == ["a.latent.npy", "p" * 120 + ".npy", "ü.meta.json"]
        else:
            with pytest.raises(Exception) as e:
                _scan_tar_headers(str(path))
            assert type(e.value).__name__ == "_UnknownTar"
