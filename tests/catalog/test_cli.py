"""`lumina catalog ...` (catalog.cli.main): sql, stats, why, manifest, export; one-line errors."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest

from catalog.cli import main

from .helpers import VAE_A, VAE_B, cli, key, make_batch


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_sql_prints_a_table_json_and_csv(base_catalog, capsys):
    q = "SELECT status, count(*) AS n FROM samples GROUP BY status ORDER BY status"
    rc, out, err = run(capsys, "sql", q, "--catalog", str(base_catalog))
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["status", "n"] and set(lines[1]) <= {"-", " "}
    assert lines[2].split() == ["accepted", "12"] and lines[-1] == "(3 rows)"
    rc, out, _ = run(capsys, "--catalog", str(base_catalog), "sql", q, "--json")  # --catalog before or after
    assert json.loads(out) == [{"status": "accepted", "n": 12}, {"status": "quarantined", "n": 3},
                               {"status": "rejected", "n": 3}]
    rc, out, _ = run(capsys, "sql", q, "--csv", "--catalog", str(base_catalog))
    assert "\r" not in out  # plain newlines: `K=$(lumina catalog sql ... --csv | tail -1)` carries no \r
    assert list(csv.reader(io.StringIO(out))) == [["status", "n"], ["accepted", "12"], ["quarantined", "3"],
                                                  ["rejected", "3"]]


def test_home_names_the_workspace_whose_catalog_is_read(base_catalog, tmp_path, capsys):
    """Every other lumina command takes --home; lumina catalog said "unrecognized arguments"."""
    import shutil

    home = tmp_path / "ws"
    home.mkdir()
    shutil.copy(base_catalog, home / "catalog.duckdb")
    q = "SELECT count(*) AS n FROM samples"
    for argv in (("sql", q, "--home", str(home), "--json"), ("--home", str(home), "sql", q, "--json")):
        rc, out, err = run(capsys, *argv)
        assert rc == 0 and json.loads(out) == [{"n": 18}], err


def test_sql_is_read_only_unless_asked(catalog_copy, capsys):
    rc, out, err = run(capsys, "sql", "DELETE FROM samples", "--catalog", str(catalog_copy))
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and "read-only" in err and "--write" in err
    rc, out, err = run(capsys, "sql", "UPDATE runs SET status = 'failed' WHERE run_id = 'run-base'", "--write",
                       "--catalog", str(catalog_copy))
    assert rc == 0, err


@pytest.mark.parametrize("argv, message", [
    (["sql", "SELEC nonsense"], "Parser Error"),
    (["sql", "SELECT * FROM no_such_table"], "no_such_table"),
    (["why", "ffffffff"], "no sample with key"),
    (["manifest", "show", "nope"], "no manifest named"),
    (["export", "nope", "--out", "/tmp/x.parquet"], "neither a table/view"),
    (["export", "images", "--version", "9", "--out", "/tmp/x.parquet"], "manifest 'images' has no version 9 (versions 1 to"),
    (["export", "images@v7", "--out", "/tmp/x.parquet"], "manifest 'images' has no version 7"),
    (["export", "samples", "--version", "1", "--out", "/tmp/x.parquet"], "'samples' is a table or view: it has no versions"),
    (["export", "samples", "--out", "/tmp/lumina-export-test/x.csv"], "export writes Parquet"),
])
def test_errors_are_one_line_with_exit_code_2(base_catalog, capsys, argv, message):
    rc, out, err = run(capsys, *argv, "--catalog", str(base_catalog))
    assert rc == 2 and out == ""
    assert err.startswith("lumina catalog: error: ") and err.count("\n") == 1 and message in err, err


def test_missing_catalog(tmp_path, capsys):
    rc, out, err = run(capsys, "stats", "--catalog", str(tmp_path / "none.duckdb"))
    assert rc == 2 and "no catalog at" in err and err.count("\n") == 1
    assert not (tmp_path / "none.duckdb").exists()


def test_usage_errors_exit_2(capsys):
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "--help")[0] == 0


def test_stats(base_catalog, capsys):
    rc, out, _ = run(capsys, "stats", "--catalog", str(base_catalog))
    assert rc == 0
    for title in ("Totals", "Samples per modality and status", "Drop reasons", "Filter drop rates", "Storage"):
        assert f"== {title}" in out
    assert "min_size: 100 < 256" in out and "decode_error: truncated" in out
    rc, out, _ = run(capsys, "stats", "--json", "--catalog", str(base_catalog))
    stats = json.loads(out)
    assert stats["totals"][0]["samples"] == 18
    assert stats["status"] == [{"modality": "image", "accepted": 12, "rejected": 3, "quarantined": 3, "removed": 0, "superseded": 0}]
    assert stats["storage"][0]["bytes"] == 18000


def test_stats_counts_the_statuses_a_refresh_gives(catalog_copy, capsys):
    """removed and superseded samples were counted in the totals but shown in no column."""
    from catalog import Catalog

    from .helpers import key

    with Catalog.open(catalog_copy) as cat:
        with cat._connection() as con:
            con.execute("UPDATE samples SET status = 'removed', reason = 'removed: no longer in the source' WHERE key = ?", [key(0, 0)])
            con.execute("UPDATE samples SET status = 'superseded', reason = 'superseded: by x' WHERE key = ?", [key(0, 1)])
    rc, out, _ = run(capsys, "stats", "--json", "--catalog", str(catalog_copy))
    assert json.loads(out)["status"] == [{"modality": "image", "accepted": 10, "rejected": 3, "quarantined": 3, "removed": 1,
                                          "superseded": 1}]


def test_why_accepted_sample_tells_the_whole_story(base_catalog, capsys):
    k = key(1, 0)
    rc, out, err = run(capsys, "why", k[:8], "--catalog", str(base_catalog))
    assert rc == 2 and "ambiguous" in err
    rc, out, _ = run(capsys, "why", k, "--catalog", str(base_catalog))
    assert rc == 0
    assert out.startswith(f"sample {k}  [image]  ACCEPTED")
    assert "/raw/1/0.png" in out and "a photo of thing 1-0" in out
    for section in ("Filter verdicts", "Shards holding it", "Encodings", "Manifests containing it",
                    "Checkpoints trained on a manifest holding it", "Runs that registered it"):
        assert f"== {section}" in out
    assert "min_size" in out and "/shards/b0001.tar" in out and VAE_A in out and "images" in out
    assert "/ckpt/step10.safetensors" in out and "run-base" in out
    rc, out, _ = run(capsys, "why", k, "--json", "--catalog", str(base_catalog))
    story = json.loads(out)
    assert story["sample"]["status"] == "accepted" and story["sample"]["meta"] == {"label": 0, "batch": 1}
    assert [c["uri"] for c in story["checkpoints"]] == ["/ckpt/step10.safetensors"]
    assert {e["kind"] for e in story["encodings"]} == {"latent", "text"}


def test_why_takes_the_file_a_sample_came_from(base_catalog, capsys):
    """A user asks about the file they know, not its key: 'no sample with key' before."""
    for given in ("/raw/1/0.png", "1/0.png", "./1/0.png"):
        rc, out, err = run(capsys, "why", given, "--catalog", str(base_catalog))
        assert rc == 0 and out.startswith(f"sample {key(1, 0)}  [image]  ACCEPTED"), (given, err)
    rc, out, err = run(capsys, "why", "0.png", "--catalog", str(base_catalog))
    assert rc == 2 and "'0.png' names" in err and "give more of the path" in err
    rc, out, err = run(capsys, "why", "missing.png", "--catalog", str(base_catalog))
    assert rc == 2 and "no sample with key 'missing.png', and none came from a file of that name" in err


def test_why_of_a_file_that_gave_several_samples_asks_for_one_and_prefers_the_accepted(catalog_copy, capsys):
    from catalog import Catalog

    with Catalog.open(catalog_copy) as cat, cat._connection() as con:  # two scenes of one clip, and a retired row
        con.execute("UPDATE samples SET source_uri = '/raw/clip.mp4' WHERE key IN (?, ?)", [key(1, 0), key(1, 1)])
        con.execute("UPDATE samples SET source_uri = '/raw/old.png', status = 'superseded', reason = 'superseded: by x' "
                    "WHERE key = ?", [key(0, 0)])
        con.execute("UPDATE samples SET source_uri = '/raw/old.png' WHERE key = ?", [key(0, 1)])
        con.execute("UPDATE samples SET source_uri = '/data/shards/shard-1.tar#000001.jpg' WHERE key = ?", [key(2, 0)])
    # a member or listing row also as reasons print it (<tar>#<member>, metadata.csv#line=23)
    for given in ("shard-1.tar/000001.jpg", "shards/shard-1.tar/000001.jpg", "/data/shards/shard-1.tar#000001.jpg",
                  "shard-1.tar#000001.jpg", "shards/shard-1.tar#000001.jpg"):
        rc, out, err = run(capsys, "why", given, "--catalog", str(catalog_copy))  # a webdataset member, as a path
        assert rc == 0 and out.startswith(f"sample {key(2, 0)}"), (given, err)
    rc, out, err = run(capsys, "why", "clip.mp4", "--catalog", str(catalog_copy))
    assert rc == 2 and "/raw/clip.mp4 gave 2 accepted samples (" in err and "give one's key" in err
    rc, out, err = run(capsys, "why", "old.png", "--catalog", str(catalog_copy))
    assert rc == 0 and out.startswith(f"sample {key(0, 1)}  [image]  ACCEPTED"), err


def test_why_rejected_sample(base_catalog, capsys):
    rc, out, _ = run(capsys, "why", key(2, 3), "--json", "--catalog", str(base_catalog))
    story = json.loads(out)
    assert story["sample"]["status"] == "rejected" and story["sample"]["reason"] == "min_size: 100 < 256"
    failed = [v for v in story["verdicts"] if not v["passed"]]
    assert failed == [{"filter": "min_size", "filter_version": "1", "score": 100.0, "threshold": 256.0,
                       "passed": False, "run_id": "run-base"}]
    assert story["encodings"] == [] and story["manifests"] == [] and story["checkpoints"] == []
    rc, out, _ = run(capsys, "why", key(2, 3), "--catalog", str(base_catalog))
    assert "REJECTED: min_size: 100 < 256" in out.splitlines()[0]


def test_why_quarantined_sample(base_catalog, capsys):
    rc, out, _ = run(capsys, "why", key(0, 4), "--catalog", str(base_catalog))
    assert rc == 0
    assert "QUARANTINED: decode_error: truncated" in out.splitlines()[0]
    assert out.count("(none)") == 6  # no verdicts, status changes, shards, encodings, manifests, checkpoints


def test_manifest_create_list_show(catalog_copy, capsys):
    c = str(catalog_copy)
    rc, out, err = run(capsys, "manifest", "create", "holdout", "--where", "split = 'holdout'", "--catalog", c)
    assert (rc, err) == (2, "lumina catalog: error: manifest 'holdout': no accepted samples match \"split = 'holdout'\"\n")
    rc, out, err = run(capsys, "manifest", "create", "big", "--where", "width >= 576", "--description", "large",
                       "--catalog", c)
    assert rc == 0, err
    assert out.startswith("manifest big@v1: 9 members")
    rc, out, _ = run(capsys, "manifest", "list", "--json", "--catalog", c)
    assert [(m["name"], m["version"], m["num_members"]) for m in json.loads(out)] == [("big", 1, 9), ("images", 1, 12)]
    rc, out, _ = run(capsys, "manifest", "show", "big", "--catalog", c)
    assert "manifest big@v1" in out and "width >= 576" in out and "members     9" in out and VAE_A in out
    rc, out, _ = run(capsys, "manifest", "show", "images@v1", "--json", "--members", "2", "--catalog", c)
    shown = json.loads(out)
    assert shown["num_members"] == 12 and len(shown["members"]) == 2


def test_manifest_create_again_with_the_same_selection_says_the_version_is_unchanged(catalog_copy, capsys):
    """It printed the same line as a creation, "manifest big@v1: 9 members", as if it had made one."""
    c = str(catalog_copy)
    rc, out, _ = run(capsys, "manifest", "create", "big", "--where", "width >= 576", "--catalog", c)
    assert rc == 0 and out.startswith("manifest big@v1: 9 members")
    rc, out, _ = run(capsys, "manifest", "create", "big", "--where", "width >= 576", "--catalog", c)
    assert rc == 0 and out.startswith("manifest big@v1 unchanged: the selection is the one v1 froze, so no new "
                                      "version; 9 members")
    rc, out, _ = run(capsys, "manifest", "create", "big", "--where", "width >= 640", "--catalog", c)
    assert rc == 0 and out.startswith("manifest big@v2: ")


def test_manifest_list_marks_live_manifests(catalog_copy, capsys):
    """A live manifest (every refresh re-freezes it) looked like any frozen one in the list."""
    from catalog import Catalog
    from catalog.source_index import LiveManifest, declare_live_manifest

    c = str(catalog_copy)
    with Catalog.open(catalog_copy) as cat:
        declare_live_manifest(cat, LiveManifest("grown", "modality = 'image'"))
        cat.freeze_manifest("grown", "modality = 'image'")
    listed = json.loads(run(capsys, "manifest", "list", "--json", "--catalog", c)[1])
    assert [(m["name"], m["live"]) for m in listed] == [("grown", True), ("images", False)]
    rc, out, _ = run(capsys, "manifest", "list", "--catalog", c)
    assert rc == 0 and out.splitlines()[0].split()[-1] == "live" and out.splitlines()[2].split()[-1] == "True"


def test_manifest_list_json_nests_the_encoders_as_show_does(catalog_copy, capsys):
    """`manifest list --json` gave encoders as a string of JSON text; `manifest show --json` as an object."""
    c = str(catalog_copy)
    listed = json.loads(run(capsys, "manifest", "list", "--json", "--catalog", c)[1])
    shown = json.loads(run(capsys, "manifest", "show", "images", "--json", "--catalog", c)[1])
    assert listed[0]["encoders"] == shown["encoders"] and isinstance(shown["encoders"], dict)
    assert VAE_A in run(capsys, "manifest", "list", "--max-width", "0", "--catalog", c)[1]  # the table still shows them


def test_manifest_show_counts_in_sql_and_lists_the_first_members(catalog_copy, capsys, monkeypatch):
    """It loaded every member as a Python object to count splits and shards."""
    from catalog import Catalog

    c = str(catalog_copy)
    with Catalog.open(c) as cat:
        cat.register_batches([make_batch(7, n=8)], "run-base")  # its 8th sample is an accepted holdout one
        full = cat.create_manifest("both", "modality = 'image'")
    real = Catalog._read_manifest
    monkeypatch.setattr(Catalog, "_read_manifest", lambda self, con, name, version, first_only=False:
                        real(self, con, name, version, first_only) if first_only else pytest.fail("every member loaded"))
    rc, out, err = run(capsys, "manifest", "show", "both", "--members", "3", "--catalog", c)
    assert rc == 0, err
    splits = {s: sum(x.split == s for x in full.members) for s in ("holdout", "train")}
    assert f"members     {len(full)}  (holdout: {splits['holdout']}, train: {splits['train']})" in out
    assert f"latent: {VAE_A}  ({len(full.shard_uris('latent'))} shards)" in out
    listed = [line.split()[0] for line in out.splitlines()[-4:-1]]
    assert listed == [x.key for x in full.members[:3]]
    rc, out, _ = run(capsys, "manifest", "show", "both", "--json", "--members", "2", "--catalog", c)
    shown = json.loads(out)
    assert shown["members"] == [{"key": x.key, "caption": x.caption, "split": x.split, "meta": x.meta,
                                 "encodings": {k: list(v) for k, v in x.encodings.items()}} for x in full.members[:2]]


def test_manifest_create_mixed_encoders_is_a_one_line_error(catalog_copy, capsys):
    from catalog import Catalog

    Catalog.open(catalog_copy).register_batches([make_batch(4, vae=VAE_B)], "run-base")
    rc, out, err = run(capsys, "manifest", "create", "all", "--where", "true", "--catalog", str(catalog_copy))
    assert rc == 2 and err.count("\n") == 1 and "mix encoders" in err
    rc, out, err = run(capsys, "manifest", "create", "all", "--where", "true", "--encoder", VAE_B, "--catalog",
                       str(catalog_copy))
    assert rc == 0 and "manifest all@v1: 4 members (12 matching samples left out" in out


def test_export_table_view_and_manifest(base_catalog, tmp_path, capsys):
    c = str(base_catalog)
    assert run(capsys, "export", "samples", "--out", str(tmp_path / "s.parquet"), "--catalog", c)[0] == 0
    t = pq.read_table(tmp_path / "s.parquet")
    assert t.num_rows == 18 and "reason" in t.column_names
    assert run(capsys, "export", "filter_drop_rates", "--out", str(tmp_path / "v.parquet"), "--catalog", c)[0] == 0
    assert pq.read_table(tmp_path / "v.parquet").num_rows == 2
    rc, out, _ = run(capsys, "export", "images", "--out", str(tmp_path / "m.parquet"), "--catalog", c)
    assert rc == 0 and out == f"wrote 12 rows to {tmp_path / 'm.parquet'}\n"
    rows = pq.read_table(tmp_path / "m.parquet").to_pylist()
    assert rows[0]["key"] == key(0, 0)
    assert {e["kind"]: e["shard_uri"] for e in rows[0]["encodings"]} == {"latent": "/shards/b0000.tar",
                                                                       "text": "/shards/b0000.tar"}


def test_python_dash_m_entry_points(base_catalog):
    proc = cli("sql", "SELECT count(*) AS n FROM samples", "--json", "--catalog", str(base_catalog))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"n": 18}]
    proc = cli("sql", "SELECT nope", "--catalog", str(base_catalog))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_check_and_tables(base_catalog, capsys):
    rc, out, _ = run(capsys, "check", "--catalog", str(base_catalog))
    assert rc == 0 and "samples_unique" in out
    rc, out, _ = run(capsys, "tables", "--json", "--catalog", str(base_catalog))
    names = {r["table_name"] for r in json.loads(out)}
    assert {"runs", "samples", "verdicts", "shards", "encodings", "manifests", "manifest_members", "checkpoints",
            "metrics", "lineage", "accepted_by_bucket", "filter_drop_rates", "latest_metrics"} <= names


def test_add_arguments_plugs_into_a_parent_parser(base_catalog, capsys):
    """How a top-level `lumina` parser can host the catalog commands without clobbering its own `func`."""
    import argparse

    from catalog.cli import add_arguments
    from catalog.cli import run as run_catalog

    top = argparse.ArgumentParser(prog="lumina")
    sub = top.add_subparsers(dest="command", required=True)
    p = sub.add_parser("catalog")
    add_arguments(p)
    p.set_defaults(func=run_catalog)
    args = top.parse_args(["catalog", "sql", "SELECT 41 + 1 AS x", "--json", "--catalog", str(base_catalog)])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out) == [{"x": 42}]


def test_a_reader_that_stops_early_is_no_error(base_catalog):
    """`lumina catalog sql ... | head -1`: the closed pipe ends the command quietly, exit 0."""
    import subprocess
    import sys
    from pathlib import Path

    lumina = str(Path(sys.executable).parent / "lumina")
    proc = subprocess.Popen([lumina, "catalog", "sql", "SELECT range AS n FROM range(200000)", "--csv", "--catalog", str(base_catalog)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"n\n"
    proc.stdout.close()  # what head does after its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and err == "", err


def test_json_output_is_strict_json_with_null_for_nan_and_infinity(base_catalog, capsys):
    q = "SELECT 'nan'::DOUBLE AS a, 'inf'::DOUBLE AS b, [1.5, 'nan'::DOUBLE] AS c, {'x': '-inf'::DOUBLE} AS d, 2.5 AS e"
    rc, out, _ = run(capsys, "sql", q, "--json", "--catalog", str(base_catalog))
    def refuse(token):
        raise ValueError(token)
    assert rc == 0 and json.loads(out, parse_constant=refuse) == [{"a": None, "b": None, "c": [1.5, None], "d": {"x": None}, "e": 2.5}]


def test_migrate_does_not_create_a_catalog_at_a_mistyped_path(tmp_path, capsys):
    rc, _, err = run(capsys, "migrate", "--catalog", str(tmp_path / "typo.duckdb"))
    assert rc == 2 and "no catalog at" in err and not (tmp_path / "typo.duckdb").exists()


def test_csv_writes_lists_and_structs_as_json(base_catalog, capsys):
    rc, out, _ = run(capsys, "sql", "SELECT [1, 2] AS l, {'k': 'v', 'n': NULL} AS s, NULL AS z", "--csv", "--catalog", str(base_catalog))
    rows = list(csv.reader(io.StringIO(out)))
    assert rc == 0 and rows[1][2] == "" and json.loads(rows[1][0]) == [1, 2] and json.loads(rows[1][1]) == {"k": "v", "n": None}


@pytest.mark.parametrize("argv", [["sql", "CREATE TABLE t (x INTEGER)", "--write"],
                                  ["manifest", "create", "m", "--where", "true"]])
def test_writing_commands_do_not_create_a_catalog_in_a_mistyped_home(tmp_path, capsys, argv):
    """They made a new, empty catalog there and reported success (sql) or "no accepted samples" (manifest)."""
    rc, out, err = run(capsys, *argv, "--home", str(tmp_path / "typo"))
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert f"no catalog at {tmp_path / 'typo' / 'catalog.duckdb'} (" in err
    assert not (tmp_path / "typo").exists()


SLOW = "SELECT count(*) AS n FROM range(1000000) a, range(1000000) b WHERE (a.range * 7 + b.range) % 1000003 = 5"


@pytest.mark.parametrize("query, write", [(SLOW, False), (f"CREATE TABLE slow AS {SLOW}", True)])
def test_ctrl_c_interrupts_a_long_query(catalog_copy, query, write):
    """DuckDB does not look at Python's signals while it runs a query: Ctrl-C did nothing until the
    query ended (minutes for a self-join). Now: exit 130 at once, one line, a write rolled back."""
    import signal
    import subprocess
    import sys
    import time

    from .helpers import REPO, dump, subprocess_env

    before = dump(catalog_copy)
    code = "import sys; from catalog.cli import main; print('ready', flush=True); sys.exit(main(sys.argv[1:]))"
    argv = ["sql", query, "--catalog", str(catalog_copy), *(["--write"] if write else [])]
    proc = subprocess.Popen([sys.executable, "-c", code, *argv], cwd=REPO, env=subprocess_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # a background job ignores it
    try:
        assert proc.stdout.readline() == "ready\n"
        time.sleep(1.0)  # the query is running
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        _, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
        proc.wait()
    assert time.monotonic() - start < 10
    assert proc.returncode == 130 and err == "lumina catalog: interrupted\n", err
    assert dump(catalog_copy) == before  # nothing written, the file is whole


def test_export_of_one_row_says_row(base_catalog, tmp_path, capsys, monkeypatch):
    """"wrote 1 rows" read as a slip: one row is said in the singular."""
    from catalog.db import Catalog

    monkeypatch.setattr(Catalog, "export", lambda self, *a, **k: 1)
    rc, out, _ = run(capsys, "export", "images", "--out", str(tmp_path / "m.parquet"), "--catalog", str(base_catalog))
    assert rc == 0 and out == f"wrote 1 row to {tmp_path / 'm.parquet'}\n"
