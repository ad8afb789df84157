"""A transcript listing's lines that caption nothing keep their names when other lines move.

Before, such a line (metadata_without_audio: a Common Voice subset's lines naming clips not
downloaded, most of validated.tsv; metadata_line_unused; malformed_metadata_line) was named
``<listing>#line=N``: one line inserted at the top re-named every leftover after it, so a refresh
re-recorded each as a new row and retired the rows of the names left over (a 200-line Common Voice
look-alike, 150 lines naming no clip: 154 leftovers re-recorded, 50 rows retired, for one new line).
Now a line is named by the take it names (``#take=clips/x``; the second line of a take
``#take.2=clips/x``) or, malformed, by its bytes (``#malformed=<sha256, 12 hex>``), and no reason
says a line number that would go stale in a row the refresh keeps. Grouping and plan_refresh only
(no audio is read: each file is a few bytes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from preprocess.sources import Entry
from preprocess.speech.plugin import SpeechOptions, SpeechPlugin
from tests.speech.test_listing_lines_moved import LAYOUTS, _plan


def _write(src: Path, layout: str, lines: list[str], present: list[str]) -> None:
    """A listing of ``lines`` (ids, or MALFORMED lines as they are) and audio for the ids in ``present``."""
    listing, audio, line, header = LAYOUTS[layout]
    for take in present:
        path = src / audio.format(take)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"audio of {take}".encode())
    (src / listing).parent.mkdir(parents=True, exist_ok=True)
    (src / listing).write_text(header + "".join((x if x in MALFORMED.values() else line.format(x)) + "\n"
                                                for x in lines))


def _ids(layout: str, n: int) -> list[str]:
    return [f"103-1240-{i:04d}" if layout == "librispeech" else f"take{i:02d}" for i in range(n)]


MALFORMED = {"ljspeech": "no separator here", "librispeech": "103-1240-9999", "common_voice": "garbage"}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_a_line_inserted_at_the_top_records_no_leftover_again(tmp_path, layout):
    src, home = tmp_path / "src", tmp_path / "home"
    ids = _ids(layout, 13)
    listed = ids[1:] + [ids[3], MALFORMED[layout], MALFORMED[layout]]  # a take's second line, two malformed lines
    _write(src, layout, listed, present=ids[1::3])  # 4 takes present: 8 lines name no audio
    first = _plan(src, home)
    assert first.counts["leftovers_to_record"] == 11, first.counts

    _write(src, layout, [ids[0]] + listed, present=[ids[0]])  # a new take, its line first
    plan = _plan(src, home)
    assert [i.name.rsplit("/", 1)[-1].split(".")[0] for i in plan.inputs] == [ids[0]], plan.counts
    assert plan.counts["leftovers_to_record"] == 0, [lo.entry.name for lo in plan.leftovers]
    assert plan.removed_uris == []


def _leftovers(text: str, clips: str) -> dict[str, tuple[str, str]]:
    """{name: (reason kind, detail)} of a Common Voice locale's leftovers, with these clips (``"ac"``: a.mp3, c.mp3)."""
    entries = [Entry(f"en/clips/{c}.mp3", f"/cv/en/clips/{c}.mp3", 1, ("bytes", b"x")) for c in clips]
    entries.append(Entry("en/validated.tsv", "/cv/en/validated.tsv", len(text), ("bytes", text.encode())))
    _, leftovers = SpeechPlugin().group(entries, SpeechOptions())
    return {lo.entry.name: (lo.reason_kind, lo.detail) for lo in leftovers}


def _cv(*rows: tuple[str, str]) -> str:
    return LAYOUTS["common_voice"][3] + "".join(f"c\t{path}\ts\t{sentence}\t2\t0\ten\n" for path, sentence in rows)


def test_every_leftover_keeps_its_name_and_reason_when_lines_move():
    """A row the refresh keeps (same name, same bytes) must say what is still true: its reason
    named the line that captions the take ('validated.tsv line 2 gives a its transcript') and
    the malformed line that names a clip ('validated.tsv line 4 names it'), both moved."""
    rows = [("a.mp3", "one"), ("gone.mp3", "no clip"), ("a.mp3", "one again"), ("c.mp3", "")]
    before = _leftovers(_cv(*rows), "ac")
    after = _leftovers(_cv(("b.mp3", "new"), *rows[::-1]), "abc")  # a new take's line inserted, the others reversed
    assert after == before
    assert set(before) - {"en/clips/c.mp3", "en/validated.tsv#take=clips/gone", "en/validated.tsv#take.2=clips/a"} == {
        next(n for n in before if n.startswith("en/validated.tsv#malformed="))}
    assert before["en/validated.tsv#take.2=clips/a"] == ("metadata_line_unused",
                                                         "validated.tsv#take=clips/a gives a its transcript")
    assert before["en/clips/c.mp3"][1].startswith("a malformed line of validated.tsv names it: ")


def test_names_of_one_take_or_one_malformed_text_do_not_collide():
    """The caption of a take, its second and third lines, and identical malformed lines each have a
    name of their own (the source index keeps one row per name); a take whose name reads like
    another line's fragment ('a.2') is still another name."""
    entries = [Entry(f"wavs/{t}.wav", f"/lj/wavs/{t}.wav", 1, ("bytes", b"x")) for t in ("a", "a.2")]
    text = "a|one\nbad\na|two\na.2|other\nbad\na|three\n"
    entries.append(Entry("metadata.csv", "/lj/metadata.csv", len(text), ("bytes", text.encode())))
    inputs, leftovers = SpeechPlugin().group(entries, SpeechOptions())
    captions = sorted(i.caption.name for i in inputs)
    assert captions == ["metadata.csv#take=wavs/a", "metadata.csv#take=wavs/a.2"]
    names = [lo.entry.name for lo in leftovers]
    assert sorted(n.split("=")[0] for n in names) == ["metadata.csv#malformed", "metadata.csv#malformed.2",
                                                      "metadata.csv#take.2", "metadata.csv#take.3"]
    assert len(set(names + captions)) == len(names) + len(captions)


def test_a_take_whose_line_is_no_utf8_keeps_its_reason_when_the_line_moves():
    """Its row (caption_not_utf8) is kept while its line moves: it said 'metadata.csv line 1'."""
    from preprocess.sources import read_caption

    def reason(text: bytes) -> str:
        entries = [Entry("wavs/a.wav", "/lj/wavs/a.wav", 1, ("bytes", b"x")),
                   Entry("metadata.csv", "/lj/metadata.csv", len(text), ("bytes", text))]
        inputs, _ = SpeechPlugin().group(entries, SpeechOptions())
        return read_caption(inputs[0].caption)[1]

    assert reason(b"a|caf\xe9\n") == reason(b"b|new\na|caf\xe9\n") == (
        "caption_not_utf8: metadata.csv#take=wavs/a: unexpected end of data at byte 5 (save it as UTF-8)")
