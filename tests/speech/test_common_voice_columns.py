"""Common Voice's validated.tsv as different writers leave it: a sentence quoted by a CSV writer
(``"He said ""hi""."``, as some releases and spreadsheet exports have it), a tab inside a sentence, a
``path`` given with its folder (``clips/x.mp3``, an absolute path), a byte-order mark and CRLF line
ends. Before, a quoted sentence kept its quotes doubled, a tab cut the transcript there without a word
(the take kept the first part as its whole transcript), and a path with ``clips/`` was looked for in
``clips/clips/`` and said to be missing from ``clips/``. Grouping only lists the files."""

from __future__ import annotations

from preprocess.sources import SourceSpec, list_entries, read_caption
from preprocess.speech.plugin import SpeechOptions, SpeechPlugin

HEADER = "client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\tage\tgender\taccents\tvariant\tlocale\tsegment"


def _row(n: int, sentence: str, path: str | None = None) -> str:
    return f"c{n}\t{path or f'common_voice_en_{n}.mp3'}\ts{n}\t{sentence}\t\t2\t0\t\t\t\t\ten\t"


def _group(root, lines: list[str], newline: str = "\n", bom: str = ""):
    (root / "clips").mkdir(parents=True)
    for n in range(1, 5):
        (root / "clips" / f"common_voice_en_{n}.mp3").write_bytes(b"ID3 not decoded here")
    (root / "validated.tsv").write_bytes((bom + newline.join([HEADER, *lines]) + newline).encode("utf-8"))
    inputs, leftovers = SpeechPlugin().group(list_entries(SourceSpec(str(root))), SpeechOptions())
    # the captioned clips: a clip no validated line names (not validated) is no concern here
    captions = {i.name.removeprefix("clips/common_voice_en_").removesuffix(".mp3"): read_caption(i.caption)[0]
                for i in inputs if i.caption is not None}
    return captions, sorted((lo.entry.name, lo.reason_kind, lo.detail) for lo in leftovers if lo.reason_kind != "not_validated")


def test_a_quoted_sentence_is_read_as_its_text(tmp_path):
    captions, leftovers = _group(tmp_path / "en", [
        _row(1, '"""Good-bye,"" said the boy."'), _row(2, '"He said ""hi""\tthen left."'),
        _row(3, '"Stop," she said, "now."'), _row(4, '"Stop."')])
    assert captions == {"1": '"Good-bye," said the boy.', "2": 'He said "hi" then left.',
                        "3": '"Stop," she said, "now."', "4": "Stop."}  # 3: unquoted, its own quotation marks
    assert leftovers == []


def test_a_tab_inside_an_unquoted_sentence_is_said_not_cut(tmp_path):
    captions, leftovers = _group(tmp_path / "en", [_row(1, "A tab\there cuts it."), _row(2, "Fine.")])
    assert captions == {"2": "Fine."}
    why = "14 tab-separated columns where its header names 13: a tab inside a field (remove it, or quote the field)"
    import hashlib

    line = f"validated.tsv#malformed={hashlib.sha256(_row(1, 'A tab' + chr(9) + 'here cuts it.').encode()).hexdigest()[:12]}"
    assert leftovers == [("clips/common_voice_en_1.mp3", "malformed_metadata_line", f"a malformed line of validated.tsv names it: {why}"),
                         (line, "malformed_metadata_line", why)]  # named by its bytes, not its line number


def test_a_path_with_its_folder_names_the_clip_in_clips(tmp_path):
    captions, leftovers = _group(tmp_path / "en", [
        _row(1, "With its folder.", "clips/common_voice_en_1.mp3"),
        _row(2, "An absolute path.", f"{tmp_path}/en/clips/common_voice_en_2.mp3"),
        _row(3, "Another folder.", "other/common_voice_en_3.mp3")])
    assert captions == {"1": "With its folder.", "2": "An absolute path."}
    assert leftovers == [("validated.tsv#take=clips/other/common_voice_en_3", "metadata_without_audio", "no audio file other/common_voice_en_3.* in clips/")]


def test_a_byte_order_mark_and_crlf_line_ends(tmp_path):
    captions, leftovers = _group(tmp_path / "en", [_row(1, "One."), _row(2, "Two.")], newline="\r\n", bom="\ufeff")
    assert captions == {"1": "One.", "2": "Two."}
    assert leftovers == []
