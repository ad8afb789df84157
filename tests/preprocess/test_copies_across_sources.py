"""Curating a second folder that holds a copy of a file the catalog already has from a first
folder: the copy is an exact_duplicate row, and the original keeps its provenance."""

from __future__ import annotations

import shutil

import pytest

from catalog.db import Catalog
from flows.steps import curate_step
from preprocess.curate import CurateConfig
from preprocess.image.demo_corpus import write_demo_corpus

CFG = CurateConfig(options={"resize": "square", "size": 32})


@pytest.fixture
def two_folders(tmp_path):
    digits = write_demo_corpus(tmp_path / "corpus", num_digits=6, num_shapes=0, seed=0).root / "digits"
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    for stem in ("digit_00000", "digit_00001", "digit_00002"):
        for suffix in (".png", ".txt"):
            shutil.copy(digits / (stem + suffix), first / (stem + suffix))
    for suffix in (".png", ".txt"):
        shutil.copy(digits / ("digit_00000" + suffix), second / ("copy" + suffix))  # a copy of a first-folder file
        shutil.copy(digits / ("digit_00003" + suffix), second / ("own" + suffix))
    return first, second


def rows(home, where: str) -> list[tuple]:
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        return cat.sql(f"SELECT key, source_uri, status, reason FROM samples WHERE {where} ORDER BY source_uri")[1]


def test_a_copy_in_another_folder_is_an_exact_duplicate_and_the_original_keeps_its_file(two_folders, tmp_path):
    first, second = two_folders
    home = tmp_path / "home"
    curate_step(str(first), str(home), CFG, backend="local")
    [(key, uri, status, _)] = rows(home, "source_uri LIKE '%digit_00000.png'")
    assert status == "accepted"

    curate_step(str(second), str(home), CFG, backend="local")
    assert rows(home, f"key = '{key}'") == [(key, uri, "accepted", None)]  # not moved to the copy
    [(dup_key, copy_uri, status, reason)] = rows(home, "source_uri LIKE '%copy.png'")
    assert (status, reason) == ("rejected", f"exact_duplicate: same content as {key}") and dup_key != key
    assert [r[2] for r in rows(home, "source_uri LIKE '%own.png'")] == ["accepted"]

    before = rows(home, "source_uri LIKE '%second%'")
    curate_step(str(second), str(home), CFG, backend="local")  # again: the same rows
    assert rows(home, "source_uri LIKE '%second%'") == before
    assert rows(home, f"key = '{key}'") == [(key, uri, "accepted", None)]


def test_a_sample_whose_file_is_gone_moves_to_the_copy(two_folders, tmp_path):
    first, second = two_folders
    home = tmp_path / "home"
    curate_step(str(first), str(home), CFG, backend="local")
    [(key, _, _, _)] = rows(home, "source_uri LIKE '%digit_00000.png'")
    (first / "digit_00000.png").unlink()  # the first folder's file was moved away
    curate_step(str(second), str(home), CFG, backend="local")
    [(_, uri, status, _)] = rows(home, f"key = '{key}'")
    assert uri.endswith("copy.png") and status == "accepted"
