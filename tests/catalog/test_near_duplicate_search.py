"""The catalog's near-duplicate search returns only the samples within reach of a candidate: a
shared 16-bit band alone matched almost every sample of a large catalog, and all of them were
handed to Python (bench/bench_near_duplicates.py)."""

from __future__ import annotations

from catalog import Catalog
from catalog.near_duplicates import signatures_sharing_a_band, words

COLOUR = bytes(48).hex()


def _catalog(path, phashes: dict[str, int]) -> None:
    with Catalog.open(path) as cat:
        run = cat.start_run("curate", {"source": "/old"})
        with cat._connection() as con:
            for key, h in phashes.items():
                con.execute("INSERT INTO samples (key, modality, source_uri, split, meta, status, first_run, last_run) "
                            "VALUES ($1, 'image', $2, 'train', $3::JSON, 'accepted', $4, $4)",
                            [key, f"/old/{key}.png", f'{{"phash": "{h:064x}", "colour_signature": "{COLOUR}"}}', run])
        cat.finish_run(run)


def test_only_samples_within_the_distance_come_back_not_every_one_sharing_a_band(tmp_path):
    candidate = (0x0123456789ABCDEF << 192) | (0xFEDCBA9876543210 << 128) | (0x0F0F0F0F0F0F0F0F << 64) | 0x1234
    far_same_band = candidate ^ (((1 << 40) - 1) << 100)  # band 0 (the low 16 bits) equal, 40 bits apart
    _catalog(tmp_path / "c.duckdb", {"near": candidate ^ 0b1011 << 200,  # 3 bits apart
                                     "edge": candidate ^ ((1 << 15) - 1) << 16,  # 15 bits apart
                                     "far": far_same_band, "unrelated": ~candidate & ((1 << 256) - 1)})
    found = signatures_sharing_a_band(tmp_path / "c.duckdb", "image", [candidate], set(), set())
    assert [k.key for k in found] == ["edge", "near"]  # every pair the banded search guarantees (< 16 bits)
    assert [k.key for k in signatures_sharing_a_band(tmp_path / "c.duckdb", "image", [candidate], set(), set(),
                                                      max_distance=3)] == ["near"]
    assert found[1].phash == candidate ^ 0b1011 << 200 and found[1].colour == bytes(48)


def test_words_are_the_hash_s_hex_digits_in_four_64_bit_groups():
    h = int("0123456789abcdef" "fedcba9876543210" "0f0f0f0f0f0f0f0f" "0000000000001234", 16)
    assert words(h) == (0x0123456789ABCDEF, 0xFEDCBA9876543210, 0x0F0F0F0F0F0F0F0F, 0x1234)
