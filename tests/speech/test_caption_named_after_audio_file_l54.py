"""A transcript named after the whole audio file name (memo.wav.txt beside memo.wav) says which name
would caption the take. Helper L's walkthrough (session 54): it was rejected 'orphan_caption:
memo.wav.txt (no media of the same name)' with memo.wav beside it, and the take quarantined
missing_caption, leaving the user to guess the naming rule."""

from __future__ import annotations

import soundfile as sf

from contracts.records import Batch
from preprocess.curate import CurateConfig, curate
from preprocess.speech.espeak import synthesise


def test_a_transcript_named_after_the_audio_file_names_the_rename(tmp_path):
    root = tmp_path / "src"
    (root / "sub").mkdir(parents=True)
    x, sr = synthesise("a voice memo", seed=3)
    sf.write(root / "sub" / "memo.wav", x, sr)
    (root / "sub" / "memo.wav.txt").write_text("a voice memo", encoding="utf-8")
    (root / "stray.flac.txt").write_text("no audio at all", encoding="utf-8")
    result = curate(str(root), tmp_path / "home", CurateConfig(modality="speech"), backend="local")
    got = {s.source_uri.split("/src/", 1)[-1]: s for p in result.batch_paths for s in Batch.read(p).samples}

    assert got["sub/memo.wav"].reason.startswith("missing_caption")
    assert got["sub/memo.wav.txt"].reason == ("orphan_caption: memo.wav.txt (it is named after memo.wav with its "
                                              "extension; that take's transcript is memo.txt: rename it)")
    assert got["stray.flac.txt"].reason == "orphan_caption: stray.flac.txt (no media of the same name)"
