"""The demo's embedded corpus is written once per options and code version: rewriting the speech
corpus at every run (espeak-ng's breathy voices do not give the same bytes twice) made new samples
beside the old ones, 45 accepted, then 67 after a second run of a 2-voice demo."""

from __future__ import annotations

import types

import flows.data_to_model as d2m


def test_a_rerun_reuses_the_corpus_unless_its_options_code_or_folder_changed(tmp_path, monkeypatch):
    writes = []

    def write(root, **options):
        writes.append(options)
        (tmp_path / "source" / "speech").mkdir(parents=True, exist_ok=True)
        return root

    monkeypatch.setattr(d2m, "demo_module", lambda modality: types.SimpleNamespace(write_corpus=write))
    monkeypatch.setattr("catalog.db.code_version", lambda: "abc")
    root = str(tmp_path / "source" / "speech")
    write_corpus = d2m.write_corpus.fn
    assert write_corpus("speech", root, {"voices": 2}) == root
    assert write_corpus("speech", root, {"voices": 2}) == root
    assert writes == [{"voices": 2}]  # the second run reused it
    write_corpus("speech", root, {"voices": 3})
    assert len(writes) == 2  # other options: written again
    monkeypatch.setattr("catalog.db.code_version", lambda: "def")
    write_corpus("speech", root, {"voices": 3})
    assert len(writes) == 3  # other code: written again
    (tmp_path / "source" / "speech").rmdir()
    write_corpus("speech", root, {"voices": 3})
    assert len(writes) == 4  # the folder gone: written again
