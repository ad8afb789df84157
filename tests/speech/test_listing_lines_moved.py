"""A transcript listing's caption entries are named by the take they caption, not by their line:
one line inserted near the top of metadata.csv (a take added in id order), of a LibriSpeech
.trans.txt or of a Common Voice release's validated.tsv (new lines interleaved) re-curated every take
after it, each caption having moved to another ``#line=N`` name in the source index (a 13k-line
LJSpeech: a full re-curation for one new take). Planned only (plan_refresh and its ListingStage):
grouping reads no audio, so the audio files are a few bytes each."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog import Catalog
from catalog.source_index import commit_listing
from contracts.layout import Workspace
from flows.refresh import listing_stage
from preprocess.curate import CurateConfig
from preprocess.refresh import plan_refresh, source_identity
from preprocess.sources import SourceSpec

CV_HEADER = "client_id\tpath\tsentence_id\tsentence\tup_votes\tdown_votes\tlocale"

# layout: (listing, where the audio of take <id> is, a line of take <id>, its lines after a header)
LAYOUTS = {
    "ljspeech": ("metadata.csv", "wavs/{}.wav", "{0}|words of {0}|words of {0}", ""),
    "librispeech": ("103/1240/103-1240.trans.txt", "103/1240/{}.flac", "{0} WORDS OF {0}", ""),
    "common_voice": ("en/validated.tsv", "en/clips/{}.mp3", "c\t{0}.mp3\ts\twords of {0}\t2\t0\ten", CV_HEADER + "\n"),
}


def _plan(src: Path, home: Path):
    ws = Workspace.at(home)
    cat = Catalog.open(ws.catalog)
    spec = SourceSpec(str(src))
    source = source_identity(spec)
    with listing_stage(ws) as stage:
        stage.load_index(cat, source, "speech")
        plan = plan_refresh(spec, CurateConfig(modality="speech"), stage)
        commit_listing(cat, source, "speech", stage, None)
    return plan


def _corpus(src: Path, layout: str, ids: list[str]) -> None:
    listing, audio, line, header = LAYOUTS[layout]
    for take in ids:
        path = src / audio.format(take)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"audio of {take}".encode())
    (src / listing).parent.mkdir(parents=True, exist_ok=True)
    (src / listing).write_text(header + "".join(line.format(take) + "\n" for take in ids))


def _ids(n: int, layout: str) -> list[str]:
    return [f"103-1240-{i:04d}" if layout == "librispeech" else f"take{i:02d}" for i in range(n)]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_a_line_inserted_at_the_top_curates_its_take_alone(tmp_path, layout):
    src, home = tmp_path / "src", tmp_path / "home"
    ids = _ids(8, layout)
    _corpus(src, layout, ids[1:])
    assert _plan(src, home).counts["inputs_to_curate"] == 7

    _corpus(src, layout, ids)  # take 0: a new take, its line first
    plan = _plan(src, home)
    assert [i.name.rsplit("/", 1)[-1].split(".")[0] for i in plan.inputs] == [ids[0]], plan.counts

    _corpus(src, layout, ids + _ids(9, layout)[8:])  # and one appended
    assert [i.name.rsplit("/", 1)[-1].split(".")[0] for i in _plan(src, home).inputs] == [_ids(9, layout)[8]]


def test_a_rewritten_line_still_curates_its_take_and_messages_say_the_line(tmp_path):
    """Named by its take, a caption is still compared by its text; and a line that is no UTF-8 is
    still said, by its name (``metadata.csv line 1`` would go stale in the take's row, kept while the line moves)."""
    src, home = tmp_path / "src", tmp_path / "home"
    ids = _ids(4, "ljspeech")
    _corpus(src, "ljspeech", ids)
    _plan(src, home)
    text = (src / "metadata.csv").read_text().replace("take02|words of take02|words of take02", "take02|other words|other words")
    (src / "metadata.csv").write_bytes(b"take09|caf\xe9\n" + text.encode())
    (src / "wavs" / "take09.wav").write_bytes(b"audio of take09")
    plan = _plan(src, home)
    assert sorted(i.name for i in plan.inputs) == ["wavs/take02.wav", "wavs/take09.wav"]
    from preprocess.sources import read_caption

    captions = {i.name: i.caption for i in plan.inputs}
    assert captions["wavs/take02.wav"].name == "metadata.csv#take=wavs/take02"
    assert read_caption(captions["wavs/take09.wav"])[1].startswith("caption_not_utf8: metadata.csv#take=wavs/take09: ")
