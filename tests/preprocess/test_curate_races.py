"""An input's files changed or deleted between its analysis and the writing of its shard.

Before: the shard writer read the file again and stored the new content under the key (and
caption) hashed from the old one, for good (a complete shard is never rewritten); a deleted file
aborted the whole run (Errno 2, exit 2, nothing registered). Now the writer writes a sample only
if the bytes it reads still hash to the recorded content; else the input is quarantined with
changed_during_curation or vanished_during_curation, and the rest of the run completes.
"""

import shutil
from pathlib import Path

import pytest

import preprocess.curate as pc
from contracts.records import Batch
from contracts.shards import iter_samples
from preprocess.curate import CurateConfig, curate
from preprocess.image.demo_corpus import write_demo_corpus

OPTIONS = {"resize": "square", "size": 32}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_demo_corpus(tmp_path_factory.mktemp("races"), num_digits=16, num_shapes=6, seed=0).root


def run(src, home, shard_size=8):
    result = curate(str(src), home, CurateConfig(options=OPTIONS, shard_size=shard_size), backend="local")
    samples = [s for p in result.batch_paths for s in Batch.read(p).samples]
    return result, samples


def shard_keys(result) -> set[str]:
    return {key for uri in result.shard_uris for key, _ in iter_samples(uri)}


def shard_bytes(result) -> dict[str, bytes]:
    return {Path(u).name: Path(u).read_bytes() for u in result.shard_uris}


@pytest.fixture
def raced(corpus, tmp_path, monkeypatch):
    """A copy of the corpus, its first accepted input (by key) and a function that curates it while
    ``change(victim)`` happens right before the first shard is written."""
    src = tmp_path / "src"
    shutil.copytree(corpus, src)
    _, samples = run(src, tmp_path / "probe")
    victim = Path(sorted((s for s in samples if s.status == "accepted"), key=lambda s: s.key)[0].source_uri)
    other = next(Path(s.source_uri) for s in sorted(samples, key=lambda s: s.key)
                 if s.status == "accepted" and Path(s.source_uri) != victim)

    def curate_while(change):
        write = pc.WriteShardStage._write
        done = []

        def racing(self, cands):
            if not done:
                done.append(change(victim, other))
            return write(self, cands)

        monkeypatch.setattr(pc.WriteShardStage, "_write", racing)
        try:
            return run(src, tmp_path / "home")
        finally:
            monkeypatch.setattr(pc.WriteShardStage, "_write", write)

    return src, victim, samples, curate_while


def test_a_file_edited_after_analysis_is_not_stored_under_its_old_key(raced, tmp_path):
    src, victim, clean, curate_while = raced
    old = next(s for s in clean if s.source_uri == str(victim))
    result, samples = curate_while(lambda v, other: shutil.copyfile(other, v))

    assert old.key not in shard_keys(result)  # before: the other file's pixels under the victim's key and caption
    rows = [s for s in samples if s.source_uri == str(victim)]
    assert [(r.status, r.reason.split(":")[0]) for r in rows] == [("quarantined", "changed_during_curation")]
    assert rows[0].key != old.key  # its own row: a sample the catalog has of that content keeps its own
    assert result.counts["accepted"] == sum(s.status == "accepted" for s in clean) - 1
    assert result.reasons.get("changed_during_curation") == 1
    # every other accepted sample is in a shard; no writer's note is left behind
    assert shard_keys(result) == {s.key for s in samples if s.status == "accepted"}
    assert not list((tmp_path / "home" / "curated" / "image").glob("set-aside-*"))

    # a re-run curates the file's new content under its new key, and writes the shards a fresh
    # curation of the source as it is now writes, byte for byte
    again, samples2 = run(src, tmp_path / "home")
    now = [s for s in samples2 if s.source_uri == str(victim)]
    assert len(now) == 1 and now[0].key not in (old.key, rows[0].key)
    fresh, _ = run(src, tmp_path / "fresh")
    assert shard_bytes(again) == shard_bytes(fresh)


def test_a_file_deleted_after_analysis_is_quarantined_and_the_run_completes(raced, tmp_path):
    src, victim, clean, curate_while = raced
    result, samples = curate_while(lambda v, other: v.unlink())  # before: FileNotFoundError, no batch written

    rows = [s for s in samples if s.source_uri == str(victim)]
    assert [(r.status, r.reason) for r in rows] == [("quarantined", "vanished_during_curation: No such file or directory")]
    assert result.counts["accepted"] == sum(s.status == "accepted" for s in clean) - 1
    assert shard_keys(result) == {s.key for s in samples if s.status == "accepted"}
    assert (tmp_path / "home" / "quarantine" / rows[0].key / "error.txt").read_text().startswith("vanished_during_curation")
    # curated again: the file is gone, and nothing of it is left to curate
    _, again = run(src, tmp_path / "home2")
    assert not [s for s in again if s.source_uri == str(victim)]


def test_the_analysis_decodes_the_bytes_its_key_hashes(corpus, tmp_path, monkeypatch):
    """The key was hashed from one read of a file and the plugin decoded another: a file changed in
    between was judged (verdicts, recorded size) on content its key does not name. Now each media
    file is read once to analyse it, and once more only to write an accepted sample."""
    from collections import Counter

    from preprocess.sources import Entry

    src = tmp_path / "src"
    shutil.copytree(corpus, src)
    opened = Counter()
    real_read = Entry.read

    def read(self, limit=None):
        if self.loc and self.loc[0] == "file" and limit is None:  # captions are read with a limit
            opened[self.uri] += 1
        return real_read(self, limit)

    monkeypatch.setattr(Entry, "read", read)
    _, samples = run(src, tmp_path / "home")
    accepted = {s.source_uri for s in samples if s.status == "accepted"}
    assert accepted and opened
    assert {uri: n for uri, n in opened.items() if n != 1 + (uri in accepted)} == {}
