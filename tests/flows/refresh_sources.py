"""Sources for the refresh tests of repeated names and for the catalogs in fixtures/refresh_v6_*
(fixtures/refresh_v6_catalog/make_fixture.py builds them with older code): standard library only,
so that code can import this module too. The demo corpus is deterministic, so the same call gives
the same member bytes and the fixtures' index rows match them."""

from __future__ import annotations

import csv
import shutil
import tarfile
from pathlib import Path


DISTINCT_DIGITS, REPEATED_DIGITS = 6, 9  # the demo corpus each set of sources is made of (write_demo_corpus num_digits)


def tar_of(path: Path, members: list[tuple[str, Path]], mode: str = "w") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode) as tar:
        for arcname, file in members:
            tar.add(file, arcname=arcname)


def distinct_sources(root: Path, digits: Path) -> list[str]:
    """Tars of distinct names in two folders under one glob, and a listing: no name twice."""
    for folder, numbers in (("a", (0, 1)), ("b", (2, 3))):
        tar_of(root / "shards" / folder / f"part{numbers[0]}.tar",
               [(f"digit_{i:05d}{s}", digits / f"digit_{i:05d}{s}") for i in numbers for s in (".png", ".txt")])
    with open(root / "listing.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "caption"])
        w.writerows([f"corpus/digits/digit_{i:05d}.png", (digits / f"digit_{i:05d}.txt").read_text()] for i in (4, 5))
    return [str(root / "shards" / "*" / "*.tar"), str(root / "listing.csv")]


def appended_tar(root: Path, digits: Path) -> Path:
    """a.tar: digits 0 and 1 (media and caption), then digit_00000.png appended again with digit 2's bytes."""
    tar = root / "appended" / "a.tar"
    tar_of(tar, [(f"digit_{i:05d}{s}", digits / f"digit_{i:05d}{s}") for i in (0, 1) for s in (".png", ".txt")])
    tar_of(tar, [("digit_00000.png", digits / "digit_00002.png")], mode="a")  # tar -rf a.tar digit_00000.png
    return tar


def twice_listed(root: Path, digits: Path) -> Path:
    """listing.csv naming digits/digit_00003.png in rows 0 and 2, with other captions (and digit 4 in row 1)."""
    folder = root / "listed"
    (folder / "digits").mkdir(parents=True, exist_ok=True)
    for i in (3, 4):
        shutil.copy(digits / f"digit_{i:05d}.png", folder / "digits" / f"digit_{i:05d}.png")
    with open(folder / "listing.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "caption"])
        w.writerows([["digits/digit_00003.png", "a three, said first"], ["digits/digit_00004.png", "a four"],
                     ["digits/digit_00003.png", "a three, said again"]])
    return folder / "listing.csv"


def same_named_tars(root: Path, digits: Path, folders: tuple[str, ...] = ("a", "b")) -> str:
    """a/000.tar (digits 5, 6) and b/000.tar (digits 7, 8), members 000000.* and 000001.* in each; the glob."""
    for folder, numbers in (("a", (5, 6)), ("b", (7, 8))):
        if folder in folders:
            tar_of(root / "shards" / folder / "000.tar",
                   [(f"{j:06d}{s}", digits / f"digit_{i:05d}{s}") for j, i in enumerate(numbers) for s in (".png", ".txt")])
    return str(root / "shards" / "*" / "000.tar")


def repeated_sources(root: Path, digits: Path) -> list[str]:
    """The three sources that yield a name twice, of distinct digits (REPEATED_DIGITS of the corpus):
    no sample of one is a copy or near copy of another's."""
    return [str(appended_tar(root, digits)), str(twice_listed(root, digits)), same_named_tars(root, digits)]
