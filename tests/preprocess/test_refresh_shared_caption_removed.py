"""A caption two audio files share (wavs/take01.wav and a converted wavs/take01.flac) re-plans both
takes when it is removed, as when it changes (test_refresh_shared_caption_both_takes.py): the source
index kept one input per entry, so a removed caption re-planned only that input and the other take
kept its old transcript in the catalog (found in review, session 53). The index now also records the
other inputs of a shared entry (source_index.also_inputs, schema v13)."""

from __future__ import annotations

from tests.speech.test_listing_lines_moved import _corpus, _ids, _plan


def _folder(src, names):
    src.mkdir(parents=True, exist_ok=True)
    for name in names:
        (src / name).write_text(f"words of {name}" if name.endswith(".txt") else f"audio of {name}")


def test_a_removed_caption_file_replans_every_take_beside_it(tmp_path):
    src, home = tmp_path / "src", tmp_path / "home"
    _folder(src, ["a.wav", "a.flac", "a.txt", "b.wav", "b.txt"])
    _plan(src, home)
    (src / "a.txt").unlink()
    assert sorted(i.name for i in _plan(src, home).inputs) == ["a.flac", "a.wav"]


def test_a_removed_listing_line_replans_every_take_of_its_name(tmp_path):
    src, home = tmp_path / "src", tmp_path / "home"
    _corpus(src, "ljspeech", _ids(3, "ljspeech"))
    (src / "wavs/take01.flac").write_bytes(b"flac of take01")
    _plan(src, home)
    meta = src / "metadata.csv"
    meta.write_text("".join(line + "\n" for line in meta.read_text().splitlines() if not line.startswith("take01|")))
    assert sorted(i.name for i in _plan(src, home).inputs) == ["wavs/take01.flac", "wavs/take01.wav"]


def test_a_take_added_beside_a_shared_caption_replans_only_itself(tmp_path):
    # recording the new sharer of a.txt must not re-curate the take that had it alone
    src, home = tmp_path / "src", tmp_path / "home"
    _folder(src, ["a.wav", "a.txt", "b.wav", "b.txt"])
    _plan(src, home)
    _folder(src, ["a.flac"])
    assert sorted(i.name for i in _plan(src, home).inputs) == ["a.flac"]
    (src / "a.txt").unlink()
    assert sorted(i.name for i in _plan(src, home).inputs) == ["a.flac", "a.wav"]
