"""What a data lead new to the catalog tripped over (session 51 walkthrough on a workspace of all
four modalities):

- `lumina catalog sql "SELECT ...; SELECT ..."` (or a pasted block of the README's examples)
  printed the last query's rows only and said nothing of the others;
- `lumina catalog stats` listed the top 20 drop reasons and said nothing of the others: on that
  workspace (41 reason rows) every video reason was missing from "Drop reasons", unannounced;
- `why FILE` of a video whose two scenes were both accepted ends in one line asking for a key (by
  design, tests/catalog/test_cli.py), while the catalog README said it showed a video's scenes as
  "other samples from this file";
- `why photos/sub/copy.png` said `phash_dedup: near duplicate of e551d0b9...` and nothing of which
  file that sample came from: a second `why` to learn which photo the copy was dropped for;
- `manifest show NAME --members -1` was taken, and printed an empty member table "(0 rows)";
- `export samples --out DIR` (a folder) or `--out FILE/x.parquet` ended in "[Errno 21] Is a
  directory: 'out/.dir.parquet.7607.tmp' -> ..." and "[Errno 17] File exists: 'notdb.duckdb'";
- the README's tables named every column but the count columns of three views (`samples` of
  status_counts and drop_reasons; `shards`, `samples`, `bytes` of storage_by_stage);
- `--timeout nan` waited for ever on a held catalog ("up to nan s"), `--timeout -1` was taken;
- a caption's tab or ESC sequence went raw into the table and `why`: the tab counted one column and
  showed up to eight (the column after it out of line), the ESC recoloured the terminal;
- `--where 'modality = "image"'` ended in 'Referenced column "image" not found', with no word that a
  string takes single quotes;
- `--catalog HOME` (the workspace folder, not its catalog.duckdb) ended in "cannot open catalog
  HOME: IO Error: Could not read from file "HOME": Is a directory";
- `why ckpt-...` (which samples trained this checkpoint?) said only that no sample has that key;
- `manifest create demo-train --where "modality = 'speech' ..."` on a name the image demo froze
  made demo-train@v3 of speech samples, without a word that `--manifest demo-train` now trains on it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from catalog import Catalog
from catalog.cli import main

from .helpers import key, make_batch


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_several_queries_say_that_only_the_last_is_printed(base_catalog, capsys):
    rc, out, err = run(capsys, "sql", "SELECT 1 AS a; -- the next one\nSELECT 2 AS b", "--catalog", str(base_catalog))
    assert rc == 0 and out.splitlines()[0] == "b"
    assert "last statement's result only" in err and "the 1 query before it" in err


def test_one_query_or_a_write_before_a_query_says_nothing(base_catalog, tmp_path, capsys):
    rc, _, err = run(capsys, "sql", "SELECT 2 AS b;", "--catalog", str(base_catalog))
    assert rc == 0 and err == ""
    copy = tmp_path / "c.duckdb"
    shutil.copy(base_catalog, copy)
    rc, out, err = run(capsys, "sql", "CREATE TABLE mine AS SELECT 1 AS a; SELECT * FROM mine", "--write",
                       "--catalog", str(copy))
    assert rc == 0 and err == "" and out.splitlines()[0] == "a"


def test_stats_says_how_many_drop_reasons_it_left_out(base_catalog, tmp_path, capsys):
    path = tmp_path / "c.duckdb"
    shutil.copy(base_catalog, path)
    rc, out, _ = run(capsys, "stats", "--catalog", str(path))
    assert rc == 0 and "more not shown" not in out  # 2 reasons: all shown
    with Catalog.open(path) as cat:
        run_id = cat.start_run("curate", {})
        cat.register_batches([make_batch(9, n=12)], run_id)
        cat.finish_run(run_id)
        cat.sql("UPDATE samples SET status = 'rejected', reason = 'kind_' || key || ': x'")  # 30 reason kinds
    rc, out, _ = run(capsys, "stats", "--catalog", str(path))
    section = out.split("== Drop reasons")[1].split("==")[0]
    assert rc == 0 and "(20 rows)" in section and "(10 more not shown" in section
    assert 'SELECT * FROM drop_reasons ORDER BY modality, samples DESC' in section


def test_the_readme_says_why_of_a_file_with_several_accepted_samples_asks_for_a_key():
    text = " ".join((Path(__file__).parents[2] / "catalog" / "README.md").read_text().split())
    why = text[text.index("`why FILE` tells the story"):text.index("### check")]
    assert "(a video's scenes, another modality's row)" not in why
    assert "several accepted samples (a video's scenes)" in why and "give one's key" in why


def test_why_names_the_file_of_the_sample_its_reason_names(catalog_copy, capsys):
    import json

    kept, copy = key(1, 0), key(2, 3)
    with Catalog.open(catalog_copy) as cat:
        cat.sql("UPDATE samples SET reason = ? WHERE key = ?",
                [f"phash_dedup: near duplicate of {kept} (Hamming distance 3)", copy])
    rc, out, _ = run(capsys, "why", copy, "--catalog", str(catalog_copy))
    assert rc == 0 and out.splitlines()[1] == f"  reason names {kept}  [image]  accepted: /raw/1/0.png"
    rc, out, _ = run(capsys, "why", copy, "--json", "--catalog", str(catalog_copy))
    assert json.loads(out)["reason_samples"] == [{"key": kept, "modality": "image", "status": "accepted",
                                                  "source_uri": "/raw/1/0.png"}]
    rc, out, _ = run(capsys, "why", kept, "--catalog", str(catalog_copy))  # accepted: no reason, no line
    assert rc == 0 and "reason names" not in out


def test_manifest_show_refuses_a_negative_member_count(base_catalog, capsys):
    rc, out, err = run(capsys, "manifest", "show", "images", "--members", "-1", "--catalog", str(base_catalog))
    assert rc == 2 and out == "" and "--members: must be 0 (none listed) or more, not -1" in err
    rc, out, _ = run(capsys, "manifest", "show", "images", "--members", "0", "--catalog", str(base_catalog))
    assert rc == 0 and "key" not in out.split()


def test_export_to_a_folder_or_under_a_file_says_so(base_catalog, tmp_path, capsys):
    folder = tmp_path / "dir.parquet"
    folder.mkdir()
    rc, _, err = run(capsys, "export", "samples", "--out", str(folder), "--catalog", str(base_catalog))
    assert rc == 2 and f"--out {folder} is a folder: give a file in it" in err
    (tmp_path / "a_file").write_text("x")
    out = tmp_path / "a_file" / "sub" / "x.parquet"
    rc, _, err = run(capsys, "export", "samples", "--out", str(out), "--catalog", str(base_catalog))
    assert rc == 2 and f"{tmp_path / 'a_file'} is a file, not a folder" in err
    out = tmp_path / "new" / "x.parquet"
    rc, _, _ = run(capsys, "export", "samples", "--out", str(out), "--catalog", str(base_catalog))
    assert rc == 0 and out.is_file()


def test_the_readme_names_every_column_of_every_table_and_view(tmp_path):
    import re

    readme = (Path(__file__).parents[2] / "catalog" / "README.md").read_text()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)` \|.*$", readme, re.M)}
    with Catalog.open(tmp_path / "c.duckdb") as cat:
        _, columns = cat.sql("SELECT table_name, column_name FROM information_schema.columns")
    unnamed = set()
    for table, column in columns:
        row = rows[table] + (rows["latest_metrics"] if table == "evaluation_metrics" else "")  # "with latest_metrics' columns"
        if f"`{column}`" not in row:
            unnamed.add(f"{table}.{column}")
    assert not unnamed


def test_timeout_must_be_a_finite_number_of_seconds(base_catalog, capsys):
    for value in ("nan", "-1", "inf"):
        for argv in (["--timeout", value, "stats"], ["stats", "--timeout", value]):  # before or after the command
            rc, out, err = run(capsys, *argv, "--catalog", str(base_catalog))
            assert rc == 2 and out == "" and "--timeout: must be a finite number of seconds, 0 or more" in err, argv
    rc, _, _ = run(capsys, "stats", "--timeout", "0.5", "--catalog", str(base_catalog))
    assert rc == 0


def test_tables_and_why_show_control_characters_as_escapes(catalog_copy, capsys):
    q = "SELECT * FROM (VALUES ('a' || chr(9) || 'b', 1), ('red' || chr(27) || '[31m', 22)) t(caption, n)"
    rc, out, _ = run(capsys, "sql", q, "--catalog", str(catalog_copy))
    rows = out.splitlines()[2:4]
    assert rc == 0 and rows[0].startswith("a\\tb ") and rows[1].startswith("red\\x1b[31m ")
    assert len(rows[0]) == len(rows[1]) and "\t" not in out and "\x1b" not in out  # aligned: the numbers end together
    rc, out, _ = run(capsys, "sql", q, "--csv", "--catalog", str(catalog_copy))
    assert out.splitlines()[1] == "a\tb,1"  # CSV and JSON keep the text as it is
    with Catalog.open(catalog_copy) as cat:
        cat.sql("UPDATE samples SET caption = 'x' || chr(27) || '[2J' WHERE key = ?", [key(1, 0)])
    rc, out, _ = run(capsys, "why", key(1, 0), "--catalog", str(catalog_copy))
    assert "  caption      x\\x1b[2J\n" in out and "\x1b" not in out


def test_a_string_in_double_quotes_is_told_to_take_single_quotes(base_catalog, capsys):
    hint = "(in SQL a string takes single quotes: 'image'; double quotes name a column)"
    rc, _, err = run(capsys, "manifest", "create", "x", "--where", 'modality = "image"', "--catalog", str(base_catalog))
    assert rc == 2 and 'Referenced column "image" not found' in err and hint in err
    rc, _, err = run(capsys, "sql", 'SELECT count(*) FROM samples WHERE modality = "image"', "--catalog", str(base_catalog))
    assert rc == 2 and hint in err
    rc, _, err = run(capsys, "sql", "SELECT staus FROM samples", "--catalog", str(base_catalog))  # a typo: no hint
    assert rc == 2 and 'column "staus" not found' in err and "single quotes" not in err


def test_a_workspace_folder_given_as_catalog_points_to_home(base_catalog, tmp_path, capsys):
    home = base_catalog.parent  # holds catalog.duckdb
    for argv in (["stats"], ["sql", "SELECT 1", "--write"], ["manifest", "list"]):
        rc, out, err = run(capsys, *argv, "--catalog", str(home))
        assert rc == 2 and out == "" and f"{home} is a folder, not a catalog file: give --home {home}" in err, argv
    rc, _, err = run(capsys, "stats", "--catalog", str(tmp_path))
    assert rc == 2 and f"{tmp_path} is a folder, not a catalog file: give the catalog file" in err


def test_why_of_a_checkpoint_names_the_manifest_it_trained_on(base_catalog, capsys):
    with Catalog.open(base_catalog, read_only=True) as cat:
        ckpt = cat.sql("SELECT checkpoint_id FROM checkpoints")[1][0][0]
    for given in (ckpt, "/ckpt/step10.safetensors"):
        rc, out, err = run(capsys, "why", given, "--catalog", str(base_catalog))
        assert rc == 2 and out == "" and len(err.splitlines()) == 1
        assert (f"{ckpt} is a checkpoint: it trained on manifest images@v1 (" in err
                and "lumina catalog manifest show images@v1" in err), given
    rc, _, err = run(capsys, "why", "ckpt-0000", "--catalog", str(base_catalog))
    assert rc == 2 and "is a checkpoint" not in err


def test_a_name_reused_for_another_selection_says_what_the_name_now_means(catalog_copy, capsys):
    where = "modality = 'image' AND split = 'train'"  # what the base catalog froze as images@v1
    rc, out, err = run(capsys, "manifest", "create", "images", "--where", where.lower().replace("and", "AND"),
                       "--catalog", str(catalog_copy))
    assert rc == 0 and "unchanged" in out and err == ""
    rc, out, err = run(capsys, "manifest", "create", "images", "--where", "width >= 576", "--catalog", str(catalog_copy))
    assert rc == 0 and out.startswith("manifest images@v2:"), err
    assert (f"note: images@v1 was frozen with another --where ({where}); --manifest images now means v2: "
            "give images@v1 for that one" in err)
