"""Where raw inputs come from: a folder, webdataset tars, a parquet/jsonl/csv listing, or a folder
written by Hugging Face ``datasets.save_to_disk``.

Every source kind becomes the same thing: a list of ``Entry`` objects, each a named blob with a
picklable way to read it (so Ray tasks read the bytes, not the driver). Modalities then group
entries into inputs (``group_by_stem`` for one-file media with a caption beside them). Names are
relative to the source, so the same files from a moved folder give the same names, and keys come
from content, so the same files from another source kind give the same samples.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import stat
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Iterable

from contracts.layout import printable_path

MAX_CAPTION_BYTES = 16 * 1024  # longer caption files are rejected, never read whole
DEFAULT_CAPTION_COLUMN = "caption"
# The kind (and reason) of an entry whose name a later entry of the source has too (a tar member
# appended again, a listing row naming a file a later row names): the last one is the entry by that
# name, as tar -x would leave it; each earlier one is recorded under its own name, rejected with this.
SHADOWED = "shadowed_by_later_entry"
# The kind of the entry recorded for a folder of the source that cannot be listed (no permission, an
# I/O error): its files are not curated, and a refresh keeps what it knew under it (not removed).
UNREADABLE_FOLDER = "unreadable_folder"
# The kind of an entry whose name is not UTF-8 and, written printably (\xNN), is the name (or the
# stem) of another entry of the source: it is rejected under a name of its own, so the two never
# share a name, a caption or an index row.
NAME_NOT_UTF8 = "name_not_utf8"

log = logging.getLogger(__name__)


class SourceKind(str, Enum):
    FOLDER = "folder"
    TARS = "tars"
    LISTING = "listing"
    HF_DATASET = "hf_dataset"


class SourceError(ValueError):
    """A source that cannot be read at all (wrong path, unknown format): one clear line for the user."""


@dataclass(frozen=True, slots=True)  # slots: a refresh holds every entry of its source at once
class Entry:
    """One named blob of a source. ``loc`` says how to read it: ("file", path), ("tar", tar, member, data offset, size)
    or ("bytes", data). ``kind`` is "file" for a regular file, else what it is (skipped, reported)."""

    name: str  # relative, '/'-separated: stable when the folder moves
    uri: str  # absolute origin, for the catalog's source_uri
    size: int
    loc: tuple = ()
    kind: str = "file"
    text: str | None = None  # a caption given inline by a listing or dataset row
    detail: str = ""  # for entries that are no blob: what went wrong (kept in the reason); a row's empty caption cell: that it is
    row_caption: "Entry | None" = None  # a listing's or dataset's media: its own row's caption, not one found by stem
    where: str = ""  # a caption that is one line of a file: ``metadata.csv#take=wavs/x``, for messages (its name, less the folder)

    @property
    def suffix(self) -> str:
        base = self.name.rsplit("/", 1)[-1]
        return "." + base.rsplit(".", 1)[-1].lower() if "." in base else ""

    @property
    def stem(self) -> str:
        return self.name[: len(self.name) - len(self.suffix)] if self.suffix else self.name

    def read(self, limit: int | None = None) -> bytes:
        """The bytes; with ``limit``, at most limit + 1 bytes (so callers can tell "too long")."""
        how = self.loc[0]
        n = -1 if limit is None else limit + 1
        if how == "file":
            # O_NOFOLLOW and a regular-file check: a FIFO or device must never block or flood us
            fd = os.open(self.loc[1], os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    raise OSError("not a regular file")
                return f.read(n) if n >= 0 else f.read()
        if how == "tar":
            # the member's data offset was noted when the tar was listed: a seek, not a scan of the
            # tar's headers per member (which made a tar of N images cost O(N^2) reads)
            _, tar_path, _, offset, size = self.loc
            want = size if n < 0 else min(size, n)
            with open(tar_path, "rb") as f:
                f.seek(offset)
                data = f.read(want)
            if len(data) < want:
                raise OSError(f"tar member {self.loc[2]} is truncated")
            return data
        if how == "bytes":
            data = self.loc[1]
            return data if n < 0 else data[:n]
        raise OSError(f"entry {self.name} has nothing to read ({self.kind})")


@dataclass
class SourceSpec:
    """What the user points at, and how to read captions from it."""

    uri: str
    kind: SourceKind | None = None  # detected from the path when None
    caption_key: str = "caption"  # key of a .json caption file beside the media
    path_column: str = "path"  # listings: the column with media paths (relative to the listing)
    caption_column: str = DEFAULT_CAPTION_COLUMN  # listings and datasets: the caption column
    media_column: str | None = None  # datasets: the media column (default: the first non-caption column)
    follow_symlinks: bool = False  # never leave the source root unless asked


def detect_kind(uri: str) -> SourceKind:
    p = Path(uri)
    if any(ch in uri for ch in "*?[") or uri.endswith(".tar"):
        return SourceKind.TARS
    if p.is_file() and p.suffix.lower() in (".parquet", ".jsonl", ".json", ".csv"):
        return SourceKind.LISTING
    if p.is_dir():
        if (p / "dataset_info.json").exists() or (p / "dataset_dict.json").exists() or (p / "state.json").exists():
            return SourceKind.HF_DATASET
        return SourceKind.FOLDER
    if not p.exists():
        # a relative path resolves against this process's folder: a deployment's worker runs in its own
        raise SourceError(f"source not found: {uri}" + ("" if p.is_absolute() else f" (looked for {p.absolute()})"))
    if p.name.lower().endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar.zst")):
        raise SourceError(f"{uri} is a compressed tar: decompress it first (shards are read in place, uncompressed)")
    raise SourceError(f"cannot tell what kind of source {uri} is (a folder, *.tar, .parquet/.jsonl/.csv, or a datasets.save_to_disk folder)")


def list_entries(spec: SourceSpec) -> list[Entry]:
    """Every entry of the source, in a stable order."""
    kind = spec.kind or detect_kind(spec.uri)
    if kind == SourceKind.FOLDER:
        return _folder_entries(Path(spec.uri), spec.follow_symlinks)
    if kind == SourceKind.TARS:
        return _tar_entries(spec.uri)
    if kind == SourceKind.LISTING:
        return _listing_entries(Path(spec.uri), spec)
    if kind == SourceKind.HF_DATASET:
        return _dataset_entries(Path(spec.uri), spec)
    raise SourceError(f"unknown source kind {kind!r}")


def _stem(name: str) -> str:
    """What ``Entry.stem`` is of an entry of this name."""
    return name[: name.rfind(".")] if "." in name.rsplit("/", 1)[-1] else name


class _Named(list):
    """A source's entries as they are listed, and the name before ``printable_path`` (a name that is not
    UTF-8 holds lone surrogates) of those whose printable name differs (kept only for them: a
    source of millions of UTF-8 names holds nothing more per entry)."""

    def __init__(self) -> None:
        super().__init__()
        self.raw: dict[int, str] = {}

    def add(self, entry: Entry, raw: str) -> None:
        if entry.name != raw:
            self.raw[len(self)] = raw
        self.append(entry)

    def drop_from(self, start: int) -> None:
        del self[start:]
        self.raw = {i: raw for i, raw in self.raw.items() if i < start}


def _without_shared_names(named: _Named) -> list[Entry]:
    """The entries, where an entry whose name is not UTF-8 and whose printable stem is also
    the stem of an entry with another real name (``a\\xe9.png`` written literally, beside the Latin-1
    ``a<E9>.png``) is rejected as ``name_not_utf8`` under a name of its own (the printable name with
    a tag of its real bytes): else both would be one name to the catalog, the index and the caption
    pairing, and the one image would get the other's caption. An entry whose name is UTF-8 always
    keeps its name; a non-UTF-8 name that meets no other keeps its printable one, as before."""
    if not named.raw:  # every name is UTF-8 (the usual source)
        return list(named)
    stems: dict[str, set[str]] = {named[i].stem: set() for i in named.raw}
    for i, e in enumerate(named):
        if e.stem in stems:
            stems[e.stem].add(_stem(named.raw.get(i, e.name)))
    out = []
    for i, e in enumerate(named):
        raw = named.raw.get(i)
        if raw is None or len(stems[e.stem]) == 1:
            out.append(e)
            continue
        tag = f"#{NAME_NOT_UTF8}-" + hashlib.sha256(os.fsencode(raw)).hexdigest()[:12]
        out.append(Entry(e.name + tag, e.uri + tag, 0, (), NAME_NOT_UTF8,
                         detail="the name is not UTF-8, and its printable form is another entry's name too: "
                                "rename it in UTF-8; not read"))
    return out


def _folder_entries(root: Path, follow_symlinks: bool) -> list[Entry]:
    root = root.resolve()
    if not root.is_dir():
        raise SourceError(f"not a folder: {root}")
    named = _Named()
    unreadable: list[tuple[Path, OSError]] = []  # folders that cannot be listed or searched, and why
    walk = os.walk(root, followlinks=follow_symlinks,
                   onerror=lambda e: unreadable.append((Path(e.filename) if e.filename else root, e)))
    for dirpath, dirnames, filenames in walk:
        dirnames.sort()
        d = Path(dirpath)
        if d != root and not dirnames and not filenames:  # else nothing would say it was there (a folder named x.png)
            rel = d.relative_to(root).as_posix()
            named.add(Entry(printable_path(rel), printable_path(str(d)), 0, (), "empty_folder"), rel)
        listed_before = len(named)
        for name in sorted(filenames) + [n for n in dirnames if (d / n).is_symlink() and not follow_symlinks]:
            p = d / name
            raw = p.relative_to(root).as_posix()
            rel, uri = printable_path(raw), printable_path(str(p))
            try:
                st = os.lstat(p)
            except PermissionError as e:  # a folder that lists its names but cannot be searched (r without x)
                unreadable.append((d, e))
                dirnames[:] = []
                named.drop_from(listed_before)  # the folder is one unreadable entry, none of its files
                break
            except OSError:  # gone since the folder was listed
                continue
            if stat.S_ISLNK(st.st_mode):
                try:
                    target = p.resolve()
                except (OSError, RuntimeError):  # a link loop: RuntimeError before Python 3.13, OSError after
                    named.add(Entry(rel, uri, 0, (), "symlink_loop"), raw)
                    continue
                inside = target == root or root in target.parents
                if not (follow_symlinks or inside) or not target.is_file():
                    named.add(Entry(rel, uri, 0, (), "symlink_outside_source" if not inside else "symlink",
                                    detail=_link_detail(p, target, root)), raw)
                    continue
                named.add(Entry(rel, uri, target.stat().st_size, ("file", str(target))), raw)
            elif stat.S_ISREG(st.st_mode):
                named.add(Entry(rel, uri, st.st_size, ("file", str(p))), raw)
            else:
                named.add(Entry(rel, uri, 0, (), "not_a_regular_file"), raw)
    for entry, raw in _unreadable_folders(root, unreadable):
        named.add(entry, raw)
    return sorted(_without_shared_names(named), key=lambda e: e.name)


def _unreadable_folders(root: Path, unreadable: list[tuple[Path, OSError]]) -> list[tuple[Entry, str]]:
    """An entry per folder that could not be listed or searched (os.walk skips those without a word:
    their files would be no rows, and a refresh would mark every sample under them removed), and a
    warning in one line. The source folder itself unreadable is a SourceError."""
    out = []
    for folder, e in unreadable:
        why = f"{type(e).__name__}: {e.strerror or e}"
        if folder == root:
            raise SourceError(f"cannot read the folder {root} ({why}): check its permissions")
        raw = folder.relative_to(root).as_posix()
        out.append((Entry(printable_path(raw), printable_path(str(folder)), 0, (), UNREADABLE_FOLDER,
                          detail=f"{why}; its files are not listed"), raw))
    if out:
        first = out[0][0]
        more = f" and {len(out) - 1} more" if len(out) > 1 else ""
        log.warning("cannot read %d folder%s of %s (%s: %s%s): their files are not curated (rows %s) and a refresh keeps "
                    "their samples as they are; make them readable and curate or refresh again", len(out),
                    "s" if len(out) > 1 else "", root, first.name, first.detail.split(";")[0], more, UNREADABLE_FOLDER)
    return out


def _link_detail(link: Path, target: Path, root: Path) -> str:
    """What a link that is not read points at, for its reason: 'points to gone.png, which does not
    exist (not read)'. A target outside the source is not named (its path is none of the catalog's business)."""
    inside = target == root or root in target.parents
    where = f"points to {target.relative_to(root).as_posix() or '.'}" if inside else "points outside the source"
    if not target.exists():
        what = "which does not exist"
    elif target.is_dir():
        what = "a folder (its files are listed where they are)" if inside else "a folder"
    elif target.is_file():
        what = "a file (--follow-symlinks reads it)"
    else:
        what = "no regular file"
    return f"{where}, {what}; not read"


def _tar_paths(pattern: str) -> list[tuple[Path, str]]:
    """(tar, the name its members are scoped by) of each tar the glob matches, once each (two
    matches of one tar, through a link, are one tar), sorted by path. A tar is named by its file
    name, as before names were scoped; only tars whose file names the glob matches more than once
    (``a/000.tar`` and ``b/000.tar``) are named by their path relative to the glob's folder (the
    part before its first wildcard), so their members no longer share names, and the names of a
    source that has no such tars stay what they were (a refresh after the upgrade is a no-op)."""
    import glob

    expanded = os.path.expanduser(pattern)
    found: dict[Path, str] = {}
    for match in sorted(glob.glob(expanded)):
        found.setdefault(Path(match).resolve(), match)
    if not found:
        raise SourceError(f"no tar files match {pattern}")
    parts = Path(expanded).parts
    fixed = next((i for i, part in enumerate(parts) if any(ch in part for ch in "*?[")), len(parts) - 1)
    root = str(Path(*parts[:fixed])) if fixed else "."
    shared = Counter(path.name for path in found)
    return [(path, path.name if shared[path.name] == 1 else Path(os.path.relpath(match, root)).as_posix())
            for path, match in sorted(found.items())]


COMPRESSED_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd"}


def _compression_of(tar_path: Path) -> str | None:
    try:
        with open(tar_path, "rb") as f:
            head = f.read(6)
    except OSError:
        return None  # tarfile.open says why
    return next((name for magic, name in COMPRESSED_MAGIC.items() if head.startswith(magic)), None)


def _end_marker_problem(tar_path: Path, end: int) -> str:
    """'' when the end-of-archive marker (two zero blocks) follows the last member, at byte ``end``;
    else why not. Python's tarfile ends without a word at the end of the file or at a header it
    cannot parse, so a tar cut on a member boundary would read as a shorter valid tar. Two blocks
    are read, whatever the tar's size (GNU tar pads with more zero blocks, which are not read)."""
    with open(tar_path, "rb") as f:
        f.seek(end)
        tail = f.read(2 * tarfile.BLOCKSIZE)
    if tail == bytes(2 * tarfile.BLOCKSIZE):
        return ""
    if len(tail) < 2 * tarfile.BLOCKSIZE:
        return f"cut short: ends at byte {end + len(tail)} without the end-of-archive marker"
    return f"no valid member header at byte {end}: the rest is not read"


def _tar_entries(pattern: str) -> list[Entry]:
    named = _Named()
    for tar_path, tar_name in _tar_paths(pattern):
        members: list[tarfile.TarInfo] = []
        problem = ""
        if (compression := _compression_of(tar_path)) is not None:
            # members are read in place, by their offset in the file, which a compressed tar has not
            problem = f"{compression}-compressed: its members cannot be read in place; decompress it first"
        else:
            try:
                with tarfile.open(tar_path, "r:") as tar:
                    for m in tar:  # one at a time: a tar cut short still yields the members before the cut
                        members.append(m)
                    end = tar.offset  # just past the last member
                problem = _end_marker_problem(tar_path, end)
            except (tarfile.TarError, OSError, EOFError) as e:
                problem = f"{type(e).__name__}: {e}"
        if problem:
            # one bad tar must not stop the others: it is recorded (rejected, with why) and the
            # members listed before the damage are still read (a cut member is quarantined on read)
            kind = "truncated_archive" if members else "unreadable_archive"
            named.add(Entry(printable_path(tar_name), printable_path(str(tar_path)), 0, (), kind, detail=problem), tar_name)
        members = [m for m in members if not m.isdir()]
        copies = Counter(m.name for m in members)
        seen: Counter = Counter()
        for m in members:
            # The tar's own name scopes its members: two tars may both hold 000001.jpg.
            raw = f"{tar_name}/{m.name}"
            name = printable_path(raw)
            uri = printable_path(f"{tar_path}#{m.name}")
            seen[m.name] += 1
            if seen[m.name] < copies[m.name]:  # appended again later (tar -r): tar -x leaves the last one
                suffix = f"#shadowed-{seen[m.name]}"
                detail = f"copy {seen[m.name]} of this member; a later copy is used, as tar -x leaves the last one"
                named.add(Entry(name + suffix, uri + suffix, 0, (), SHADOWED, detail=detail), raw + suffix)
                continue
            if m.isfile():
                named.add(Entry(name, uri, m.size, ("tar", str(tar_path), m.name, m.offset_data, m.size)), raw)
            else:
                named.add(Entry(name, uri, 0, (), "not_a_regular_file"), raw)
    return _without_shared_names(named)


def _rows_of_listing(path: Path) -> list[dict[str, Any]]:
    rows = _parsed_listing(path)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):  # a JSON line may hold any value: a row must be an object
            what = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(row), "a number")
            raise SourceError(f"unreadable listing {path}: row {i} is {what}, not an object")
    return rows


def _parsed_listing(path: Path) -> list[Any]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist()
        if suffix in (".jsonl", ".json"):
            text = path.read_text(encoding="utf-8")
            if suffix == ".json" and text.lstrip().startswith("["):
                return list(json.loads(text))
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        if suffix == ".csv":
            with open(path, newline="", encoding="utf-8") as f:
                return list(csv.DictReader(f))
    except (OSError, ValueError, csv.Error) as e:  # csv.Error: a cell past csv's 128 KiB limit (it was a traceback)
        raise SourceError(f"unreadable listing {path}: {type(e).__name__}: {e}") from None
    raise SourceError(f"unknown listing format {path.suffix} (parquet, jsonl, json or csv)")


def _listing_entries(path: Path, spec: SourceSpec) -> list[Entry]:
    """Each row names a media file (relative to the listing's folder) and gives its caption, which
    stays with that row's media (`Entry.row_caption`). An empty or blank cell is no caption, whatever
    the format (CSV cannot tell "" from a null; a JSON "" was accepted as a caption and rejected
    caption_present, where CSV's empty cell was quarantined missing_caption). A file named in several rows is the last
    such row's; the earlier rows are entries of their own (``<name>#row=<i>``, shadowed_by_later_entry)."""
    path = path.resolve()
    rows = _rows_of_listing(path)
    if rows and spec.path_column not in rows[0]:
        raise SourceError(f"listing {path} has no column {spec.path_column!r} (columns: {', '.join(k for k in rows[0] if k is not None)}); set --path-column")
    _check_caption_column(path, rows, spec)
    _check_path_cells(path, rows, spec)
    out = []
    last_row: dict[str, int] = {}
    names = []
    for i, row in enumerate(rows):
        rel = str(row.get(spec.path_column) or "")
        names.append(Path(rel).as_posix() if rel and not Path(rel).is_absolute() else f"row{i:08d}/{Path(rel).name}")
        last_row[names[i]] = i
    for i, row in enumerate(rows):
        rel, name = str(row.get(spec.path_column) or ""), names[i]
        if last_row[name] != i:  # the same file named again in a later row: that row is used
            out.append(Entry(f"{name}#row={i}", f"{path}#row={i}", 0, (), SHADOWED,
                             detail=f"row {last_row[name]} names the same file and is used"))
            continue
        # csv.DictReader keeps cells past the header under None; empty ones are a trailing delimiter
        # (`a.png,a cat,` as spreadsheets export), nothing dropped
        if any(str(cell).strip() for cell in row.get(None) or ()):
            out.append(_row_with_unnamed_cells(name or f"row{i:08d}", f"{path}#row={i}", row))
            continue
        media, problem = _row_media(path.parent, rel)
        if media is None:
            out.append(Entry(name or f"row{i:08d}", f"{path}#row={i}", 0, (), "missing_media", detail=problem))
            continue
        # a row without the column (a JSON line may leave it out) may name caption files beside its media
        row_caption = _caption_entry(name, f"{path}#row={i}", row[spec.caption_column], spec.caption_column) \
            if spec.caption_column in row else None
        out.append(Entry(name, str(media), media.stat().st_size, ("file", str(media)), row_caption=row_caption))
    return out


def _check_path_cells(path: Path, rows: list[dict[str, Any]], spec: SourceSpec) -> None:
    """A path column of bytes (media held in the listing) is no column of paths: each cell was read
    as a file name, and the first over the system's name limit ended curate in a traceback
    (OSError: File name too long)."""
    row = next((i for i, r in enumerate(rows) if isinstance(r.get(spec.path_column), (bytes, bytearray))), None)
    if row is not None:
        raise SourceError(f"listing {path}: column {spec.path_column!r} holds bytes (row {row}), not file paths; "
                          f"a listing names media files: set --path-column, or save media held in a column "
                          f"with datasets.save_to_disk and curate that folder")


def _row_media(folder: Path, rel: str) -> tuple[Path | None, str]:
    """The file a row names, or None and why not ("" for a plain missing file). A cell too long for
    a file name (a caption in the path column) raised OSError out of is_file."""
    if not rel:
        return None, ""
    media = (folder / rel).resolve()
    try:
        return (media, "") if media.is_file() else (None, "")
    except OSError as e:
        return None, f"not a usable path: {e.strerror or type(e).__name__}"


def _row_with_unnamed_cells(name: str, uri: str, row: dict[Any, Any]) -> Entry:
    """A row with more cells than the header names: most often a caption with an unquoted comma,
    whose words after it were dropped without a word (`a.png,a cat, on a mat` was captioned `a cat`)."""
    extra, named = row[None], sum(k is not None for k in row)
    first = next(str(cell) for cell in extra if str(cell).strip())
    detail = (f"{named + len(extra)} cells where the header names {named} (unnamed: {first[:40]!r}"
              f"{', ...' if len(extra) > 1 else ''}); a cell holding a comma must be in double quotes")
    return Entry(f"{name}#row={uri.rsplit('#row=', 1)[1]}", uri, 0, (), "unnamed_cells", detail=detail)


def _check_caption_column(path: Path, rows: list[dict[str, Any]], spec: SourceSpec) -> None:
    """A caption column the listing lacks is a wrong name, not a listing of uncaptioned media (which
    would quarantine every input as missing_caption and copy every file). Without the column the
    captions may still come from caption files the listing names beside the media (``a.png`` and
    ``a.txt`` rows, as in a folder; an LJSpeech metadata.csv): allowed when the column was left at
    its default, so a user's --caption-column is always checked."""
    columns = list(dict.fromkeys(k for row in rows for k in row if k is not None))  # None: a csv row's unnamed cells; jsonl rows may differ: any row's key counts
    if not rows or spec.caption_column in columns:
        return
    names_caption_files = any(Path(str(row.get(spec.path_column) or "")).suffix.lower() in (*CAPTION_SUFFIXES, ".csv") for row in rows)
    if spec.caption_column == DEFAULT_CAPTION_COLUMN and names_caption_files:
        return
    raise SourceError(f"listing {path} has no column {spec.caption_column!r} (columns: {', '.join(columns)}); set --caption-column")


def with_row_captions(entries: Iterable[Entry]) -> list[Entry]:
    """The entries, each listing or dataset row's caption after its media: every blob, for hashing."""
    return [x for e in entries for x in (e, *(() if no_row_caption(e.row_caption) else (e.row_caption,)))]


def _caption_entry(media_name: str, uri: str, cell: Any, column: str) -> Entry:
    """A listing or dataset row's caption cell, as a caption entry of its media; an empty or blank
    cell (None, "", spaces) is one that says so (read_caption: missing_caption, naming the row)."""
    stem = media_name.rsplit(".", 1)[0] if "." in media_name.rsplit("/", 1)[-1] else media_name
    caption = "" if cell is None else str(cell)
    data = caption.encode("utf-8")
    if clean_caption(caption):
        return Entry(stem + ".txt", uri, len(data), ("bytes", data), text=caption)
    empty = "is empty" if not caption else "is blank (nothing but spaces or control characters)"
    return Entry(stem + ".txt", uri, len(data), ("bytes", data), text=caption, where=uri.rsplit("/", 1)[-1],
                 detail=f"its {column!r} cell {empty}")


def no_row_caption(caption: Entry | None) -> bool:
    """No caption, or a row's empty caption cell: a caption file of the media's name may give one,
    and there is no blob to track (a refresh's index held none for an empty CSV cell or a null)."""
    return caption is None or (caption.text is not None and bool(caption.detail))


def _dataset_entries(path: Path, spec: SourceSpec) -> list[Entry]:
    """A ``datasets.save_to_disk`` folder: media column as raw bytes (no re-encoding, so keys match
    the original files), caption column inline."""
    import datasets

    path = path.resolve()  # rows' uris are absolute, as a folder's files are
    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as e:  # noqa: BLE001 - datasets raises many types for a bad folder
        raise SourceError(f"unreadable dataset {path}: {type(e).__name__}: {e}") from None
    if isinstance(ds, datasets.DatasetDict):
        ds = datasets.concatenate_datasets([ds[k] for k in sorted(ds)])
    cols = ds.column_names
    if spec.caption_column not in cols:
        raise SourceError(f"dataset {path} has no column {spec.caption_column!r} (columns: {', '.join(cols)}); set --caption-column")
    media_col = spec.media_column or next((c for c in cols if c != spec.caption_column), None)
    if media_col is None:
        raise SourceError(f"dataset {path} has no media column")
    feature = ds.features[media_col]
    if hasattr(feature, "decode"):  # Image/Audio/Video features: read the stored bytes as they are
        ds = ds.cast_column(media_col, type(feature)(decode=False))
    out = []
    for i, row in enumerate(ds):
        value = row[media_col]
        data, orig = (value.get("bytes"), value.get("path")) if isinstance(value, dict) else (value, None)
        if data is None and orig and Path(orig).is_file():
            data = Path(orig).read_bytes()
        ext = Path(orig).suffix if orig else ".bin"
        name = f"row{i:08d}{ext}"
        uri = f"{path}#row={i}"
        if not isinstance(data, (bytes, bytearray)):
            out.append(Entry(name, uri, 0, (), "missing_media"))
            continue
        row_caption = _caption_entry(name, uri, row.get(spec.caption_column), spec.caption_column)
        out.append(Entry(name, uri, len(data), ("bytes", bytes(data)), row_caption=row_caption))
    return out


# --------------------------------------------------------------------------- grouping


@dataclass(slots=True)  # as Entry: one per input of the source, all held at once
class RawInput:
    """One would-be sample: its media entries by role, and its caption entry if any."""

    name: str  # relative name of the main media entry
    uri: str
    media: dict[str, Entry]
    caption: Entry | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def entries(self) -> list[Entry]:
        """Its media entries, then its caption entry if any (a row's empty caption cell is none)."""
        return [*self.media.values(), *(() if no_row_caption(self.caption) else (self.caption,))]


@dataclass(slots=True)
class Leftover:
    """An entry that is no sample of this modality: recorded as rejected with this reason kind."""

    entry: Entry
    reason_kind: str  # unsupported_type, orphan_caption, not_a_regular_file, ...
    detail: str = ""


CAPTION_SUFFIXES = (".txt", ".json")
IGNORED_NAMES = ("README.json", ".DS_Store")


def group_by_stem(entries: Iterable[Entry], media_suffixes: tuple[str, ...]) -> tuple[list[RawInput], list[Leftover]]:
    """One-file media with an optional caption beside it (``a.png`` + ``a.txt`` or ``a.json``).
    Everything else is a leftover with a reason, so no entry goes unaccounted."""
    entries = list(entries)
    captions: dict[str, Entry] = {}
    inputs: list[RawInput] = []
    leftovers: list[Leftover] = []
    for e in entries:
        if e.kind == "file" and e.suffix in CAPTION_SUFFIXES and no_row_caption(e.row_caption):
            # a .txt wins over a .json of the same stem; the other one is kept as a leftover
            if e.stem in captions and captions[e.stem].suffix == ".txt":
                leftovers.append(Leftover(e, "orphan_caption", "a .txt caption of the same name is used"))
                continue
            if e.stem in captions:
                leftovers.append(Leftover(captions[e.stem], "orphan_caption", "a .txt caption of the same name is used"))
            captions[e.stem] = e
    used: set[str] = set()
    refused: dict[str, str] = {}  # stem -> a file of that stem this modality does not take
    for e in entries:
        if e.kind != "file":
            leftovers.append(Leftover(e, e.kind, e.detail or "not read"))
        elif e.suffix in media_suffixes:
            cap = e.row_caption
            if no_row_caption(cap) and (found := captions.get(e.stem)) is not None:
                cap = found
                used.add(e.stem)
            inputs.append(RawInput(e.name, e.uri, {"media": e}, cap))
        elif not no_row_caption(e.row_caption) or (e.suffix not in CAPTION_SUFFIXES and e.name.rsplit("/", 1)[-1] not in IGNORED_NAMES):
            # a row's caption goes with its media's reason, it is no entry of its own
            leftovers.append(Leftover(e, "unsupported_type", e.suffix or "no extension"))
            refused.setdefault(e.stem, e.name.rsplit("/", 1)[-1])
    for stem, cap in captions.items():
        if stem not in used and cap.name.rsplit("/", 1)[-1] not in IGNORED_NAMES:
            # "no media of the same name" was wrong beside a dvd.mpg this modality refuses
            detail = f"its media {refused[stem]} is unsupported_type" if stem in refused else "no media of the same name"
            leftovers.append(Leftover(cap, "orphan_caption", detail))
    return inputs, leftovers


def _encoding_hint(data: bytes) -> str:
    """What a caption that is not UTF-8 most likely is, so the fix is plain: UTF-16 (Windows
    Notepad's "Unicode") starts with its byte-order mark or has a zero byte in every other place."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or (
            len(data) >= 4 and max(data[0::2].count(0), data[1::2].count(0)) >= len(data) // 4):
        return " (it looks like UTF-16: save it as UTF-8)"
    return " (save it as UTF-8)"


def _line_of(entry: Entry) -> str:
    """``metadata.csv line 3: `` for a caption that is one line of a file, else ""."""
    return f"{entry.where}: " if entry.where else ""


NO_CAPTION = "missing_caption: no caption beside the media"


def caption_key_part(caption: str | None, error: str | None) -> str:
    """What a sample key hashes of its input's caption: the caption as read, else its error. Every
    missing caption hashes as NO_CAPTION, whatever its reason names (no file beside the media, a
    listing row's empty cell): one fact, one key, so a folder and a listing of it give the same rows."""
    if caption is not None:
        return caption
    return f"<{NO_CAPTION if (error or '').startswith('missing_caption:') else error}>"


def clean_caption(text: str) -> str:
    """A caption as curation keeps it: control characters (NUL included) become spaces; whitespace collapses."""
    return " ".join("".join(" " if (ord(ch) < 32 or ord(ch) == 127) else ch for ch in text).split())


def read_caption(entry: Entry | None, json_key: str = "caption", limit: int = MAX_CAPTION_BYTES) -> tuple[str | None, str | None]:
    """(caption, error kind + detail). Never raises; the error says why a caption is unusable."""
    if entry is None:
        return None, NO_CAPTION
    if entry.text is not None and entry.detail:  # a listing row's empty caption cell
        return None, f"missing_caption: {entry.where}: {entry.detail}"
    if entry.text is not None:
        data = entry.text.encode("utf-8")
    else:
        try:
            data = entry.read(limit)
        except OSError as e:
            return None, f"caption_unreadable: {type(e).__name__}: {e.strerror or e}"
    if len(data) > limit:
        return None, f"caption_too_long: more than {limit} bytes"
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark (Windows editors write one) is no caption text
    except UnicodeDecodeError as e:
        return None, f"caption_not_utf8: {_line_of(entry)}{e.reason} at byte {e.start}{_encoding_hint(data)}"
    if entry.suffix == ".json" and entry.text is None:
        try:
            value = json.loads(text)
        except ValueError as e:
            return None, f"caption_bad_json: {e}"
        if not isinstance(value, dict) or not isinstance(value.get(json_key), str):
            return None, f"caption_bad_json: no string key {json_key!r}"
        text = value[json_key]
    return clean_caption(text), None
