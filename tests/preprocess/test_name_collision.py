"""Two files whose catalog names were one: a name that is not UTF-8 is written printably (its
undecodable bytes as \\xNN), so the Latin-1 `a<E9>.png` and a file literally named `a\\xe9.png` both
read `a\\xe9.png`. One image got the other's caption, one index row stood for two files, and every
refresh curated both again. Now the file whose name is not UTF-8 is rejected `name_not_utf8` under
a name of its own; the UTF-8 one is curated as it was."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from contracts.records import Batch
from flows.refresh import refresh_source
from preprocess.curate import CurateConfig, curate
from preprocess.encode import EncodeConfig
from preprocess.sources import SourceSpec, list_entries

LATIN1 = os.fsdecode(b"a\xe9")  # the byte 0xE9: Python holds a lone surrogate; printable: a\xe9
LITERAL = "a\\xe9"  # a backslash, an x, an e and a 9


def _png(colour) -> bytes:
    """A 32 x 32 image of that colour with noise (a solid one is rejected solid_colour)."""
    rng = np.random.default_rng(sum(colour))
    pixels = np.clip(np.array(colour) + rng.normal(0, 40, (32, 32, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def _folder(root: Path) -> Path:
    root.mkdir()
    for stem, colour, caption in ((LITERAL, (200, 30, 30), "a red square"), (LATIN1, (30, 30, 200), "a blue square"),
                                  ("ok", (30, 200, 30), "a green square")):
        (root / f"{stem}.png").write_bytes(_png(colour))
        (root / f"{stem}.txt").write_text(caption)
    return root


def _rows(batch_paths) -> dict[str, tuple[str, str, str | None]]:
    rows = {}
    for p in batch_paths:
        for s in Batch.read(p).samples:
            assert s.source_uri not in rows, f"two samples from {s.source_uri}"
            rows[s.source_uri.rsplit("/", 1)[-1]] = (s.status, (s.reason or "").split(":")[0], s.caption)
    return rows


def test_names_that_read_the_same_are_never_one_entry(tmp_path):
    src = _folder(tmp_path / "src")
    names = [e.name for e in list_entries(SourceSpec(str(src)))]
    assert len(names) == len(set(names)) == 6
    result = curate(str(src), tmp_path / "home", CurateConfig(), backend="local")
    rows = _rows(result.batch_paths)
    assert rows.pop("a\\xe9.png") == ("accepted", "", "a red square")  # the UTF-8 name, with its own caption
    assert rows.pop("ok.png") == ("accepted", "", "a green square")
    assert sorted(rows) == ["a\\xe9.png#name_not_utf8-609911329af6", "a\\xe9.txt#name_not_utf8-901f21f9e11c"]
    assert {v[:2] for v in rows.values()} == {("rejected", "name_not_utf8")}


def test_a_refresh_of_names_that_read_the_same_is_a_noop_the_second_time(tmp_path):
    src, home = _folder(tmp_path / "src"), tmp_path / "home"
    first = refresh_source(str(src), home, encode_cfg=EncodeConfig(text="phone"), backend="local")
    assert first.curated == {"accepted": 2, "rejected": 2}, first
    again = refresh_source(str(src), home, encode_cfg=EncodeConfig(text="phone"), backend="local")
    assert again.noop and again.plan["inputs_to_curate"] == 0, again  # before: both inputs curated again, every time


def test_tar_members_whose_names_read_the_same_are_never_one_entry(tmp_path):
    tar = tmp_path / "shard.tar"
    with tarfile.open(tar, "w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape") as t:
        for name, data in ((f"{LITERAL}.png", _png((200, 30, 30))), (f"{LITERAL}.txt", b"a red square"),
                           (f"{LATIN1}.png", _png((30, 30, 200))), (f"{LATIN1}.txt", b"a blue square")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    entries = {e.name: e.kind for e in list_entries(SourceSpec(str(tar)))}
    assert entries == {"shard.tar/a\\xe9.png": "file", "shard.tar/a\\xe9.txt": "file",
                       "shard.tar/a\\xe9.png#name_not_utf8-75d4ea3b7c8b": "name_not_utf8",
                       "shard.tar/a\\xe9.txt#name_not_utf8-51f3564769c3": "name_not_utf8"}


def test_a_name_that_is_not_utf8_and_meets_no_other_keeps_its_printable_name(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / f"{LATIN1}.png").write_bytes(_png((30, 30, 200)))
    (src / f"{LATIN1}.txt").write_text("a blue square")
    rows = _rows(curate(str(src), tmp_path / "home", CurateConfig(), backend="local").batch_paths)
    assert rows == {"a\\xe9.png": ("accepted", "", "a blue square")}
