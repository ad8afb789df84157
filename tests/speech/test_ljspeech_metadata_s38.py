"""An LJSpeech metadata.csv is decoded line by line: one line that is not UTF-8 quarantines the
audio it names as caption_not_utf8 (the reason names metadata.csv and the line) and every other
line still captions its audio. Before, one stray byte made the whole file unreadable_metadata and
every clip `missing_caption: no caption beside the media`. An empty metadata.csv is said."""

from __future__ import annotations

import hashlib
import pickle

import numpy as np
import pytest

from contracts.records import Batch
from preprocess.curate import CurateConfig, curate


def _folder(root, metadata: bytes):
    import soundfile as sf

    (root / "wavs").mkdir(parents=True)
    t = np.arange(22_050) / 22_050
    for name, f in (("a", 220.0), ("b", 330.0), ("c", 440.0)):
        tone = 0.3 * np.sin(2 * np.pi * f * t) * np.sin(np.pi * t * 3) ** 2
        sf.write(root / "wavs" / f"{name}.wav", tone.astype(np.float32), 22_050)
    (root / "metadata.csv").write_bytes(metadata)
    return root


def _group(root):
    from preprocess.sources import SourceSpec, list_entries
    from preprocess.speech.plugin import SpeechOptions, SpeechPlugin

    return SpeechPlugin().group(list_entries(SourceSpec(str(root))), SpeechOptions())


def test_a_latin1_line_quarantines_only_its_own_audio(tmp_path):
    from preprocess.sources import read_caption

    root = _folder(tmp_path / "lj", b"a|one|one\r\nb|caf\xe9 seven|caf\xe9 seven\r\nc|three|three\r\n")
    inputs, leftovers = _group(root)
    assert leftovers == []
    read = {i.name: read_caption(i.caption) for i in inputs}
    assert read["wavs/a.wav"] == ("one", None) and read["wavs/c.wav"] == ("three", None)
    caption, error = read["wavs/b.wav"]
    assert caption is None
    assert error == "caption_not_utf8: metadata.csv#take=wavs/b: invalid continuation byte at byte 5 (save it as UTF-8)"
    # the caption entry travels to Ray's workers with the line's location
    b = next(i for i in inputs if i.name == "wavs/b.wav")
    assert read_caption(pickle.loads(pickle.dumps(b.caption)))[1] == error

    result = curate(str(root), tmp_path / "home", CurateConfig(modality="speech"), backend="local")
    rows = {s.source_uri.rsplit("/", 1)[-1]: s for p in result.batch_paths for s in Batch.read(p).samples}
    assert set(rows) == {"a.wav", "b.wav", "c.wav"}
    assert (rows["b.wav"].status, rows["b.wav"].reason) == ("quarantined", error)
    for name in ("a.wav", "c.wav"):
        assert not (rows[name].reason or "").startswith(("missing_caption", "caption_not_utf8")), rows[name].reason


def test_a_line_whose_id_is_not_utf8_is_a_malformed_line(tmp_path):
    root = _folder(tmp_path / "lj", b"x\xe9|one\na|one|one\n")
    inputs, leftovers = _group(root)
    assert [(lo.entry.name, lo.reason_kind) for lo in leftovers] == [("metadata.csv#malformed=" + hashlib.sha256(b"x\xe9|one").hexdigest()[:12], "malformed_metadata_line")]
    assert leftovers[0].detail == "not UTF-8 (invalid continuation byte at byte 1): save it as UTF-8"
    assert {i.name for i in inputs if i.caption is not None} == {"wavs/a.wav"}


@pytest.mark.parametrize("data, detail", [(b"", "no id|transcript line: 0 bytes"),
                                          (b"\n \r\n\n", "no id|transcript line: only blank lines")])
def test_an_empty_metadata_csv_is_said(tmp_path, data, detail):
    inputs, leftovers = _group(_folder(tmp_path / "lj", data))
    assert [(lo.entry.name, lo.reason_kind, lo.detail) for lo in leftovers] == [("metadata.csv", "empty_metadata", detail)]
    assert all(i.caption is None for i in inputs)


def test_a_utf16_metadata_csv_is_unreadable_with_its_fix(tmp_path):
    inputs, leftovers = _group(_folder(tmp_path / "lj", "a|one|one\nb|two|two\n".encode("utf-16")))
    assert [(lo.reason_kind, lo.detail) for lo in leftovers] == [("unreadable_metadata", "it looks like UTF-16: save it as UTF-8")]


def test_a_bom_and_crlf_metadata_csv_still_captions_every_line(tmp_path):
    from preprocess.sources import read_caption

    inputs, leftovers = _group(_folder(tmp_path / "lj", b"\xef\xbb\xbfa|one|one\r\nb|two|two\r\nc|three\r\n"))
    assert leftovers == []
    assert {i.name: read_caption(i.caption)[0] for i in inputs} == {"wavs/a.wav": "one", "wavs/b.wav": "two", "wavs/c.wav": "three"}
