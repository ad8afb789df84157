"""Content-addressed sample keys, the train/holdout split and file hashes (contracts/keys.py): a key
that changed between two runs would register every sample again, a split that changed would leak
held-out samples into training."""

from __future__ import annotations

import hashlib

from contracts.keys import KEY_LEN, file_sha256, sample_key, split_of


def _sha(*chunks: bytes) -> str:
    h = hashlib.sha256()
    for c in chunks:
        h.update(c)
    return h.hexdigest()


def test_a_key_is_the_first_32_hex_of_the_length_prefixed_parts():
    assert KEY_LEN == 32
    expected = _sha((2).to_bytes(8, "little"), b"ab", (1).to_bytes(8, "little"), b"c")[:32]
    assert sample_key(b"ab", b"c") == expected
    assert len(sample_key(b"x")) == 32 and sample_key() == _sha()[:32]


def test_the_length_prefix_keeps_parts_apart():
    assert sample_key("ab", "c") != sample_key("a", "bc")
    assert sample_key("abc") != sample_key("ab", "c")
    assert sample_key("", "x") != sample_key("x")


def test_text_is_its_utf8_bytes_and_undecodable_names_keep_their_bytes():
    assert sample_key("zürich") == sample_key("zürich".encode("utf-8"))
    raw = b"caf\xe9.png"  # a Latin-1 file name, as os.fsdecode gives it back: surrogate-escaped
    assert sample_key(raw.decode("utf-8", "surrogateescape")) == sample_key(raw)


def test_the_same_input_gives_the_same_key_and_another_input_another():
    assert sample_key(b"\x00" * 10, "a cat") == sample_key(b"\x00" * 10, "a cat")
    assert sample_key(b"\x00" * 10, "a cat") != sample_key(b"\x00" * 10, "a dog")


def test_the_split_is_the_first_8_hex_of_the_key_modulo_100_against_the_percent():
    # int("00000013", 16) = 19, % 100 = 19: holdout below 20, train at 19 and under
    assert split_of("00000013" + "f" * 24) == "holdout"
    assert split_of("00000014" + "0" * 24) == "train"  # 20 is not below 20
    assert split_of("00000013" + "0" * 24, holdout_percent=19) == "train"
    assert split_of("00000000" + "f" * 24, holdout_percent=0) == "train"
    assert split_of("ffffffff" + "0" * 24) == "train"  # 4294967295 % 100 = 95
    # only the first 8 hex digits count
    assert split_of("00000013" + "0" * 24) == split_of("00000013" + "f" * 24)
    assert split_of("00000113" + "0" * 24) == "train"  # 275 % 100 = 75
    assert split_of("00000064" + "0" * 24) == "holdout"  # 100 % 100 = 0: the percent wraps at 100, not 101


def test_the_split_of_many_keys_is_near_the_percent():
    keys = [sample_key(str(i)) for i in range(5000)]
    share = sum(split_of(k) == "holdout" for k in keys) / len(keys)
    assert 0.18 < share < 0.22
    assert sum(split_of(k, holdout_percent=50) == "holdout" for k in keys) / len(keys) > 0.45


def test_a_file_hash_is_its_sha256_across_read_blocks(tmp_path):
    p = tmp_path / "big.bin"
    data = bytes(range(256)) * ((1 << 20) // 256 * 2 + 3)  # two whole 1 MiB blocks and a part
    p.write_bytes(data)
    assert file_sha256(p) == hashlib.sha256(data).hexdigest()
    e = tmp_path / "empty"
    e.write_bytes(b"")
    assert file_sha256(str(e)) == hashlib.sha256(b"").hexdigest()
