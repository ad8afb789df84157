"""An interrupted curation resumes: what its analysis finished is not decoded again, and the result
is the same as an uninterrupted run's."""

import os
import shutil

import pytest

from contracts.records import Batch
from preprocess import curate as curate_module
from preprocess.curate import CurateConfig, curate

OPTIONS = {"resize": "square", "size": 32}


@pytest.fixture
def corpus(small_corpus, tmp_path):
    """A private copy: some tests edit files."""
    return shutil.copytree(small_corpus.root, tmp_path / "source")


def interrupted(monkeypatch, source, home, **cfg):
    """A curation killed after its analysis, while writing shards."""
    def crash(self, batch):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(curate_module.WriteShardStage, "process", crash)
        with pytest.raises(KeyboardInterrupt):
            curate(str(source), home, CurateConfig(options=OPTIONS, chunk_size=16, **cfg), backend="local")


def rows(result):
    batches = [Batch.read(p) for p in result.batch_paths]
    return (sorted((s.key, s.status, s.reason, s.source_uri, s.width, s.height) for b in batches for s in b.samples),
            sorted((v.key, v.filter, v.score, v.passed) for b in batches for v in b.verdicts))


def journal_root(home):
    return home / "journal" / "analyse"


def test_a_resumed_curation_decodes_nothing_again_and_gives_the_same_rows(monkeypatch, corpus, tmp_path, analysed):
    home = tmp_path / "home"
    interrupted(monkeypatch, corpus, home)
    first = len(analysed)
    assert first > 0 and any(journal_root(home).rglob("*.pkl"))
    analysed.clear()
    resumed = curate(str(corpus), home, CurateConfig(options=OPTIONS, chunk_size=16), backend="local")
    assert analysed == []  # every chunk came from the journal
    fresh = curate(str(corpus), tmp_path / "other", CurateConfig(options=OPTIONS, chunk_size=16), backend="local")
    assert len(analysed) == first
    assert rows(resumed) == rows(fresh)
    assert not any(journal_root(home).rglob("*")) and not any(journal_root(tmp_path / "other").rglob("*"))


def test_the_journal_goes_when_the_curation_completes_so_a_second_run_analyses_afresh(corpus, tmp_path, analysed):
    home = tmp_path / "home"
    curate(str(corpus), home, CurateConfig(options=OPTIONS, chunk_size=16), backend="local")
    n = len(analysed)
    curate(str(corpus), home, CurateConfig(options=OPTIONS, chunk_size=16), backend="local")
    assert len(analysed) == 2 * n


def test_a_file_changed_after_the_interruption_is_analysed_again_with_its_chunk_only(monkeypatch, corpus, tmp_path, analysed):
    home = tmp_path / "home"
    interrupted(monkeypatch, corpus, home)
    order = list(analysed)
    analysed.clear()
    changed = corpus / order[20]  # in the second chunk of 16
    data = changed.read_bytes()
    changed.write_bytes(data[: len(data) // 2])  # now truncated: it must be quarantined, not accepted as before
    st = os.stat(changed)
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    result = curate(str(corpus), home, CurateConfig(options=OPTIONS, chunk_size=16), backend="local")
    assert analysed == order[16:32]
    samples = [s for p in result.batch_paths for s in Batch.read(p).samples]
    assert next(s for s in samples if s.source_uri == str(changed)).status == "quarantined"


def test_other_options_do_not_take_an_interrupted_runs_analysis(monkeypatch, corpus, tmp_path, analysed):
    home = tmp_path / "home"
    interrupted(monkeypatch, corpus, home)
    n = len(analysed)
    analysed.clear()
    result = curate(str(corpus), home, CurateConfig(options={"resize": "square", "size": 24}, chunk_size=16), backend="local")
    assert len(analysed) == n
    widths = {s.width for p in result.batch_paths for s in Batch.read(p).samples if s.status == "accepted"}
    assert widths == {24}


def test_other_code_does_not_take_an_interrupted_runs_analysis(monkeypatch, corpus, tmp_path, analysed):
    """A journal pickled by older code (another decoder, another signature) mixed into a resumed run."""
    import catalog.db

    home = tmp_path / "home"
    monkeypatch.setattr(catalog.db, "code_version", lambda cwd=None: "abc123")
    interrupted(monkeypatch, corpus, home)
    n = len(analysed)
    analysed.clear()
    monkeypatch.setattr(catalog.db, "code_version", lambda cwd=None: "def456")  # the code was updated meanwhile
    curate(str(corpus), home, CurateConfig(options=OPTIONS, chunk_size=16), backend="local")
    assert len(analysed) == n


def test_a_completed_curation_discards_the_journals_of_its_sources_interrupted_runs(monkeypatch, corpus, tmp_path):
    """An interrupted run with other options (or older code) left its journal for good: no run takes it back."""
    home = tmp_path / "home"
    interrupted(monkeypatch, corpus, home)
    curate(str(corpus), home, CurateConfig(options={"resize": "square", "size": 24}, chunk_size=16), backend="local")
    assert not any(journal_root(home).rglob("*.pkl"))


def test_a_damaged_journal_file_costs_its_chunk_only(monkeypatch, corpus, tmp_path, analysed):
    home = tmp_path / "home"
    interrupted(monkeypatch, corpus, home)
    order = list(analysed)
    analysed.clear()
    files = sorted(journal_root(home).rglob("*.pkl"))
    files[0].write_bytes(b"not a pickle")
    curate(str(corpus), home, CurateConfig(options=OPTIONS, chunk_size=16), backend="local")
    chunk_sizes = {16, len(order) % 16 or 16}  # which chunk's file was damaged depends on its hash
    assert len(analysed) in chunk_sizes and set(analysed) <= set(order)
    assert analysed == order[order.index(analysed[0]):order.index(analysed[0]) + len(analysed)]  # one whole chunk


def test_an_emptied_quarantine_folder_is_filled_again_on_resume(monkeypatch, corpus, tmp_path):
    home = tmp_path / "home"
    interrupted(monkeypatch, corpus, home)
    shutil.rmtree(home / "quarantine")
    result = curate(str(corpus), home, CurateConfig(options=OPTIONS, chunk_size=16), backend="local")
    corrupt = next(s for p in result.batch_paths for s in Batch.read(p).samples if s.source_uri.endswith("corrupt.png"))
    assert (home / "quarantine" / corrupt.key / "corrupt.png").exists()
    assert (home / "quarantine" / corrupt.key / "error.txt").read_text().startswith("decode_error")


def test_an_interrupted_refresh_resumes_its_analysis(monkeypatch, corpus, tmp_path, analysed):
    from flows.refresh import refresh_source
    from preprocess.encode import EncodeConfig

    home = tmp_path / "home"
    cfg = CurateConfig(options=OPTIONS, chunk_size=16)
    with monkeypatch.context() as m:
        m.setattr(curate_module.WriteShardStage, "process", lambda self, batch: (_ for _ in ()).throw(KeyboardInterrupt()))
        with pytest.raises(KeyboardInterrupt):
            refresh_source(str(corpus), home, cfg=cfg, encode_cfg=EncodeConfig(text="phone"), backend="local")
    assert analysed and any(journal_root(home).rglob("*.pkl"))
    analysed.clear()
    result = refresh_source(str(corpus), home, cfg=cfg, encode_cfg=EncodeConfig(text="phone"), backend="local")
    assert analysed == [] and result.new_samples > 0
    assert not any(journal_root(home).rglob("*"))
