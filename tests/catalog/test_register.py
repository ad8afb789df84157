"""Registration: idempotence, the latest-registration rule, atomicity, validation."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pytest

from catalog import Batch, Catalog, ColumnarBatch, EncodingRecord, SampleRecord, VerdictRecord

from .helpers import VAE_A, dump, key, make_batch, run_py


def test_same_registration_twice_changes_nothing(tmp_path):
    path = tmp_path / "c.duckdb"
    batches = [make_batch(b) for b in range(4)]
    files = [b.write(tmp_path / f"b{i}.batch.json") for i, b in enumerate(batches)]
    with Catalog.open(path) as cat:
        run = cat.start_run("curate", {}, run_id="r1")
        first = cat.register_batches(files[:2] + batches[2:], run)  # paths and objects alike
    assert first == {"batches": 4, "skipped": 0, "samples": 24, "verdicts": 40, "encodings": 32, "shards": 4}
    before = dump(path)
    with Catalog.open(path) as cat:
        again = cat.register_batches(batches[:2] + files[2:], "r1")
    assert again["skipped"] == 4 and again["samples"] == 0
    assert dump(path) == before


def test_upserts_are_idempotent_even_without_the_ledger(tmp_path):
    """Forget the batch ledger and register again: the data tables come out identical."""
    path = tmp_path / "c.duckdb"
    batches = [make_batch(b) for b in range(3)]
    with Catalog.open(path) as cat:
        cat.start_run("curate", {}, run_id="r1")
        cat.register_batches(batches, "r1")
        before = dump(path, exclude=("batches",))
        cat.sql("DELETE FROM batches")
        assert cat.register_batches(batches + batches[:1], "r1")["skipped"] == 1  # 4th is a repeat within the call
        assert dump(path, exclude=("batches",)) == before
        assert all(v == 0 for v in cat.check().values()), cat.check()


def test_latest_registration_wins_and_first_run_is_kept(tmp_path):
    path = tmp_path / "c.duckdb"
    k = key(0, 0)
    with Catalog.open(path) as cat:
        cat.start_run("curate", {}, run_id="r1")
        cat.register_batches([make_batch(0)], "r1")
        cat.start_run("curate", {}, run_id="r2")
        again = Batch(samples=[SampleRecord(k, "image", "/raw/0/0.png", "rejected", reason="aesthetic: 0.1 < 0.5",
                                            caption=None, width=512, height=512, meta={"aesthetic": 0.1})],
                      verdicts=[VerdictRecord(k, "aesthetic", "2", 0.1, 0.5, False),
                                VerdictRecord(k, "min_size", "1", 512.0, 300.0, True)])
        cat.register_batches([again], "r2")
        (row,) = cat.sql("SELECT status, reason, caption, meta->>'aesthetic', meta->>'label', first_run, last_run "
                         "FROM samples WHERE key = ?", [k])[1]
        assert row == ("rejected", "aesthetic: 0.1 < 0.5", "a photo of thing 0-0", "0.1", "0", "r1", "r2")
        verdicts = cat.sql("SELECT filter, filter_version, threshold, passed, run_id FROM verdicts WHERE key = ? "
                           "ORDER BY ALL", [k])[1]
        assert verdicts == [("aesthetic", "2", 0.5, False, "r2"), ("aspect_ratio", "1", 3.0, True, "r1"),
                            ("min_size", "1", 300.0, True, "r2")]
        assert cat.sql("SELECT count(*) FROM samples")[1] == [(6,)]
        assert all(v == 0 for v in cat.check().values())


def test_last_record_wins_within_a_batch(tmp_path):
    k = key(9, 1)
    b = Batch(samples=[SampleRecord(k, "speech", "/a.wav", "quarantined", reason="decode_error"),
                       SampleRecord(k, "speech", "/a.wav", "accepted", duration=2.5, sample_rate=16000)],
              verdicts=[VerdictRecord(k, "snr", "1", 3.0, 10.0, False), VerdictRecord(k, "snr", "1", 30.0, 10.0, True)])
    with Catalog.open(tmp_path / "c.duckdb") as cat:
        cat.start_run("curate", {}, run_id="r1")
        cat.register_batches([b], "r1")
        assert cat.sql("SELECT status, duration FROM samples")[1] == [("accepted", 2.5)]
        assert cat.sql("SELECT score, passed FROM verdicts")[1] == [(30.0, True)]


def test_rewritten_shard_gets_the_membership_of_its_latest_batch(tmp_path):
    with Catalog.open(tmp_path / "c.duckdb") as cat:
        cat.start_run("curate", {}, run_id="r1")
        cat.register_batches([make_batch(0)], "r1")
        smaller = make_batch(0, n=2)
        smaller.shard = dataclasses.replace(smaller.shard, sha256="f" * 64, num_samples=2)
        cat.register_batches([smaller], "r1")
        assert cat.sql("SELECT sha256, num_samples FROM shards")[1] == [("f" * 64, 2)]
        assert cat.sql("SELECT count(*) FROM shard_samples")[1] == [(2,)]


@pytest.mark.parametrize("step", ["shard", "samples", "verdicts", "encodings", "batch"])
def test_failure_inside_a_batch_leaves_the_catalog_as_before(catalog_copy, step):
    before = dump(catalog_copy)

    def fail(at: str) -> None:
        if at == step:
            raise RuntimeError(f"injected failure after {at}")

    cat = Catalog.open(catalog_copy)
    cat._fault_hook = fail
    with pytest.raises(RuntimeError, match="injected"):
        cat.register_batches([make_batch(7), make_batch(1, n=3)], "run-base")
    assert dump(catalog_copy) == before
    cat._fault_hook = None
    assert cat.register_batches([make_batch(7)], "run-base")["skipped"] == 0  # nothing half-recorded


def test_completed_batches_stay_when_a_later_one_fails(catalog_copy):
    cat = Catalog.open(catalog_copy)
    calls = []
    cat._fault_hook = lambda at: calls.append(at) or (at == "verdicts" and len(calls) > 5 and 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cat.register_batches([make_batch(7), make_batch(8)], "run-base")
    keys = {r[0][:8] for r in cat.sql("SELECT key FROM samples")[1]}
    assert "00000007" in keys and "00000008" not in keys


def test_process_killed_mid_batch_leaves_no_partial_batch(catalog_copy):
    before = dump(catalog_copy)
    code = (
        "import os, sys\n"
        "from catalog import Catalog\n"
        "from tests.catalog.helpers import make_batch\n"
        "cat = Catalog.open(sys.argv[1])\n"
        "cat._fault_hook = lambda at: at == 'encodings' and os._exit(3)\n"
        "cat.register_batches([make_batch(7, n=50)], 'run-base')\n"
    )
    proc = run_py(code, str(catalog_copy))
    assert proc.returncode == 3, proc.stderr
    assert dump(catalog_copy) == before  # DuckDB replays only committed transactions from its WAL


def test_invalid_batches_are_refused_before_writing(catalog_copy):
    before = dump(catalog_copy)
    cat = Catalog.open(catalog_copy)
    orphan = Batch(encodings=[EncodingRecord("f" * 32, VAE_A, "latent", [4, 1, 8, 8], "float16", "/s.tar", "x")])
    with pytest.raises(ValueError, match="neither in the batch nor registered"):
        cat.register_batches([orphan], "run-base")
    bad = make_batch(5)
    object.__setattr__(bad.samples[0], "status", "maybe")
    with pytest.raises(ValueError, match="status must be one of"):
        cat.register_batches([bad], "run-base")
    with pytest.raises(ValueError, match="unknown run"):
        cat.register_batches([make_batch(5)], "no-such-run")
    assert dump(catalog_copy) == before


def test_columnar_batch_is_the_same_registration(tmp_path):
    """A ColumnarBatch built from columns registers exactly like the Batch it mirrors."""
    b = make_batch(3)
    cb = ColumnarBatch.from_batch(b)
    cols = ColumnarBatch(shard=b.shard, samples=pa.table(cb.samples.to_pydict()),
                         verdicts=pa.table(cb.verdicts.to_pydict()), encodings=cb.encodings)
    assert cols.digest() == cb.digest()
    p1, p2 = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    for path, item in ((p1, b), (p2, cols)):
        with Catalog.open(path) as cat:
            cat.start_run("curate", {}, run_id="r1")
            cat.register_batches([item], "r1")
    strip = ("batches", "lineage", "runs", "schema_version")
    assert dump(p1, exclude=strip) == dump(p2, exclude=strip)


def test_runs_checkpoints_metrics_lineage(catalog_copy):
    cat = Catalog.open(catalog_copy)
    cols, rows = cat.sql("SELECT run_id, flow_name, parameters->>'steps', status, ended_at IS NOT NULL "
                         "FROM runs ORDER BY run_id")
    assert rows == [("run-base", "curate", None, "completed", True), ("run-train", "train", "10", "completed", True)]
    # idempotent by uri: same id, nothing added
    n = cat.sql("SELECT count(*) FROM checkpoints")[1]
    ckpt = cat.register_checkpoint("run-train", "/ckpt/step10.safetensors", {"dim": 999}, "images", None, step=99)
    assert cat.sql("SELECT count(*) FROM checkpoints")[1] == n
    assert cat.sql("SELECT step, config->>'dim', manifest, manifest_version FROM checkpoints WHERE checkpoint_id = ?",
                   [ckpt])[1] == [(10, "64", "images", 1)]
    cat.log_metrics("run-train", {"loss": 0.3}, step=20, checkpoint_id=ckpt)
    latest = dict(((r[0], r[1]), r[2]) for r in cat.sql(
        "SELECT name, coalesce(split, '-'), value FROM latest_metrics WHERE checkpoint_id = ?", [ckpt])[1])
    assert latest == {("loss", "-"): 0.3, ("loss", "holdout"): 0.4, ("fid", "holdout"): 12.0}
    cat.add_lineage("checkpoint", ckpt, "run", "run-eval")
    edges = set(cat.sql("SELECT src_kind, dst_kind FROM lineage")[1])
    assert {("run", "shard"), ("shard", "manifest"), ("manifest", "checkpoint"), ("run", "checkpoint"),
            ("checkpoint", "run")} <= edges
    with pytest.raises(ValueError, match="lineage kind"):
        cat.add_lineage("dataset", "x", "run", "y")
    with pytest.raises(ValueError, match="unknown run"):
        cat.log_metrics("nope", {"x": 1.0})
    with pytest.raises(ValueError, match="completed, failed or cancelled"):
        cat.finish_run("run-train", "done")
    # resuming a run id puts it back to running
    cat.start_run("train", {}, run_id="run-train")
    assert cat.sql("SELECT status, ended_at FROM runs WHERE run_id = 'run-train'")[1] == [("running", None)]


def test_a_checkpoint_folder_rewritten_with_other_weights_is_no_longer_credited_with_the_old_metrics(catalog_copy):
    """The same folder, registered again with the same content, changes nothing; with other content
    (a checkpoint deleted, then written again by another run) the row describes the new weights and
    the old evaluation no longer shows in latest_metrics."""
    cat = Catalog.open(catalog_copy)
    first = cat.start_run("train", {}, run_id="run-a")
    ckpt = cat.register_checkpoint(first, "/ckpt/step30", {"content_sha256": "aa"}, "images", None, step=30)
    cat.log_metrics("run-train", {"heldout_fm_loss": 1.07}, step=30, split="holdout", checkpoint_id=ckpt)
    second = cat.start_run("train", {}, run_id="run-b")
    assert cat.register_checkpoint(second, "/ckpt/step30", {"content_sha256": "aa"}, "images", None, step=30) == ckpt
    assert cat.sql("SELECT run_id FROM checkpoints WHERE checkpoint_id = ?", [ckpt])[1] == [("run-a",)]
    assert cat.register_checkpoint(second, "/ckpt/step30", {"content_sha256": "bb"}, "images", None, step=30) == ckpt
    assert cat.sql("SELECT run_id, config->>'content_sha256' FROM checkpoints WHERE checkpoint_id = ?", [ckpt])[1] == [
        ("run-b", "bb")]
    assert cat.sql("SELECT count(*) FROM latest_metrics WHERE checkpoint_id = ?", [ckpt])[1] == [(0,)]
    assert cat.sql("SELECT count(*) FROM metrics WHERE name = 'heldout_fm_loss' AND value = 1.07")[1] == [(1,)]  # kept
    assert cat.sql("SELECT src_id FROM lineage WHERE dst_id = ? AND src_kind = 'run'", [ckpt])[1] == [("run-b",)]


def test_read_only_catalog_refuses_writes(base_catalog):
    from catalog import CatalogError

    with Catalog.open(base_catalog, read_only=True) as cat:
        with pytest.raises(CatalogError, match="read-only"):
            cat.start_run("x", {})
        with pytest.raises(Exception, match="read-only"):
            cat.sql("DELETE FROM samples")
        assert cat.sql("SELECT count(*) FROM samples")[1] == [(18,)]


def test_data_tests_pass_on_a_normal_catalog(base_catalog):
    with Catalog.open(base_catalog, read_only=True) as cat:
        assert cat.check() == {k: 0 for k in cat.check()}
        assert len(cat.check()) >= 10


def test_a_broken_batch_file_is_named_in_the_error(catalog_copy, tmp_path):
    good = make_batch(5).write(tmp_path / "good.batch.json")
    bad = tmp_path / "bad.batch.json"
    bad.write_text('{"samples": [{"key": "x", "modality": "image"}]}')
    cat = Catalog.open(catalog_copy)
    with pytest.raises(ValueError, match="bad.batch.json: not a valid batch file"):
        cat.register_batches([good, bad], "run-base")
    assert cat.sql("SELECT count(*) FROM batches")[1] == [(4,)]  # the good one before it stays registered


def test_code_version_is_the_pipelines_commit_not_the_folder_a_command_runs_in(tmp_path, monkeypatch):
    """runs.code_version recorded the git commit of whatever folder `lumina` was started from (an
    unrelated repository's, or nothing from a worker's folder)."""
    import subprocess

    from catalog.db import PACKAGE_ROOT, code_version

    monkeypatch.delenv("LUMINA_CODE_VERSION", raising=False)
    ours = code_version()
    other = tmp_path / "other"
    other.mkdir()
    git = lambda *a: subprocess.run(["git", *a], cwd=other, check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "x")
    theirs = subprocess.run(["git", "rev-parse", "HEAD"], cwd=other, capture_output=True, text=True).stdout.strip()
    monkeypatch.chdir(other)
    assert code_version() == ours and theirs not in (ours or "")
    (other / "copied_pipeline").mkdir()  # a copy of the code without .git, inside someone's repository
    assert code_version(other / "copied_pipeline") == "lumina-pipeline==0.1.0"
    assert ours == code_version(PACKAGE_ROOT)


def test_a_failing_statement_raises_its_own_error_not_the_aborted_transactions(tmp_path, monkeypatch):
    """Unregistering the batch's views in the aborted transaction raised "Current transaction is
    aborted", which hid the error that aborted it (a CHECK constraint, a missing table)."""
    import duckdb

    import catalog.db as db

    real = db.q
    monkeypatch.setattr(db, "q", lambda name: "INSERT INTO no_such_table SELECT 1" if name == "insert_verdicts" else real(name))
    batch = Batch(samples=[SampleRecord(key="a" * 32, modality="image", source_uri="/x.png", status="rejected", reason="r: x",
                                        caption="c", split="train")],
                  verdicts=[VerdictRecord("a" * 32, "f", "1", 1.0, 2.0, False)])
    with Catalog.open(tmp_path / "c.duckdb") as cat:
        rid = cat.start_run("t", {})
        with pytest.raises(duckdb.CatalogException, match="no_such_table"):
            cat.register_batches([batch], rid)
        monkeypatch.setattr(db, "q", real)
        assert cat.register_batches([batch], rid)["samples"] == 1  # the connection is usable again
