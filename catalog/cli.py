"""`lumina catalog ...`: SQL, stats, the story of a sample, manifests and Parquet export.

    python -m catalog.cli sql "SELECT * FROM accepted_by_bucket"          # read-only
    python -m catalog.cli sql "SELECT ..." --csv > out.csv
    python -m catalog.cli stats
    python -m catalog.cli why 3fa9c2
    python -m catalog.cli manifest create images-train --where "modality = 'image' AND split = 'train'"
    python -m catalog.cli manifest list
    python -m catalog.cli manifest show images-train
    python -m catalog.cli export samples --out samples.parquet

The lead's `lumina` CLI delegates with ``catalog.cli.main(sys.argv[2:])``, or builds the parser
itself with ``add_arguments(parser)`` and calls ``run(args)``. Errors print one line and exit 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import shlex
import signal
import sys
import traceback
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TextIO

import duckdb

from contracts.config import ArgumentParser
from contracts.env import TRACEBACK_ENV
from contracts.layout import Workspace

from .db import Catalog, SampleNotFoundError, one_line
from .errors import CatalogError, CatalogNotFoundError
from .paths import default_catalog_path, default_home
from .records import MODALITIES
from .sandbox import canonical_predicate, unshown_results

PROG = "lumina catalog"

# The README's example queries; the benchmark times each of them.
EXAMPLE_QUERIES: list[tuple[str, str]] = [
    ("accepted samples per modality and resolution bucket",
     "SELECT * FROM accepted_by_bucket ORDER BY modality, bucket"),
    ("filter drop rates",
     "SELECT * FROM filter_drop_rates ORDER BY drop_rate DESC"),
    ("filter drop rates per modality",
     "SELECT * FROM filter_drop_rates_by_modality ORDER BY modality, drop_rate DESC"),
    ("samples per modality and status",
     "SELECT modality, status, count(*) AS n FROM samples GROUP BY ALL ORDER BY modality, status"),
    # Grouped by the reason's kind: the whole text holds a sample's score or the key it duplicates,
    # so grouping by it gave every sample a row of its own (n = 1 each).
    ("top rejection reasons",
     "SELECT status, split_part(reason, ':', 1) AS reason_kind, count(*) AS n, min(reason) AS example "
     "FROM samples WHERE status <> 'accepted' GROUP BY ALL ORDER BY n DESC, reason_kind LIMIT 10"),
    ("near-misses: rejected by exactly one filter, and which",
     "SELECT filter, count(*) AS n FROM (SELECT key, any_value(filter) AS filter, count(*) AS failed "
     "FROM verdicts WHERE NOT passed GROUP BY key) WHERE failed = 1 GROUP BY filter ORDER BY n DESC"),
    ("accepted training images >= 512 px with a latent, per encoder",
     "SELECT e.encoder_fingerprint, count(*) AS n FROM samples s JOIN encodings e USING (key) "
     "WHERE s.status = 'accepted' AND s.modality = 'image' AND s.split = 'train' "
     "AND least(s.width, s.height) >= 512 AND e.kind = 'latent' GROUP BY ALL"),
    ("caption search",
     "SELECT key, caption, width, height FROM samples WHERE status = 'accepted' AND caption ILIKE '%ocean%' LIMIT 20"),
    ("histogram over a meta field (the folder a sample came from)",
     "SELECT meta->>'source_dir' AS folder, count(*) AS n FROM samples WHERE status = 'accepted' "
     "GROUP BY folder ORDER BY n DESC LIMIT 10"),
    ("storage per shard stage",
     "SELECT * FROM storage_by_stage"),
    ("latest metrics per checkpoint",
     "SELECT checkpoint_id, checkpoint_step, name, split, value, step FROM latest_metrics ORDER BY checkpoint_id, name"),
    ("what the last refresh changed: the samples it added and those whose status it changed",
     "WITH last AS (SELECT run_id FROM runs WHERE flow_name = 'refresh' ORDER BY started_at DESC LIMIT 1) "
     "SELECT 'added' AS change, key, source_uri, NULL AS was, status, reason FROM samples "
     "WHERE first_run = (SELECT run_id FROM last) "
     "UNION ALL SELECT 'changed', c.key, s.source_uri, c.old_status, c.new_status, c.reason "
     "FROM sample_status_changes c JOIN samples s USING (key) WHERE c.run_id = (SELECT run_id FROM last) "
     "ORDER BY source_uri, change"),
    ("loss curve of the run that wrote the newest checkpoint",
     "SELECT step, value AS train_fm_loss FROM metrics WHERE name = 'train_fm_loss' AND split = 'train' "
     "AND run_id = (SELECT run_id FROM checkpoints ORDER BY created_at DESC LIMIT 1) ORDER BY step"),
]


# ---------------------------------------------------------------- formatting

MAX_WIDTH = 60  # default --max-width: characters per table cell
STATS_DROP_REASONS = 20  # drop reasons `stats` shows in its table (--json: all)
TABLE_MAX_ROWS = 200  # default `sql --max-rows` of a table (--json and --csv: every row unless told)


# Control characters a table or `why` shows as escapes (line breaks stay: a cell of several lines):
# a caption's tab took one column in the widths and up to eight on screen, and an ESC sequence in
# one (scraped text, a file name) recoloured or cleared the reader's terminal.
_CONTROL_ESCAPES = {c: ("\\t" if c == 9 else f"\\x{c:02x}")
                    for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if chr(c) not in "\n\r"}


def _visible(text: str) -> str:
    return text if text.isprintable() else text.translate(_CONTROL_ESCAPES)


def _cell(v: Any) -> str:
    if v is None:
        return "NULL"  # as DuckDB's CLI prints it: '' stays blank
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, default=str)
    return _visible(str(v))


def _jsonable(v: Any) -> Any:
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, bytes):
        return v.hex()
    return v


def _json_decoder(t: duckdb.DuckDBPyType) -> Callable[[Any], Any] | None:
    """For a column of DuckDB type ``t``: a function that parses its JSON values (JSON columns, and
    JSON inside LIST, ARRAY, STRUCT and MAP values) into Python objects; None if it holds no JSON.
    The type says what is JSON, never the text: a VARCHAR that looks like JSON stays a string."""
    name = str(t)
    if "JSON" not in name:
        return None
    if name == "JSON":
        return lambda v: v if v is None else json.loads(v)
    if t.id in ("list", "array"):
        child = _json_decoder(dict(t.children)["child"])
        return child and (lambda v: v if v is None else [child(x) for x in v])
    if t.id == "struct":
        fields = {k: _json_decoder(ft) for k, ft in t.children}
        return lambda v: v if v is None else {k: fields[k](x) if fields.get(k) else x for k, x in v.items()}
    if t.id == "map":
        value = _json_decoder(dict(t.children)["value"])
        return value and (lambda v: v if v is None else {k: value(x) for k, x in v.items()})
    return None  # a UNION's value does not say which member it is: left as DuckDB gives it


def _char_width(ch: str) -> int:
    """Terminal columns of one character: 2 for East Asian wide and full-width ones, 0 for combining marks."""
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes (len() counts 日本 as 2 where a terminal shows 4)."""
    return sum(_char_width(ch) for ch in text) if not text.isascii() else len(text)


def _cut(text: str, width: int) -> str:
    """``text`` at most ``width`` terminal columns (0: any): a long one keeps its head and its tail,
    joined by '…', since paths and URIs differ at the end (checkpoint-0000400/model.safetensors)."""
    if width <= 0 or display_width(text) <= width:
        return text
    head_budget = (width - 1) // 2
    tail_budget = width - 1 - head_budget
    head, used = 0, 0
    while head < len(text) and used + _char_width(text[head]) <= head_budget:
        used += _char_width(text[head])
        head += 1
    tail_budget += head_budget - used  # a wide character that did not fit leaves its column to the tail
    tail, used = len(text), 0
    while tail > head and used + _char_width(text[tail - 1]) <= tail_budget:
        used += _char_width(text[tail - 1])
        tail -= 1
    return text[:head] + "…" + text[tail:]


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def _csv_cell(v: Any) -> Any:
    """NULL as an empty cell; LIST, STRUCT and MAP values as JSON, not Python's repr."""
    if v is None:
        return ""
    v = _jsonable(v)
    return json.dumps(_finite(v), default=str) if isinstance(v, (dict, list, tuple)) else v


def _finite(v: Any) -> Any:
    """NaN and infinities as null: JSON has no such numbers (Python would write NaN, which strict
    parsers refuse)."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def print_table(cols: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO | None = None,
                max_rows: int | None = None, max_width: int = MAX_WIDTH, total: int | None = None) -> None:
    """A plain aligned text table; numbers right-aligned, NULL as NULL, cells longer than
    ``max_width`` (0: no limit) cut in the middle with '…'. Widths are terminal columns (CJK
    characters take two); a cell of several lines takes several lines, each cut on its own.
    ``total``: how many rows the result had, where ``rows`` holds only the first of them.

    EXPLAIN's result (explain_key, explain_value), and any one-row one-column result of several
    lines, is printed as it is: a query plan drawn in boxes, which cutting or aligning would break."""
    out = out or sys.stdout
    shown = rows if max_rows is None else rows[:max_rows]
    total = len(rows) if total is None else total
    if shown and (list(cols) == ["explain_key", "explain_value"]
                  or (len(cols) == 1 and total == 1 and "\n" in _cell(shown[0][0]))):
        for r in shown:
            out.write(_cell(r[-1]).rstrip("\n") + "\n")
        return
    cells = [[[_cut(ln, max_width) for ln in (_cell(v).splitlines() or [""])] for v in r] for r in shown]
    widths = [max([display_width(c)] + [display_width(ln) for r in cells for ln in r[i]]) for i, c in enumerate(cols)]
    numeric = [bool(shown) and all(isinstance(r[i], (int, float, Decimal)) and not isinstance(r[i], bool)
                                   for r in shown if r[i] is not None) for i in range(len(cols))]

    def line(vals: Sequence[str]) -> str:
        return "  ".join(_pad(v, w, num) for v, w, num in zip(vals, widths, numeric)).rstrip()

    out.write(line(list(cols)) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for r in cells:
        for k in range(max(len(c) for c in r) if r else 1):
            out.write(line([c[k] if k < len(c) else "" for c in r]) + "\n")
    more = total - len(shown)
    out.write(f"({total} row{'s' if total != 1 else ''}{f', {more} not shown (--max-rows)' if more else ''})\n")


def print_result(cols: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, out: TextIO | None = None,
                 max_rows: int | None = None, max_width: int = MAX_WIDTH,
                 types: Sequence[duckdb.DuckDBPyType] | None = None) -> None:
    """``rows`` as a table, JSON or CSV. ``types`` (the columns' DuckDB types): JSON columns become
    nested JSON in the JSON output, not strings."""
    print_chunks(cols, [rows], fmt, out, max_rows=max_rows, max_width=max_width, types=types)


def unique_names(cols: Sequence[str]) -> list[str]:
    """Column names with repeats suffixed as DuckDB names them in a subquery or CREATE TABLE AS
    (a, a_1, a_2; a_1 taken: a_1_1): JSON keys must differ, and CSV's header says the same."""
    seen: set[str] = set()
    counts: dict[str, int] = {}
    out = []
    for c in cols:
        name = c
        while name in seen:
            counts[c] = counts.get(c, 0) + 1
            name = f"{c}_{counts[c]}"
        seen.add(name)
        out.append(name)
    return out


class FirstRows:
    """The chunks of a streamed result cut to its first ``max_rows`` rows (None: all), counting
    every row it had (``total``) while the rest goes by unkept."""

    def __init__(self, chunks: Iterable[Sequence[Sequence[Any]]], max_rows: int | None) -> None:
        self.chunks, self.max_rows = chunks, max_rows
        self.shown = self.total = 0

    def __iter__(self):
        for chunk in self.chunks:
            self.total += len(chunk)
            room = len(chunk) if self.max_rows is None else self.max_rows - self.shown
            if room > 0:
                self.shown += min(room, len(chunk))
                yield chunk[:room]


def print_chunks(cols: Sequence[str], chunks: Iterable[Sequence[Sequence[Any]]], fmt: str, out: TextIO | None = None,
                 max_rows: int | None = None, max_width: int = MAX_WIDTH,
                 types: Sequence[duckdb.DuckDBPyType] | None = None) -> FirstRows:
    """`print_result` of rows that come in chunks (a streamed result): JSON and CSV are written chunk
    by chunk; every format writes the first ``max_rows`` rows (None: all) and counts the others,
    which the table says and the returned FirstRows (``shown``, ``total``) tells the caller."""
    out = out or sys.stdout
    chunks = FirstRows(chunks, max_rows)
    if fmt in ("json", "csv"):
        cols = unique_names(cols)  # a JSON object keeps one value per key: `SELECT a.x, b.x` lost a column
    if fmt == "json":
        decoders = [_json_decoder(t) for t in types] if types else [None] * len(cols)
        decode = any(decoders)
        opened = False
        for chunk in chunks:
            if decode:
                chunk = [tuple(d(v) if d else v for d, v in zip(decoders, r)) for r in chunk]
            for r in chunk:
                text = json.dumps({c: _finite(_jsonable(v)) for c, v in zip(cols, r)}, default=str, indent=1,
                                  allow_nan=False)
                out.write(("[\n " if not opened else ",\n ") + text.replace("\n", "\n "))  # as json.dump(rows, indent=1)
                opened = True
        out.write("\n]\n" if opened else "[]\n")
    elif fmt == "csv":
        w = csv.writer(out, lineterminator="\n")  # not RFC 4180's CRLF: shell pipes and $(...) expect \n
        w.writerow(cols)
        for chunk in chunks:
            w.writerows([_csv_cell(v) for v in r] for r in chunk)
    else:
        shown = [r for chunk in chunks for r in chunk]  # past the shown rows, only counted
        print_table(cols, shown, out, max_width=max_width, total=chunks.total)
    return chunks


# ---------------------------------------------------------------- commands

def _catalog_path(args: argparse.Namespace) -> Path:
    """--catalog, else --home's catalog.duckdb, else $LUMINA_CATALOG or $LUMINA_HOME's."""
    if args.catalog:
        return Path(args.catalog).expanduser()
    if getattr(args, "home", None):  # chosen here: not Workspace.catalog, whose LUMINA_CATALOG warning is the stage commands'
        return Workspace.at(args.home).home / "catalog.duckdb"
    path = default_catalog_path()
    home_catalog = default_home() / "catalog.duckdb"
    if os.environ.get("LUMINA_CATALOG") and path != home_catalog and not getattr(args, "_noted_env", False):
        args._noted_env = True  # once per command (manifest create opens twice)
        print(f"{PROG}: note: reading LUMINA_CATALOG={path}, not the workspace's catalog {home_catalog} that the "
              f"stage commands (curate, encode, refresh, train, evaluate, demo) write; give --home DIR to read a "
              f"workspace's", file=sys.stderr)
    return path


def missing_catalog_message(args: argparse.Namespace, path: Path) -> str:
    """``no catalog at PATH (...)``, saying where PATH came from and what to give instead: it said
    "set --catalog or LUMINA_CATALOG" also to a --home or --catalog that was given, and never named
    --home, the way the README and the other commands choose a workspace."""
    where = path.expanduser().resolve()
    if args.catalog:
        hint = "check --catalog FILE, or give --home DIR"
    elif getattr(args, "home", None):
        hint = f"--home {args.home} holds no catalog: check the folder, or run a stage (lumina curate, lumina demo) into it first"
    elif os.environ.get("LUMINA_CATALOG"):
        hint = "the file LUMINA_CATALOG names: check it, or give --home DIR or --catalog FILE"
    elif os.environ.get("LUMINA_HOME"):
        hint = f"the workspace LUMINA_HOME={os.environ['LUMINA_HOME']} names: give --home DIR or --catalog FILE, or run a stage there first"
    else:
        hint = ("./lumina_home in the current folder, the workspace without --home or LUMINA_HOME: give --home DIR, "
                "or run lumina demo here first")
    return f"no catalog at {where} ({hint})"


def _open(args: argparse.Namespace, write: bool = False) -> Catalog:
    path = _catalog_path(args)
    if not path.exists():  # a mistyped --home or --catalog must not become a new, empty catalog
        raise CatalogNotFoundError(missing_catalog_message(args, path))
    if path.is_dir():  # a workspace given as --catalog: DuckDB said 'IO Error: Could not read from file ...: Is a directory'
        inside = path / "catalog.duckdb"
        hint = f"give --home {path} for the catalog in it" if inside.is_file() else "give the catalog file"
        raise CatalogError(f"{path} is a folder, not a catalog file: {hint}")
    return Catalog.open(path, read_only=not write, busy_timeout_s=args.timeout, busy_setting="--timeout S")


def _fmt(args: argparse.Namespace) -> str:
    return "json" if getattr(args, "json", False) else "csv" if getattr(args, "csv", False) else "table"


def _max_rows(args: argparse.Namespace) -> int | None:
    """--max-rows of `sql`, None for all: a table shows 200 unless told, --json and --csv write every row
    unless told (they are read by programs; `--max-rows 5 --csv` gave all rows)."""
    if args.max_rows is None:
        return None if _fmt(args) in ("json", "csv") else TABLE_MAX_ROWS
    return args.max_rows or None


def _say_rows_left_out(args: argparse.Namespace, written: FirstRows) -> None:
    """The table says how many rows it did not show; a cut JSON or CSV output says it on stderr, not in the data."""
    if _fmt(args) != "table" and written.total > written.shown:
        print(f"{PROG}: note: wrote the first {written.shown} of {written.total} rows (--max-rows {args.max_rows})",
              file=sys.stderr)


def cmd_sql(args: argparse.Namespace) -> int:
    with _open(args, write=args.write) as cat:
        try:
            with cat.user_sql_chunks(args.query) as (cols, types, chunks):
                if cols:  # streamed: a table fetches the rows it shows and counts the rest, JSON and CSV go out as they come
                    written = print_chunks(cols, chunks, _fmt(args), max_rows=_max_rows(args), max_width=args.max_width,
                                           types=types)
                    _say_rows_left_out(args, written)
        except duckdb.Error as e:
            msg = one_line(e)
            if "read-only" in msg and not args.write:
                msg += " (the sql command is read-only; pass --write to change the catalog)"
            raise CatalogError(msg) from None
    if unshown := unshown_results(args.query):
        print(f"{PROG}: note: printed the last statement's result only; the {unshown} quer"
              f"{'y' if unshown == 1 else 'ies'} before it ran unseen: give each its own lumina catalog sql",
              file=sys.stderr)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    with _open(args) as cat:
        stats = cat.stats()
    if args.json:  # every drop reason: a program reading it wants them all
        json.dump({k: [{c: _jsonable(v) for c, v in zip(cols, r)} for r in rows] for k, (cols, rows) in stats.items()},
                  sys.stdout, indent=1, default=str)
        print()
        return 0
    titles = {"totals": "Totals", "status": "Samples per modality and status",
              "drop_reasons": f"Drop reasons (top {STATS_DROP_REASONS})",
              "filters": "Filter drop rates (failed verdicts: a sample that fails several filters counts under each; Drop reasons gives the one that rejected it)", "storage": "Storage (shards)", "file": "Catalog file"}
    for key, title in titles.items():
        cols, rows = stats[key]
        reason_rows = len(rows)
        if key == "drop_reasons":
            rows = rows[:STATS_DROP_REASONS]
        print(f"== {title}")
        print_table(cols, rows, max_width=args.max_width)
        if key == "drop_reasons" and reason_rows > len(rows):  # said nothing of them: a modality's reasons could be missing
            print(f"({reason_rows - len(rows)} more not shown, no larger; all of them: lumina catalog sql "
                  f"\"SELECT * FROM drop_reasons ORDER BY modality, samples DESC\")")
        print()
    return 0


def _status_line(status: str, reason: str | None) -> str:
    """`REJECTED: min_size: score 12 vs threshold 24`; a reason whose kind is the status itself (a
    refresh's `removed: ...`, `superseded: ...`) is not said twice ("REMOVED: removed: no longer in the source")."""
    if not reason:
        return status.upper()
    kind, sep, rest = reason.partition(":")
    return f"{status.upper()}: {_visible(rest.strip() if sep and kind == status else reason)}"


def cmd_why(args: argparse.Namespace) -> int:
    from .sqlfiles import q

    with _open(args) as cat:
        try:
            story = _why_or_member(cat, args.key, args.modality)
        except SampleNotFoundError as e:
            hint = _checkpoint_hint(cat, args.key) or _source_row_hint(cat, args.key) or _nearby_files_hint(cat, args.key)
            raise SampleNotFoundError(f"{one_line(e)}{hint}") from None
        s = story["sample"]
        named = cat.sql(q("why_reason_samples"), [_keys_in(s["reason"], s["key"])])[1] if s["reason"] else []
    copy = _quarantined_copy(args, s["key"]) if s["status"] == "quarantined" else None
    fix = _quarantine_fix(args, cat, s) if copy is not None else None
    if args.json:
        out = {"sample": {k: _jsonable(v) for k, v in s.items()}}
        if isinstance(out["sample"].get("meta"), str):  # samples.meta is a JSON column: an object, not its text
            out["sample"]["meta"] = json.loads(out["sample"]["meta"])
        out["other_samples_total"] = story["other_samples_total"]
        out["quarantined_copy"] = copy
        out["quarantined_fix"] = fix
        out["reason_samples"] = [dict(zip(("key", "modality", "status", "source_uri"), r)) for r in named]
        for k, v in story.items():
            if k not in out:
                cols, rows = v
                out[k] = [{c: _jsonable(x) for c, x in zip(cols, r)} for r in rows]
        json.dump(out, sys.stdout, indent=1, default=str)
        print()
        return 0
    print(f"sample {s['key']}  [{s['modality']}]  {_status_line(s['status'], s['reason'])}")
    _print_other_samples_note(story)
    for key, modality, status, uri in named:  # the file a duplicate was dropped for, without a second `why`
        print(f"  {'reason names':12s} {key}  [{modality}]  {status}: {_visible(str(uri))}")
    if copy is not None:
        files = ", ".join(copy["files"])
        print(f"  {'quarantined':12s} {copy['path']}/ " + (f"({files})" if copy["exists"] else
              "(not there: emptied, or the catalog is not in its workspace; give --home DIR)"))
        print(f"  {'do':12s} {_visible(fix)}")
    for k in ("source_uri", "caption", "width", "height", "frames", "duration", "sample_rate", "split", "meta",
              "first_run", "last_run"):
        if s[k] is not None:
            print(f"  {k:12s} {_visible(str(s[k]))}")
    cols, rows = story["other_samples"]
    if rows:
        print(f"\n== Other samples from this file ({story['other_samples_total']})")
        print_table(cols, rows, max_width=args.max_width)
    sections = [("verdicts", "Filter verdicts"), ("status_changes", "Status changes of this sample by refreshes"),
                ("shards", "Shards holding it"), ("encodings", "Encodings"),
                ("manifests", "Manifests containing it"), ("checkpoints", "Checkpoints trained on a manifest holding it"),
                ("runs", "Runs that registered it or changed its status")]
    for key, title in sections:
        cols, rows = story[key]
        print(f"\n== {title}")
        if rows:
            print_table(cols, rows, max_width=args.max_width)
        else:
            print(f"(none{_replaced_note(story, s['key']) if key == 'status_changes' else ''})")
    return 0


def _why_or_member(cat: Catalog, given: str, modality: str | None) -> dict[str, Any]:
    """``cat.why``; for a path inside a file (`/data/shards/000000.tar/000008.png`, the path a shell
    completes up to the archive), the sample of that member (source_uri `<file>#<member>`): only the
    member's name relative to the source and its uri were found, the full path said "no sample"."""
    try:
        return cat.why(given, modality=modality)
    except SampleNotFoundError:
        member = _member_uri(given)
        if member is None:
            raise
        try:
            return cat.why(member, modality=modality)
        except SampleNotFoundError:
            pass
        raise


def _member_uri(given: str) -> str | None:
    """``<file>#<path inside it>`` for a path whose nearest existing ancestor is a regular file."""
    path = Path(os.path.abspath(given))
    for parent in path.parents:
        if parent.is_file():
            return f"{parent}#{path.relative_to(parent).as_posix()}"
        if parent.exists():
            return None
    return None


def _replaced_note(story: dict[str, Any], key: str) -> str:
    """Beside an empty status-change section, the samples of the same file a refresh superseded by
    this one: `why FILE` picks the current sample, whose '(none)' read as if no refresh had touched
    the file."""
    cols, rows = story["other_samples"]
    replaced = [r[cols.index("key")] for r in rows
                if r[cols.index("status")] == "superseded" and r[cols.index("reason")] == f"superseded: by {key}"]
    if not replaced:
        return ""
    earlier = "earlier sample" if len(replaced) == 1 else f"{len(replaced)} earlier samples"
    return (f": no refresh changed this sample's status; a refresh superseded this file's {earlier} with it: "
            f"lumina catalog why {replaced[0]}")


def _checkpoint_hint(cat: Catalog, given: str) -> str:
    """`why ckpt-...` (which samples trained it?) said only that no sample has that key."""
    from .sqlfiles import q

    rows = cat.sql(q("why_checkpoint_named"), [given.rstrip("/"), _checkpoint_paths(given)])[1]
    if not rows:
        return ""
    ckpt, manifest, version, members = rows[0]
    return (f"; {ckpt} is a checkpoint: it trained on manifest {manifest}@v{version} ({members} members): "
            f"lumina catalog manifest show {manifest}@v{version} (or export it) lists them")


def _nearby_files_hint(cat: Catalog, given: str) -> str:
    """`why FOLDER` (what became of my folder?) and `why` of a file beside a sample's, of the same name
    (its caption file) said only that no sample came from a file of that name."""
    path = os.path.abspath(given)
    if os.path.isdir(path):
        prefix = os.path.join(path, "")
        n = cat.sql("SELECT count(*) FROM samples WHERE starts_with(source_uri, ?)", [prefix])[1][0][0]
        if n:
            quoted = prefix.replace("'", "''")
            query = (f"SELECT status, split_part(reason, ':', 1) AS reason_kind, count(*) AS n FROM samples WHERE "
                     f"starts_with(source_uri, '{quoted}') GROUP BY ALL ORDER BY n DESC")
            return (f"; it is a folder, and {n} sample{'s' if n != 1 else ''} came from files in it: lumina catalog sql "
                    f"{_shell_arg(query)} (or why FILE for one)")
        return ""
    stem = os.path.splitext(path)[0]
    # a source's own rows (`list.csv#row=2` under `list.csv`, or beside `list.csv#row=9`) are no files beside it
    source = path.split("#", 1)[0]
    rows = cat.sql("SELECT DISTINCT source_uri FROM samples WHERE starts_with(source_uri, ?) AND source_uri <> ? "
                   "AND NOT starts_with(source_uri, ?) ORDER BY source_uri LIMIT 3", [stem + ".", path, source + "#"])[1]
    if not rows:
        return ""
    return "; a sample came from the file beside it of the same name: " + ", ".join(
        f"lumina catalog why {shlex.quote(_visible(uri))}" for (uri,) in rows)


def _source_row_hint(cat: Catalog, given: str) -> str:
    """`why list.csv#row=4` of a row that gave a sample: the sample is named by the row's media file,
    not the row (only rejected rows are), and the hint listed the listing's rejected rows as "the file
    beside it of the same name". A refresh's index knows which input a row belongs to; without one
    (a source only curated so far) the hint says how such a row is named."""
    source, sep, row = os.path.abspath(given).partition("#")
    if not sep:
        return ""
    inputs = cat.sql("SELECT DISTINCT i.uri FROM source_index r JOIN source_index i ON i.source = r.source "
                     "AND i.modality = r.modality AND i.name = r.input_name AND i.status = 'present' "
                     "WHERE r.uri = ? AND r.status = 'present' ORDER BY i.uri LIMIT 3", [source + sep + row])[1]
    if inputs:
        return f"; {row} of {source} belongs to an input whose sample is named by its file: " + ", ".join(
            f"lumina catalog why {shlex.quote(_visible(uri))}" for (uri,) in inputs)
    if not os.path.isfile(source):  # a dataset folder's rows are all named by row; so is what is not a listing
        return ""
    return (f"; a row of {source} that names a media file is the sample of that file: lumina catalog why "
            f"FILE (the path in the row, relative to {os.path.dirname(source)}); rows are named {source}{sep}row=N "
            f"only when rejected for the row itself (a missing file, a row shadowed by a later one)")


def _shell_arg(text: str) -> str:
    """``text`` as one word of a command to paste: in double quotes, or where the shell would read a
    character inside them (a folder named with a double quote or a $), quoted whole. In double quotes
    alone, why of a folder named it's "q" $HOME gave a query that listed 0 rows of its 2 samples."""
    return f'"{text}"' if not re.search(r'["$`\\!]', text) else shlex.quote(text)


def _checkpoint_paths(given: str) -> list[str]:
    """The paths ``given`` may name a checkpoint by: as written and made absolute (the catalog records
    absolute uris; `why runs/RUN/checkpoint-0000020` from the workspace is the same folder), and the
    folder of each (a file in the checkpoint, `.../checkpoint-0000020/model.safetensors`)."""
    paths = [Path(given.rstrip("/") or given)]
    paths.append(Path(os.path.abspath(paths[0])))
    return list(dict.fromkeys(str(p) for path in paths for p in (path, path.parent)))


def _keys_in(reason: str, own: str) -> list[str]:
    """The sample keys (32 hex digits, contracts/keys.py) a reason names, other than the sample's own."""
    return [k for k in dict.fromkeys(re.findall(r"\b[0-9a-f]{32}\b", reason)) if k != own]


def _print_other_samples_note(story: dict[str, Any]) -> None:
    """Right under the sample's line, so `why FILE | head -2` cannot miss that the file gave other samples."""
    total = story["other_samples_total"]
    if not total:
        return
    _, rows = story["other_samples"]
    listed = "; ".join(f"{key[:12]} [{modality}] {status}" for key, modality, status, *_ in rows[:3])
    more = ", ..." if total > 3 else ""
    noun = "sample" if total == 1 else "samples"
    print(f"  {'also':12s} {total} other {noun} came from this file: {listed}{more} (listed below; "
          f"--modality or the key picks one)")


def _quarantine_fix(args: argparse.Namespace, cat: Catalog, sample: dict[str, Any]) -> str:
    """What to do about a quarantined input: the story said what was wrong and where the copy is, not
    how to get the input in. A refresh of its source curates the fixed file again and marks this
    sample superseded (checked: a truncated PNG replaced and a missing caption written, lumina refresh)."""
    rows = cat.sql("SELECT parameters->>'source' FROM runs WHERE run_id = ?", [sample["last_run"]])[1]
    workspace = _catalog_path(args).resolve().parent  # where the refresh records
    if not (rows and rows[0][0]):  # a demo's corpus run records none: "lumina refresh SOURCE" could not be pasted
        return _sourceless_fix(workspace, sample)
    # one shell word each: a folder named with a space or a quote split the pasted command
    source, home = shlex.quote(rows[0][0]), shlex.quote(str(workspace))
    return (f"fix the input (the reason says what is wrong), then: lumina refresh {source} --modality "
            f"{sample['modality']} --home {home} (curates it again; this sample becomes superseded)")


def _sourceless_fix(workspace: Path, sample: dict[str, Any]) -> str:
    """The fix for a quarantined input whose run recorded no source: no refresh command to give. A
    demo without --source curates the corpus it generates in <home>/source/<modality>
    (flows/data_to_model.py write_corpus), curated with the demo's own options, not a source's."""
    corpus = workspace / "source" / sample["modality"]
    if str(sample["source_uri"] or "").startswith(f"{corpus}{os.sep}"):
        return (f"nothing to fix: an input of a demo's generated corpus ({corpus}), which plants bad inputs for curation "
                "to catch; a demo run records no source, so no refresh applies (a run on your own data, lumina demo "
                "--source or lumina curate, gets a refresh command here)")
    return ("fix the input (the reason says what is wrong), then refresh the folder it came from with --modality "
            f"{sample['modality']} --home {shlex.quote(str(workspace))} (its run recorded no source to name here)")


def _quarantined_copy(args: argparse.Namespace, key: str) -> dict[str, Any]:
    """Where curation copied a quarantined input (<home>/quarantine/<key>/, contracts.layout): in --home,
    else beside the catalog, else in $LUMINA_HOME; the first that has it."""
    homes = [Workspace.at(args.home)] if getattr(args, "home", None) else []
    homes += [Workspace(_catalog_path(args).resolve().parent), Workspace.at(None)]
    folders = list(dict.fromkeys(ws.quarantine / key for ws in homes))
    found = next((f for f in folders if f.is_dir()), None)
    if found is None:
        return {"path": str(folders[0]), "exists": False, "files": []}
    return {"path": str(found), "exists": True, "files": sorted(p.relative_to(found).as_posix() for p in found.rglob("*") if p.is_file())}


def cmd_manifest_create(args: argparse.Namespace) -> int:
    # Check and dry-run the user's predicate on a read-only connection before opening for writing.
    from .sqlfiles import q

    with _open(args) as ro:
        ro.count_matching(args.where)
        latest = ro.sql(q("manifest_latest_version"), [args.name])[1][0][0]  # None: a new name
        before = ro.sql(q("manifest_header"), [args.name, latest])[1][0][2] if latest is not None else None
    with _open(args, write=True) as cat:
        m = cat.freeze_manifest(args.name, args.where, encoders=args.encoder, description=args.description)
    enc = ", ".join(f"{k}={v}" for k, v in m.encoders.items()) or "none"
    same = (f" unchanged: the selection is the one v{m.version} froze, so no new version;"
            if latest is not None and m.version <= latest else ":")
    print(f"manifest {m.id}{same} {m.num_members} members ({m.num_excluded} matching samples left out for lacking "
          f"an encoding); encoders: {enc}")
    if latest is not None and m.version > latest and canonical_predicate(before) != canonical_predicate(args.where):
        # a name reused for another selection: `--manifest NAME` (its latest version) now trains on this one
        print(f"{PROG}: note: {args.name}@v{latest} was frozen with another --where ({before}); --manifest {args.name} "
              f"now means v{m.version}: give {args.name}@v{latest} for that one, or choose another name",
              file=sys.stderr)
    return 0


def cmd_manifest_list(args: argparse.Namespace) -> int:
    with _open(args) as cat:
        cols, rows = cat.list_manifests()
    if args.json and "encoders" in cols:  # an object, as `manifest show --json` gives it, not its text
        i = cols.index("encoders")
        rows = [(*r[:i], None if r[i] is None else json.loads(r[i]), *r[i + 1:]) for r in rows]
    print_result(cols, rows, _fmt(args), max_width=args.max_width)
    return 0


def cmd_manifest_show(args: argparse.Namespace) -> int:
    from .sqlfiles import q

    with _open(args) as cat:
        o = cat.manifest_overview(args.name, args.version, first=args.members)
        m = o.header
        shard_cols, shards = cat.sql(q("manifest_shards"), [m.name, m.version]) if args.json or args.shards else ([], [])
        trained = cat.sql("SELECT checkpoint_id, step FROM checkpoints WHERE manifest = ? AND manifest_version = ? "
                          "ORDER BY created_at, checkpoint_id", [m.name, m.version])[1]
        evaluated = cat.sql("SELECT checkpoint_id, any_value(checkpoint_step) FROM evaluation_metrics "
                            "WHERE evaluated_manifest = ? AND evaluated_manifest_version = ? GROUP BY checkpoint_id "
                            "ORDER BY min(logged_at), checkpoint_id", [m.name, m.version])[1]
    if args.json:  # every shard: a program reading it wants them all
        json.dump({"name": m.name, "version": m.version, "where": m.where, "created_at": m.created_at.isoformat(),
                   "description": m.description, "encoders": m.encoders, "num_members": m.num_members,
                   "num_excluded": m.num_excluded,
                   "trained_checkpoints": [{"checkpoint_id": c, "step": n} for c, n in trained],
                   "evaluated_checkpoints": [{"checkpoint_id": c, "step": n} for c, n in evaluated],
                   "shards": [dict(zip(shard_cols, r)) for r in shards],
                   "members": [{"key": x.key, "caption": x.caption, "split": x.split, "meta": x.meta,
                                "encodings": x.encodings} for x in o.first]},
                  sys.stdout, indent=1)
        print()
        return 0
    print(f"manifest {m.id}  created {m.created_at:%Y-%m-%d %H:%M:%S} UTC")
    print(f"  where       {m.where}")
    if m.description:
        print(f"  description {m.description}")
    print(f"  members     {m.num_members}  ({', '.join(f'{k}: {v}' for k, v in sorted(o.splits.items()))})")
    print(f"  excluded    {m.num_excluded} (matched, but lacked an encoding)")
    for kind, fp in m.encoders.items():
        print(f"  encoder     {kind}: {fp}  ({o.shards.get(kind, 0)} shards)")
    _print_checkpoints_of(m.name, m.version, trained, evaluated)
    if args.shards:
        print()
        print_table(shard_cols, shards, max_width=args.max_width)
    if args.members:
        print()
        kinds = list(m.encoders)
        print_table(["key", "split", "caption", *kinds],
                    [(x.key, x.split, x.caption, *(x.encodings[k][0] + "#" + x.encodings[k][1] for k in kinds))
                     for x in o.first], max_width=args.max_width)
    return 0


def _print_checkpoints_of(name: str, version: int, trained: list[tuple], evaluated: list[tuple]) -> None:
    """Which checkpoints trained on a manifest, or were evaluated on it, and where their figures are:
    `manifest show` said what a manifest holds, nothing of what was made of it."""
    def some(rows: list[tuple]) -> str:
        listed = ", ".join(f"{ckpt} (step {step})" for ckpt, step in rows[:3])
        return listed + (f", and {len(rows) - 3} more" if len(rows) > 3 else "")

    if trained:
        print(f"  trained     {len(trained)} checkpoint{'s' if len(trained) != 1 else ''} on it: {some(trained)}")
    if evaluated:
        print(f"  evaluated   {len(evaluated)} checkpoint{'s' if len(evaluated) != 1 else ''} on it: {some(evaluated)}")
    if trained or evaluated:
        column = "manifest" if trained else "evaluated_manifest"
        print(f"  figures     lumina catalog sql \"SELECT checkpoint_id, checkpoint_step, name, split, value FROM "
              f"latest_metrics WHERE {column} = '{name.replace(chr(39), chr(39) * 2)}' AND {column}_version = {version} "
              f"ORDER BY checkpoint_id, name\"")


def _check_export_target(out: Path) -> None:
    """--out must name a file whose folder is (or can be) a folder: a folder given as --out, or a
    file on the way, ended in "[Errno 21] Is a directory: '.x.parquet.123.tmp' -> ..." or
    "[Errno 17] File exists" after the rows were read."""
    if out.is_dir():
        raise CatalogError(f"--out {out} is a folder: give a file in it, e.g. --out {out / 'export.parquet'}")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise CatalogError(f"--out {out}: {parent} is a file, not a folder")
            return


def cmd_export(args: argparse.Namespace) -> int:
    _check_export_target(Path(args.out))
    with _open(args) as cat:
        n = cat.export(args.name, args.out, version=args.version, kind=args.kind)
    print(f"wrote {n} row{'' if n == 1 else 's'} to {args.out}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from .sqlfiles import schema_version

    path = _catalog_path(args)
    if not path.exists():  # a mistyped path must not become a new, empty catalog
        raise CatalogError(f"no catalog at {path}: nothing to migrate")
    with _open(args, write=True) as cat:
        print(f"catalog {cat.path} is at schema v{schema_version()}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .disk_check import check_run_folders, human_size, remove_temporary
    from .run_liveness import CHECK as STALE_RUNS
    from .run_liveness import stale_runs

    with _open(args) as cat:
        results = cat.check()
        stale = stale_runs(cat)  # recorded as running, their process gone: what the next run marks abandoned
        results[STALE_RUNS] = len(stale)
        disk = check_run_folders(cat)  # the run folders it records, against the disk (stat only)
        removed, left = remove_temporary(disk) if args.remove_temporary else ([], [])
        disk.findings = [f for f in disk.findings if f not in removed]
        shards = None
        if args.shards or args.manifest:
            from .shard_contents import check_shard_contents

            shards = check_shard_contents(cat, manifest=args.manifest,  # every byte: on request only
                                          home=_catalog_path(args).resolve().parent)
        else:
            unread = cat.sql("SELECT count(*) FROM shards")[1][0][0]
    results.update(disk.counts())
    if shards is not None:
        results.update(shards.counts())
    print_table(["check", "violations"], sorted(results.items()), max_width=args.max_width)
    for run in stale:
        print(f"\n{run.finding(str(_catalog_path(args)))}")
    for f in disk.findings:  # whole paths, never cut: they are to be copied
        print(f"\n{f.check}: {f.path} ({human_size(f.size)})\n  do: {f.action}")
    if shards is not None:
        for s in shards.findings:
            print(f"\n{s.check}: {s.stage} shard {s.uri}: {s.what}\n  do: {s.action}")
        whose = f" of manifest {args.manifest}" if args.manifest else ""
        print(f"\nshards: {shards.shards} registered shards{whose} looked at, {human_size(shards.bytes_read)} hashed")
        if shards.outside:  # a copy checked clean while its own damaged shard was never read
            home = _catalog_path(args).resolve().parent
            print(f"note: {len(shards.outside)} of them are not in this catalog's workspace {home} but where they were "
                  f"registered (e.g. {shards.outside[0]}): those files were read, as training reads them, not copies in {home}")
    elif unread:  # a truncated or deleted shard passed the plain check without a word
        print(f"\nshards: {unread} registered shard files not looked at (lumina catalog check --shards compares "
              f"each with its recorded size and sha256)")
    for folder in disk.in_use:
        print(f"\nnot looked at: run folder {folder} is in use by a live training process")
    for f in removed:
        print(f"\nremoved: {f.path} ({human_size(f.size)})")
    for f, why in left:
        print(f"\nnot removed: {f.path}: {why}")
    if removed:
        print(f"\nfreed {human_size(sum(f.size for f in removed))} in {len(removed)} temporary checkpoint folder(s)")
    return 0 if not any(results.values()) else 1


def cmd_tables(args: argparse.Namespace) -> int:
    from .sqlfiles import q

    with _open(args) as cat:
        cols, rows = cat.sql(q("list_relations"))
    print_result(cols, rows, _fmt(args), max_width=args.max_width)
    return 0


# ---------------------------------------------------------------- parser

def _formats(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="print JSON")
    g.add_argument("--csv", action="store_true", help="print CSV")


def _max_width(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-width", type=_width, default=MAX_WIDTH, metavar="N",
                   help=f"characters per table cell; longer ones are cut in the middle (default {MAX_WIDTH}, 0: no cut)")


def _whole(text: str, zero: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 ({zero}) or more, not {n}")
    return n


def _seconds(text: str) -> float:
    """--timeout: `nan` waited for ever ("up to nan s") and -1 said "within -1 s"."""
    try:
        s = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}") from None
    if not math.isfinite(s) or s < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds, 0 or more, not {text}")
    return s


def _width(text: str) -> int:
    return _whole(text, "no limit")


def _members(text: str) -> int:  # `--members -1` listed none, and an empty table said "(0 rows)"
    return _whole(text, "none listed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the catalog subcommands to ``parser`` (the lead's `lumina catalog` parser, or ours)."""
    # Options accepted both before and after the subcommand; SUPPRESS keeps a later default from
    # overwriting an earlier explicit value.
    common = ArgumentParser(add_help=False)
    common.add_argument("--catalog", default=argparse.SUPPRESS, metavar="PATH",
                        help="catalog file (default: $LUMINA_CATALOG, else $LUMINA_HOME/catalog.duckdb, else ./lumina_home/catalog.duckdb)")
    common.add_argument("--home", default=argparse.SUPPRESS, metavar="DIR",
                        help="workspace folder: its catalog.duckdb (as the other lumina commands take it)")
    common.add_argument("--timeout", type=_seconds, default=argparse.SUPPRESS, metavar="S",
                        help="seconds to wait while another process holds the catalog (default 30)")
    parser.add_argument("--catalog", default=None, metavar="PATH",
                        help="catalog file (default: $LUMINA_CATALOG, else $LUMINA_HOME/catalog.duckdb, else ./lumina_home/catalog.duckdb)")
    parser.add_argument("--home", default=None, metavar="DIR",
                        help="workspace folder: its catalog.duckdb (as the other lumina commands take it)")
    parser.add_argument("--timeout", type=_seconds, default=30.0, metavar="S",
                        help="seconds to wait while another process holds the catalog (default 30)")
    sub = parser.add_subparsers(dest="catalog_command", metavar="COMMAND", required=True)

    p = sub.add_parser("sql", parents=[common], help="run SQL (read-only unless --write) and print the result")
    p.add_argument("query", help="SQL, e.g. \"SELECT * FROM filter_drop_rates\"")
    _formats(p)
    p.add_argument("--write", action="store_true", help="open for writing: INSERT/UPDATE/DELETE, and DDL on tables of your own (changing the definition of the catalog's own tables and views is refused)")
    p.add_argument("--max-rows", type=_width, default=None, metavar="N",
                   help=f"rows printed, in every format (0: all; default: {TABLE_MAX_ROWS} in a table, all with --json "
                        "or --csv); the others are counted: under the table, on stderr for --json and --csv")
    _max_width(p)
    p.set_defaults(catalog_func=cmd_sql)

    p = sub.add_parser("stats", parents=[common], help="counts per modality and status, drop reasons, storage")
    p.add_argument("--json", action="store_true", help="print JSON")
    _max_width(p)
    p.set_defaults(catalog_func=cmd_stats)

    p = sub.add_parser("why", parents=[common], help="the full story of one sample")
    p.add_argument("key", help="sample key (a unique prefix is enough), or the file it came from (its path, or its path "
                   "within the source: photos/cat.jpg)")
    p.add_argument("--modality", default=None, choices=MODALITIES,
                   help="of a file that gave samples of several modalities (a refresh under another --modality), "
                        "this modality's")
    p.add_argument("--json", action="store_true", help="print JSON")
    _max_width(p)
    p.set_defaults(catalog_func=cmd_why)

    p = sub.add_parser("manifest", parents=[common], help="create, list and show manifests")
    msub = p.add_subparsers(dest="manifest_command", metavar="ACTION", required=True)
    c = msub.add_parser("create", parents=[common], help="freeze the accepted samples matching --where")
    c.add_argument("name", help="manifest name; creating it again with other members makes its next version")
    c.add_argument("--where", required=True, help="SQL predicate over the samples table (only accepted samples that "
                   "have encodings are frozen)")
    c.add_argument("--encoder", action="append", default=None, metavar="FINGERPRINT",
                   help="encoder fingerprint to use (repeat once per kind) when the selection mixes encoders")
    c.add_argument("--description", default="", help="free text kept with the manifest")
    c.set_defaults(catalog_func=cmd_manifest_create)
    c = msub.add_parser("list", parents=[common], help="all manifests and versions")
    _formats(c)
    _max_width(c)
    c.set_defaults(catalog_func=cmd_manifest_list)
    c = msub.add_parser("show", parents=[common], help="one manifest (latest version unless --version or NAME@vN)")
    c.add_argument("name", help="manifest name, or NAME@vN")
    c.add_argument("--version", type=int, default=None, help="manifest version (default latest)")
    c.add_argument("--members", type=_members, default=10, help="members to list (default 10)")
    c.add_argument("--shards", action="store_true",
                   help="list the shards it reads: kind, shard_uri, its members in it, bytes (--json always has them)")
    c.add_argument("--json", action="store_true", help="print JSON")
    _max_width(c)
    c.set_defaults(catalog_func=cmd_manifest_show)

    p = sub.add_parser("export", parents=[common], help="write a table, view or manifest to Parquet")
    p.add_argument("name", help="table or view name, manifest name, or NAME@vN")
    p.add_argument("--out", required=True, help="output .parquet file")
    p.add_argument("--version", type=int, default=None, help="manifest version (default latest)")
    p.add_argument("--kind", choices=["auto", "table", "manifest"], default="auto",
                   help="what NAME is when a table and a manifest share it (default: table wins)")
    p.set_defaults(catalog_func=cmd_export)

    p = sub.add_parser("tables", parents=[common], help="list the tables and views")
    _formats(p)
    _max_width(p)
    p.set_defaults(catalog_func=cmd_tables)
    p = sub.add_parser("check", parents=[common], help="run the data tests and look for what killed runs left: temporary or unregistered checkpoints in run folders, runs recorded as running whose process is gone (exit 1 on violations)")
    p.add_argument("--shards", action="store_true",
                   help="also read every registered shard and compare its size and sha256 with the catalog's "
                        "(reads every byte: about 0.35 GB/s per core)")
    p.add_argument("--manifest", default=None, metavar="NAME[@vN]",
                   help="with --shards: only the shards this manifest's encodings are in (implies --shards)")
    p.add_argument("--remove-temporary", action="store_true",
                   help="delete the temporary .checkpoint-* folders killed runs left (run_folder_temporary_checkpoints: "
                        "never a published checkpoint, never in a run folder a live training process holds)")
    _max_width(p)
    p.set_defaults(catalog_func=cmd_check)
    p = sub.add_parser("migrate", parents=[common], help="open for writing once, migrating an older catalog")
    p.set_defaults(catalog_func=cmd_migrate)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog=PROG, description="Query and manage the Lumina catalog (DuckDB).")
    add_arguments(parser)
    return parser


def _string_quote_hint(message: str, args: argparse.Namespace) -> str:
    """`--where 'modality = "image"'`: in SQL double quotes name a column, so DuckDB answered
    'Referenced column "image" not found' and nothing said that a string takes single quotes."""
    m = re.search(r'Referenced column "([^"]+)" not found', message)
    text = getattr(args, "where", None) or getattr(args, "query", None) or ""
    if m and f'"{m.group(1)}"' in text:
        return f" (in SQL a string takes single quotes: '{m.group(1)}'; double quotes name a column)"
    if m and _compared_bare(m.group(1), text):  # `status = accepted`: read as a column, as above
        return f" (in SQL a string takes single quotes: '{m.group(1)}')"
    return ""


def _compared_bare(name: str, sql: str) -> bool:
    """Whether ``name`` stands unquoted where a value is compared: after =, <, >, <>, !=, or in an
    IN (...) list of values. A mistyped column before one (`WHERE staus = 'accepted'`), in a SELECT list
    or in an IN (SELECT ...) subquery (`key IN (SELECT kye FROM encodings)`) is not."""
    word = re.escape(name)
    return bool(re.search(rf"(?:[=<>]|!=)\s*{word}\b(?!\s*\()|\bIN\s*\((?!\s*(?:SELECT|FROM|WITH)\b)[^()]*\b{word}\b",
                          sql, re.IGNORECASE))


def run(args: argparse.Namespace) -> int:
    """Run parsed arguments; errors the user can fix print one line and return 2."""
    try:
        return args.catalog_func(args)
    except BrokenPipeError:  # `... | head` closed the pipe: not an error (before OSError, its base class)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nor is the flush at exit
        return 0
    except (CatalogError, duckdb.Error, ValueError, OSError) as e:
        if os.environ.get(TRACEBACK_ENV, "") not in ("", "0"):  # as every lumina command
            traceback.print_exception(e, file=sys.stderr)
        print(f"{PROG}: error: {one_line(e)}{_string_quote_hint(one_line(e), args)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: the query was interrupted (a write rolled back); no traceback
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2)
        return int(e.code or 0)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
