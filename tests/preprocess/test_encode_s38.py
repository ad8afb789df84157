"""Session s38: encode's checks of curated and encoded shards, its truncated-caption warning, its
damaged batch files."""

from __future__ import annotations

import logging
import os
import tarfile

import pytest

from contracts.shards import shard_damage, write_tar
from preprocess.image.demo_corpus import write_demo_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_demo_corpus(tmp_path_factory.mktemp("s38"), num_digits=8, num_shapes=4, seed=0).root


def _curate(src, home):
    from flows.cli import main

    assert main(["curate", str(src), "--home", str(home), "--local", "--vae-factor", "1", "--shard-size", "4"]) == 0


def _count_tar_opens(monkeypatch) -> list[str]:
    opened: list[str] = []
    real = tarfile.open

    def counting(name=None, *a, **k):
        opened.append(str(name))
        return real(name, *a, **k)

    monkeypatch.setattr(tarfile, "open", counting)
    return opened


def test_shard_damage_of_a_shard_whose_size_is_recorded_is_one_stat(tmp_path, monkeypatch):
    """Reading every tar header cost ~0.4 s per 2,000-sample shard, for every shard of a no-op encode."""
    rec = write_tar(tmp_path / "a.tar", [(f"{k:032x}.{f}", os.urandom(3000)) for k in range(4) for f in ("png", "txt")],
                    stage="curated", num_samples=4)
    data = (tmp_path / "a.tar").read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[: 3 * (512 + 3072)] + bytes(1024))  # a valid, shorter tar
    (tmp_path / "empty.tar").write_bytes(b"")
    opened = _count_tar_opens(monkeypatch)
    assert shard_damage(tmp_path / "a.tar", rec) is None
    assert shard_damage(tmp_path / "cut.tar", rec) == f"{3 * 3584 + 1024} bytes where its batch file records {rec.bytes}"
    assert shard_damage(tmp_path / "empty.tar", rec) == f"0 bytes where its batch file records {rec.bytes}"
    assert opened == []
    assert shard_damage(tmp_path / "empty.tar", None).startswith("not a readable tar")  # no record: the headers
    assert len(opened) == 1


def test_a_no_op_encode_opens_no_tar(corpus, tmp_path, monkeypatch, capsys):
    """Before: each curated shard's headers were read twice (encode_step's check, encode's again
    despite checked=True) and each encoded shard's once."""
    from flows.cli import main

    _curate(corpus, tmp_path)
    argv = ["encode", "--home", str(tmp_path), "--modality", "image", "--local"]
    assert main(argv) == 0
    import preprocess.encode as enc

    opened = _count_tar_opens(monkeypatch)
    checked: list[str] = []
    real = enc.shard_damage
    monkeypatch.setattr(enc, "shard_damage", lambda path, rec=None: checked.append(str(path)) or real(path, rec))
    assert main(argv) == 0
    assert opened == []
    curated = sorted(str(p) for p in (tmp_path / "curated" / "image").glob("*.tar"))
    encoded = sorted(str(p) for p in (tmp_path / "encoded" / "image").glob("*.tar"))
    assert curated and encoded and sorted(checked) == sorted(curated + encoded)  # each once


WORDS = " ".join(f"word{i}" for i in range(40))


def _long_captions(src) -> int:
    n = 0
    for txt in sorted((src / "digits").glob("*.txt")):
        txt.write_text(txt.read_text().strip() + " " + WORDS)
        n += 1
    return n


def _cut_lines(caplog) -> list[str]:
    said = [r.getMessage() for r in caplog.records if "captions are longer than" in r.getMessage()]
    caplog.clear()
    return said


def test_encode_says_the_cut_captions_once_per_run(tmp_path, caplog):
    """Before: one line per encoder batch (170 long captions at --batch-size 16: 11 lines; a million
    captions ~15,600), each naming --max-tokens."""
    from flows.cli import main

    src = write_demo_corpus(tmp_path / "src", num_digits=8, num_shapes=4, seed=0).root
    assert _long_captions(src) >= 8
    _curate(src, tmp_path / "home")
    caplog.set_level(logging.WARNING)
    caplog.clear()
    argv = ["encode", "--home", str(tmp_path / "home"), "--modality", "image", "--local", "--batch-size", "2"]
    assert main(argv) == 0
    said = _cut_lines(caplog)
    assert len(said) == 1, said
    assert " text encoder's 32 tokens: their ends are cut (up to " in said[0]
    assert said[0].endswith("tokens dropped); a larger max_tokens (`lumina encode --max-tokens`) encodes more")
    cut, _, rest = said[0].partition(" of ")
    assert int(cut) >= 8 and int(rest.split()[0]) >= int(cut)
    assert main(argv) == 0  # everything reused: nothing encoded, nothing said
    assert _cut_lines(caplog) == []


def test_the_hint_is_dropped_where_no_more_tokens_can_be_read(tmp_path, caplog):
    """A CLIP at its positions (--max-tokens is clamped there), and callers whose --max-tokens is
    something else (lumina refresh: the image token budget) name no flag."""
    import numpy as np

    from encoders.text import load_text_encoder
    from encoders.text.features import Truncated, reads_more
    from preprocess.encode import ShardEncoded, say_truncated_captions
    from tests.encoders.tiny_models import save_hf_clip_text

    clip_path = save_hf_clip_text(tmp_path / "clip")
    full, short = load_text_encoder("clip", clip_path), load_text_encoder("clip", clip_path, max_tokens=8)
    assert full.max_length == full.clip.context_length > 8
    assert not reads_more(full) and reads_more(short)
    assert reads_more(load_text_encoder("phone", max_tokens=16))  # nothing bounds phonemes

    def results(enc):
        t = Truncated.of(np.array([0, 3, 5]))
        return [ShardEncoded("/a", t, (enc.name, enc.max_length, reads_more(enc))), ShardEncoded("/b"),
                ShardEncoded("/c", Truncated.of(np.array([9])), (enc.name, enc.max_length, reads_more(enc)))]

    def said(enc, more_tokens):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="encoders.text.features"):
            say_truncated_captions(results(enc), more_tokens)
        return [r.getMessage() for r in caplog.records if r.name == "encoders.text.features"]

    assert said(full, "--max-tokens") == [f"3 of 4 captions are longer than the clip text encoder's {full.max_length} "
                                          "tokens: their ends are cut (up to 9 tokens dropped)"]
    assert said(short, "--max-tokens") == ["3 of 4 captions are longer than the clip text encoder's 8 tokens: their "
                                           "ends are cut (up to 9 tokens dropped); --max-tokens encodes more"]
    assert said(short, "")[0].endswith("(up to 9 tokens dropped)")  # lumina refresh: no flag named


@pytest.mark.parametrize("damage", ["empty", "garbage", "not a batch"])
def test_a_damaged_curated_batch_file_is_named_in_one_line(corpus, tmp_path, damage, capsys):
    """Before: `lumina encode: error: Expecting value: line 1 column 1 (char 0)`, naming no file."""
    from flows.cli import main

    _curate(corpus, tmp_path)
    batch = sorted((tmp_path / "curated" / "image").glob("*.batch.json"))[0]
    whole = batch.read_bytes()
    batch.write_bytes({"empty": b"", "garbage": b"\xff\xfe{", "not a batch": b"[1, 2]"}[damage])
    capsys.readouterr()
    argv = ["encode", "--home", str(tmp_path), "--modality", "image", "--local"]
    assert main(argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith(f"lumina encode: error: curated batch file {batch} is damaged ("), err
    assert err[0].endswith("run `lumina curate` on its source again, which writes it anew, then encode")
    _curate(corpus, tmp_path)  # as the line says: curate writes it again, and encode runs
    assert batch.read_bytes() == whole
    assert main(argv) == 0


def test_a_damaged_encoded_batch_file_is_written_again(corpus, tmp_path):
    from contracts.keys import file_sha256
    from flows.cli import main

    _curate(corpus, tmp_path)
    argv = ["encode", "--home", str(tmp_path), "--modality", "image", "--local"]
    assert main(argv) == 0
    batch = sorted((tmp_path / "encoded" / "image").glob("*.batch.json"))[0]
    whole = file_sha256(batch)
    batch.write_bytes(b"")
    assert main(argv) == 0
    assert file_sha256(batch) == whole
