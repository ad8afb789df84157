"""The analysis journal's own contract, piece by piece (the resume tests drive it through whole
curations, which left most of its edge cases untested: `make mutation MODULES=journal`)."""

from __future__ import annotations

import os
import pickle
import tarfile
import tempfile

import pytest

from preprocess.analysis_journal import AnalysisJournal, chunk_signature
from preprocess.sources import Entry, RawInput


def file_input(path, name="a.png", text=None) -> RawInput:
    e = Entry(name, str(path), os.path.getsize(path), ("file", str(path)))
    caption = Entry(name + ".txt", str(path) + ".txt", len(text or ""), ("bytes", (text or "").encode()), text=text) if text is not None else None
    return RawInput(name, str(path), {"media": e}, caption)


def bytes_input(data: bytes, name="a.png", text=None) -> RawInput:
    return RawInput(name, "mem://" + name, {"media": Entry(name, "mem://" + name, len(data), ("bytes", data), text=text)})


# --- chunk signatures: what says "these inputs hold the bytes they held" ---

def test_a_signature_is_32_hex_characters_and_the_same_for_the_same_files(tmp_path):
    f = tmp_path / "a.png"
    f.write_bytes(b"x" * 10)
    sig = chunk_signature([file_input(f)])
    assert len(sig) == 32 and int(sig, 16) >= 0
    assert chunk_signature([file_input(f)]) == sig


def test_a_files_new_mtime_size_or_inode_changes_the_signature(tmp_path):
    f = tmp_path / "a.png"
    f.write_bytes(b"x" * 10)
    before = chunk_signature([file_input(f)])
    os.utime(f, ns=(1, 1_000_000_000))  # same bytes, other mtime: the file was touched
    touched = chunk_signature([file_input(f)])
    assert touched != before
    replaced = tmp_path / "b.png"
    replaced.write_bytes(b"x" * 10)
    os.utime(replaced, ns=(1, 1_000_000_000))
    os.replace(replaced, f)  # same size and mtime, a new inode: a file written anew
    assert chunk_signature([file_input(f)]) != touched


def test_a_file_that_is_gone_makes_the_chunk_unjournaled(tmp_path):
    f = tmp_path / "a.png"
    f.write_bytes(b"x")
    item = file_input(f)
    f.unlink()
    assert chunk_signature([item]) is None


def test_a_tar_members_signature_follows_the_tar_file_and_the_member(tmp_path):
    tar_path = tmp_path / "t.tar"
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(name.encode() * 4)
    with tarfile.open(tar_path, "w") as t:
        t.add(tmp_path / "a.png", "a.png")
        t.add(tmp_path / "b.png", "b.png")

    def member(name, offset, size):
        return RawInput(name, f"{tar_path}#{name}", {"media": Entry(name, f"{tar_path}#{name}", size, ("tar", str(tar_path), name, offset, size))})

    sig = chunk_signature([member("a.png", 512, 20)])
    assert sig == chunk_signature([member("a.png", 512, 20)])
    # the same input name at another member, offset or size is other bytes
    assert chunk_signature([RawInput("a.png", f"{tar_path}#a.png", {"media": Entry("a.png", f"{tar_path}#a.png", 20, ("tar", str(tar_path), "b.png", 512, 20))})]) != sig
    assert chunk_signature([member("a.png", 1536, 20)]) != sig
    assert chunk_signature([RawInput("a.png", f"{tar_path}#a.png", {"media": Entry("a.png", f"{tar_path}#a.png", 20, ("tar", str(tar_path), "a.png", 512, 21))})]) != sig
    os.utime(tar_path, ns=(1, 1_000_000_000))  # the tar was rewritten
    assert chunk_signature([member("a.png", 512, 20)]) != sig


def test_inline_bytes_are_signed_by_their_content(tmp_path):
    assert chunk_signature([bytes_input(b"one")]) == chunk_signature([bytes_input(b"one")])
    assert chunk_signature([bytes_input(b"one")]) != chunk_signature([bytes_input(b"two")])


def test_an_inline_caption_text_is_part_of_the_signature(tmp_path):
    assert chunk_signature([bytes_input(b"x", text="a cat")]) != chunk_signature([bytes_input(b"x", text="a dog")])
    assert chunk_signature([bytes_input(b"x", text="a cat")]) == chunk_signature([bytes_input(b"x", text="a cat")])


def test_an_entry_that_is_no_blob_is_signed_by_what_it_is():
    def odd(kind, detail):
        return RawInput("a.png", "x", {"media": Entry("a.png", "x", 0, (), kind=kind, detail=detail)})

    assert chunk_signature([odd("fifo", "a named pipe")]) == chunk_signature([odd("fifo", "a named pipe")])
    assert chunk_signature([odd("fifo", "a named pipe")]) != chunk_signature([odd("socket", "a named pipe")])
    assert chunk_signature([odd("fifo", "a named pipe")]) != chunk_signature([odd("fifo", "a pipe")])


def test_file_names_that_are_not_utf8_are_signed(tmp_path):
    name = "caf\udce9.png"  # os.walk's surrogate escape for a Latin-1 byte in a file name
    f = tmp_path / "a.png"
    f.write_bytes(b"x")
    item = RawInput(name, str(f), {"media": Entry(name, str(f), 1, ("file", str(f)))}, Entry(name + ".txt", "x", 1, ("bytes", b"x"), text="caf\udce9"))
    sig = chunk_signature([item])
    assert sig and sig != chunk_signature([file_input(f, name="cafe.png")])


# --- the journal folder ---

def test_chunks_kept_counts_saved_chunks_only(tmp_path):
    j = AnalysisJournal(tmp_path / "j")
    assert j.chunks_kept() == 0  # no folder yet
    j.save("k1", [1])
    j.save("k2", [2, 3])
    (tmp_path / "j" / "half.tmp").write_bytes(b"")  # what a killed save leaves at worst
    assert j.chunks_kept() == 2


def test_load_gives_a_saved_chunk_back_only_with_the_expected_length(tmp_path):
    j = AnalysisJournal(tmp_path / "j")
    j.save("k", ["a", "b"])
    assert j.load("k", 2) == ["a", "b"]
    assert j.load("k", 3) is None  # another chunking of the inputs
    assert j.load("missing", 2) is None
    (tmp_path / "j" / "notalist.pkl").write_bytes(pickle.dumps({"a": 1, "b": 2}))
    assert j.load("notalist", 2) is None
    (tmp_path / "j" / "cut.pkl").write_bytes(pickle.dumps(["a", "b"])[:-3])
    assert j.load("cut", 2) is None


def test_save_writes_inside_its_own_folder_not_the_system_temp(tmp_path, monkeypatch):
    # os.replace is only atomic within one file system: the temporary file must be beside the chunk
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-temp-dir"))
    j = AnalysisJournal(tmp_path / "j")
    j.save("k", [1])
    assert j.load("k", 1) == [1]


def test_a_save_that_fails_raises_its_own_error_and_leaves_nothing(tmp_path, monkeypatch):
    j = AnalysisJournal(tmp_path / "j")

    def broken_dump(obj, f, protocol=None):
        f.write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(pickle, "dump", broken_dump)
    with pytest.raises(KeyboardInterrupt):
        j.save("k", [1])
    assert os.listdir(tmp_path / "j") == []


def test_discard_removes_the_folder_and_is_safe_when_it_is_gone(tmp_path):
    j = AnalysisJournal(tmp_path / "j")
    j.save("k", [1])
    j.discard()
    assert not (tmp_path / "j").exists()
    j.discard()
