"""A caption two audio files share (wavs/take01.wav and a converted wavs/take01.flac; a metadata line
or a .txt beside them) re-curates both when it changes: the refresh diff gave each entry one owner, so
only one take was planned again and the other kept its old transcript in the catalog (helper O)."""

from __future__ import annotations

from tests.speech.test_listing_lines_moved import _corpus, _ids, _plan


def test_a_changed_listing_line_replans_every_take_of_its_name(tmp_path):
    src, home = tmp_path / "src", tmp_path / "home"
    _corpus(src, "ljspeech", _ids(3, "ljspeech"))
    (src / "wavs/take01.flac").write_bytes(b"flac of take01")
    _plan(src, home)
    meta = src / "metadata.csv"
    meta.write_text(meta.read_text().replace("take01|words of take01|words of take01", "take01|changed|changed"))
    assert sorted(i.name for i in _plan(src, home).inputs) == ["wavs/take01.flac", "wavs/take01.wav"]


def test_a_changed_caption_file_replans_every_take_beside_it(tmp_path):
    src, home = tmp_path / "src", tmp_path / "home"
    _corpus(src, "ljspeech", _ids(3, "ljspeech"))
    (src / "wavs/take02.txt").write_text("beside")
    (src / "wavs/take02.flac").write_bytes(b"flac of take02")
    _plan(src, home)
    (src / "wavs/take02.txt").write_text("beside, changed")
    assert sorted(i.name for i in _plan(src, home).inputs) == ["wavs/take02.flac", "wavs/take02.wav"]
