"""A LibriTTS folder captions each take with <id>.normalized.txt (else <id>.original.txt) beside
<id>.wav; the other variant is an orphan_caption naming the one used, and a plain <id>.txt still
wins. Before, every LibriTTS take was quarantined missing_caption and every transcript was an
orphan_caption "no media of the same name"."""

from __future__ import annotations

import numpy as np

from contracts.records import Batch
from preprocess.curate import CurateConfig, curate
from preprocess.sources import SourceSpec, list_entries, read_caption
from preprocess.speech.plugin import SpeechOptions, SpeechPlugin


def _tone(path, hz: float) -> None:
    import soundfile as sf

    t = np.arange(22_050) / 22_050
    sf.write(path, (0.3 * np.sin(2 * np.pi * hz * t) * np.sin(np.pi * t * 3) ** 2).astype(np.float32), 22_050)


def _libritts(root):
    chapter = root / "19" / "198"
    chapter.mkdir(parents=True)
    for i, hz in enumerate((220.0, 330.0, 440.0)):
        _tone(chapter / f"19_198_{i}.wav", hz)
    (chapter / "19_198_0.normalized.txt").write_text("Chapter one.")
    (chapter / "19_198_0.original.txt").write_text("Chapter 1.")
    (chapter / "19_198_1.original.txt").write_text("He paid £12.")
    (chapter / "19_198_2.normalized.txt").write_text("ignored")
    (chapter / "19_198_2.txt").write_text("The plain transcript.")
    (chapter / "19_198_9.normalized.txt").write_text("No audio of this id.")
    return root


def test_libritts_transcripts_caption_their_audio(tmp_path):
    root = _libritts(tmp_path / "libritts")
    inputs, leftovers = SpeechPlugin().group(list_entries(SourceSpec(str(root))), SpeechOptions())
    captions = {i.name.rsplit("/", 1)[-1]: read_caption(i.caption) for i in inputs}
    assert captions == {"19_198_0.wav": ("Chapter one.", None), "19_198_1.wav": ("He paid £12.", None),
                        "19_198_2.wav": ("The plain transcript.", None)}
    unused = {lo.entry.name.rsplit("/", 1)[-1]: (lo.reason_kind, lo.detail) for lo in leftovers}
    assert unused == {
        "19_198_0.original.txt": ("orphan_caption", "19_198_0.normalized.txt is used"),
        "19_198_2.normalized.txt": ("orphan_caption", "the caption file beside the audio is used"),
        "19_198_9.normalized.txt": ("orphan_caption", "no media of the same name"),
    }


def test_a_curated_libritts_take_is_accepted_with_its_normalised_transcript(tmp_path):
    root = _libritts(tmp_path / "libritts")
    result = curate(str(root), tmp_path / "home", CurateConfig(modality="speech", options={"max_phones_per_second": 1000}),
                    backend="local")
    rows = {s.source_uri.rsplit("/", 1)[-1]: s for p in result.batch_paths for s in Batch.read(p).samples}
    assert (rows["19_198_0.wav"].status, rows["19_198_0.wav"].caption) == ("accepted", "chapter one")
    assert rows["19_198_1.wav"].caption == "he paid twelve pounds"
    assert not any((s.reason or "").startswith("missing_caption") for s in rows.values())
