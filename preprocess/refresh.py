"""Incremental curation: which inputs of a source are new, changed or gone since the last refresh,
and the curation of just those, built on preprocess/curate.py's public pieces.

An entry is unchanged when its name is in the source index with the same content hash; the hash is
recomputed only when the size or mtime moved (make's rule, with a content check behind it, so a
touched file is no change). An input is curated again when any of its entries (media, caption) is
new or changed, or its caption left; an input whose media left is removed. The catalog side (the
index, retirements) is catalog/source_index.py; the flow composing both is flows/refresh.py.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import os
import posixpath
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from contracts.keys import sample_key
from contracts.layout import Workspace
from preprocess.curate import (CurateConfig, analyse_resumably, content_keyed, discard_journals_of_source, mark_kept_before,
                               exact_duplicate_key, held_in_memory, mark_copies_of_catalogued, mark_exact_duplicates,
                               score_with_models, write_rejections, write_shards)
from preprocess.modality import Candidate, get_plugin
from preprocess.sources import (UNREADABLE_FOLDER, Entry, Leftover, RawInput, SourceKind, SourceSpec, detect_kind,
                               caption_key_part, list_entries, no_row_caption, read_caption, with_row_captions)

_HASH_CHUNK = 1 << 20
PROGRESS_FROM = 1000  # files to hash or read at which the plan draws a bar (20,000: 4-7 s without a word)


def _progress(items: Iterable, total: int, desc: str) -> Iterable:
    """``items`` with a progress bar on stderr (unit: file) when there are PROGRESS_FROM or more."""
    if total < PROGRESS_FROM:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, total=total, desc=desc, unit="file", leave=False)


@dataclass
class RefreshPlan:
    source: str  # the source's identity in the index (resolved path or glob)
    modality: str
    inputs: list[RawInput]  # to curate: new or changed
    leftovers: list[Leftover]  # to record: new or changed
    removed_uris: list[str]  # source_uri of inputs and leftovers that left the source
    recurated_uris: dict[str, list[str]]  # input (or leftover) uri -> uris of all its entries, for supersession
    counts: dict[str, int] = field(default_factory=dict)
    # uris -> {uri: name} of the inputs (and leftovers) in the source now at those of the uris
    present_names: Callable[[Iterable[str]], dict[str, str]] = lambda uris: {}
    indexed_entries: int = 0  # the source's entries present in the index before this refresh
    # folders the listing could not read (name -> why): what the index and the catalog hold under
    # them is kept as it is, never counted removed
    unreadable_folders: dict[str, str] = field(default_factory=dict)
    kept_unread: int = 0  # the index's present entries under those folders, set aside
    # curated shards an earlier run wrote (a `lumina curate` never encoded) that hold accepted samples of
    # inputs left out as already curated and not encoded yet: the refresh encodes them with its new shards
    shards_to_encode: list[str] = field(default_factory=list)
    # inputs whose sample the catalog has under another uri of the source that no longer holds it (a row
    # of a datasets folder after a row before it was deleted, a renamed file): not curated, the sample follows
    moves: list["Move"] = field(default_factory=list)
    # uri -> the key its input makes, which the catalog has there already beside older samples (a `lumina
    # curate` since the last refresh): not curated again, the older ones superseded by it
    in_place: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.inputs and not self.leftovers and not self.removed_uris and not self.moves and not self.in_place


@dataclass(frozen=True)
class Move:
    """An input's sample (``key``), current at ``old_uri``, whose input is at ``new_uri`` now."""

    key: str
    old_uri: str
    new_uri: str


@dataclass
class IncrementalCuration:
    batch_paths: list[str]
    shard_uris: list[str]
    keys_by_uri: dict[str, list[str]]  # source_uri -> keys of the samples curated from it now
    superseders: dict[str, list[str]]  # keys_by_uri less unsupported_type records (which never supersede a sample)
    counts: dict[str, int]  # status -> samples
    reasons: dict[str, int]


def _is_glob(uri: str) -> bool:
    return "*" in uri or "?" in uri or "[" in uri


def _resolved_glob(uri: str) -> str:
    """A tar glob made absolute: its folders before the first wildcard resolved (as the tars'
    uris are), the wildcard part as given."""
    parts = Path(os.path.expanduser(uri)).parts
    fixed = next((i for i, part in enumerate(parts) if _is_glob(part)), len(parts))
    return str(Path(*parts[:fixed]).resolve().joinpath(*parts[fixed:])) if fixed else os.path.abspath(os.path.expanduser(uri))


def source_identity(spec: SourceSpec | str) -> str:
    """How the index (and a curate or refresh run's parameters) names a source: the resolved
    folder or listing, a tar glob made absolute (the same glob typed from another folder is
    another source)."""
    uri = spec if isinstance(spec, str) else spec.uri
    if _is_glob(uri):
        return _resolved_glob(uri)
    return str(Path(uri).expanduser().resolve())


_REGEX_SPECIAL = set(".^$*+?{}[]\\|()")


def _glob_regex(pattern: str) -> str:
    """A path glob (as glob.glob reads it: * and ? stop at /) -> a regular expression."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append("\\" + ch if ch in _REGEX_SPECIAL else ch)
        i += 1
    return "".join(out)


def source_scope(spec: SourceSpec) -> tuple[list[str], list[str]]:
    """Where the source's samples come from, for samples_gone_from_source: (path prefixes, regular
    expressions) that a sample's source_uri of this source matches. A listing's media may lie
    anywhere: its rows are in scope, its media through the runs that curated the listing."""
    src = source_identity(spec)
    kind = spec.kind or detect_kind(spec.uri)
    if kind == SourceKind.TARS:
        tars = _glob_regex(src)
        return [], [tars + "(#.*)?"]  # a member, or an unreadable tar itself
    if kind == SourceKind.FOLDER:
        return [src.rstrip("/") + "/"], []
    return [src + "#row="], []  # a listing's or a datasets folder's rows


def _signature(e: Entry, tar_mtimes: dict[str, int | None]) -> tuple[int, int | None]:
    """(size, mtime_ns): the cheap test before hashing. Tar members carry their tar's mtime (looked
    up once per tar in ``tar_mtimes``, not once per member)."""
    if not e.loc or e.loc[0] not in ("file", "tar"):
        return e.size, None
    if e.loc[0] == "tar" and e.loc[1] in tar_mtimes:
        return e.size, tar_mtimes[e.loc[1]]
    try:
        mtime = os.stat(e.loc[1]).st_mtime_ns
    except OSError:
        mtime = None
    if e.loc[0] == "tar":
        tar_mtimes[e.loc[1]] = mtime
    return e.size, mtime


VANISHED = "vanished:"  # the content hash of a file listed and gone before it was hashed


def content_hash(e: Entry) -> str:
    """sha256 of the entry's bytes, streamed for files; what it is for entries that are no blob.
    A file gone since the listing (a writer's temporary file renamed, a file deleted) is VANISHED:
    its input is curated as curate records a file that vanished (quarantined), and the next refresh,
    which no longer lists it, retires it. Its FileNotFoundError failed the whole refresh, and a
    scheduled refresh of a folder written to all the time failed whenever a file went mid-listing."""
    if e.kind != "file":
        return f"{e.kind}:"
    h = hashlib.sha256()
    try:
        if e.loc and e.loc[0] == "file":
            with open(e.loc[1], "rb") as f:
                for block in iter(lambda: f.read(_HASH_CHUNK), b""):
                    h.update(block)
        else:
            h.update(e.read())
    except FileNotFoundError:
        return VANISHED
    return h.hexdigest()


def _blobs(entries: list[Entry]) -> Iterator[Entry]:
    """What the index tracks of the listed entries: each one, then its row's caption (a listing's)."""
    for e in entries:
        yield e
        if not no_row_caption(e.row_caption):  # an empty cell is none: its index stays as it was
            yield e.row_caption


def _members(inputs: list[RawInput], leftovers: list[Leftover]) -> Iterator[tuple[Entry, str | None]]:
    """(entry, the input's name) of each input's entries, then (entry, None) of each leftover's."""
    for item in inputs:
        for e in item.entries:
            yield e, item.name
    for lo in leftovers:
        yield lo.entry, None


def _at(items: Iterable, positions: np.ndarray) -> Iterator[tuple[int, Any]]:
    """(position, item) of the items at the sorted ``positions``, in one pass over the items."""
    wanted = (int(p) for p in positions)
    want = next(wanted, None)
    for pos, item in enumerate(items):
        if want is None:
            return
        if pos == want:
            yield pos, item
            want = next(wanted, None)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Millions of new, acyclic objects (entries, inputs) make the cyclic collector run again and
    again over all of them (40% of the listing time at 1M entries): paused while they are made."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def plan_refresh(spec: SourceSpec, cfg: CurateConfig, stage, gone_fn=None, near_copies_fn=None,
                 curated_shards_fn=None, current_fn=None, exact_copies_fn=None) -> RefreshPlan:
    """List the source, hash what may have changed, and decide what to curate and what left.

    ``stage``: a catalog.source_index.ListingStage holding the source's index (load_index): the
    listing streams into it and the diff (new, changed, gone entries) is SQL there, so the Python
    side holds the source's entries and inputs once and nothing per entry besides.
    ``gone_fn(stage)`` the source_uri of the source's samples whose input is not in the staged
    listing (catalog.source_index.samples_gone_from_source bound to a catalog and the source): the
    index knows only what refreshes listed, not what `lumina curate` took in before; ``near_copies_fn(removed_uris)`` the source_uri of rejected near duplicates of
    the samples of those inputs (catalog.source_index.near_copies_of): curated again, so the
    picture stays when the kept one of a near pair leaves. ``curated_shards_fn(keys)`` key -> a whole
    curated shard on disk holding that sample, for those of ``keys`` that have one: an unchanged input
    whose accepted samples are curated but not encoded is left out when each has one, and those shards
    are the plan's shards_to_encode (without it, such an input is curated again). ``current_fn(keys)``
    key -> (source_uri, status) of the catalog's current samples among ``keys``
    (catalog.source_index.current_samples_among): a listing's rejected rows that another row's
    deletion renumbered move with their rows (_renumbered_rows). ``exact_copies_fn(uris)``: the uris of
    the rejected exact copies of the current samples at ``uris`` (catalog.source_index exact_copies_of): the
    copies of an input curated again are curated with it, so that the copy holds the picture when the
    input's content changed (before, it stayed rejected as a copy of the sample the edit superseded)."""
    plugin = get_plugin(cfg.modality)
    opts = plugin.options(cfg.options)
    spec.kind = spec.kind or detect_kind(spec.uri)
    with _gc_paused():
        entries = list_entries(spec)
        inputs, leftovers = plugin.group(entries, opts)
    unreadable = {e.name: e.detail.split(";")[0] for e in entries if e.kind == UNREADABLE_FOLDER}
    kept_unread = stage.set_aside([name + "/" for name in unreadable])  # neither gone nor seen
    hashed = _stage_listing(stage, entries, inputs, leftovers, f"{plugin.modality.value}: hash new or changed files")
    diff = stage.finish()
    touched = stage.touched_inputs()
    shards_to_encode: set[str] = set()
    touched, already_curated = _without_already_curated(touched, inputs, stage, plugin, cfg, curated_shards_fn,
                                                        shards_to_encode)
    changed_leftovers = stage.changed_leftovers()
    todo_leftovers = [leftovers[i] for i in changed_leftovers.tolist()]
    row_moves = _renumbered_rows(leftovers, changed_leftovers, plugin, cfg, current_fn)
    removed_uris = set(stage.removed_uris())
    # an entry gone under its old name whose origin is listed under a new one (a tar named by its path
    # once another tar of its name joins the glob) moved: its input is there, its sample stays
    renamed, moved = stage.listed(removed_uris) if removed_uris else (set(), 0)
    removed_uris -= renamed
    unindexed_gone = []  # inputs the index never listed (curated before the first refresh) whose files are gone
    if gone_fn is not None:
        unindexed_gone = sorted(set(gone_fn(stage)) - removed_uris)
    removed_uris = sorted(removed_uris | set(unindexed_gone))
    if unreadable:  # a sample under a folder that could not be read is not known to be gone
        unread = tuple(e.uri + "/" for e in entries if e.kind == UNREADABLE_FOLDER)
        kept = {uri for uri in removed_uris if uri.startswith(unread)}
        removed_uris = [uri for uri in removed_uris if uri not in kept]
        unindexed_gone = [uri for uri in unindexed_gone if uri not in kept]
    touched, moves, gone_by_moves = _moved(touched, inputs, stage, plugin, cfg, set(removed_uris), curated_shards_fn,
                                           shards_to_encode, row_moves)
    removed_uris = sorted((set(removed_uris) - gone_by_moves.moved_out) | gone_by_moves.left_behind)
    in_place = gone_by_moves.in_place
    todo = [inputs[i] for i in touched.tolist()]
    revisit = set()
    if near_copies_fn is not None and removed_uris:
        revisit = _after_moves(set(near_copies_fn(removed_uris)), moves)
    if exact_copies_fn is not None and todo:  # an input edited: its sample's picture stays at its exact copies
        revisit |= _after_moves(set(exact_copies_fn(sorted(item.uri for item in todo))), moves)
    if revisit:
        curated_now = np.zeros(len(inputs), bool)
        curated_now[touched] = True
        more = [item for i, item in enumerate(inputs) if item.uri in revisit and not curated_now[i]]
        again = {item.uri for item in more}
        todo += more
        moves = [m for m in moves if m.new_uri not in again]  # curated again instead
        in_place = {uri: key for uri, key in in_place.items() if uri not in again}
    entry_uris: dict[str, list[str]] = defaultdict(list)
    for item in todo:
        entry_uris[item.uri] = sorted({e.uri for e in item.entries})
    for lo in todo_leftovers:
        entry_uris[lo.entry.uri] = [lo.entry.uri]
    counts = {"entries": len(entries), "inputs": len(inputs), "hashed": hashed, "changed_entries": diff["changed_entries"],
              "removed_entries": diff["removed_entries"], "inputs_to_curate": len(todo),
              "leftovers_to_record": len(todo_leftovers),
              "removed_inputs": diff["removed_inputs"] - moved + len(unindexed_gone) - len(gone_by_moves.moved_out)
              + len(gone_by_moves.left_behind), "already_curated": already_curated + gone_by_moves.in_place_count}
    return RefreshPlan(source_identity(spec), plugin.modality.value, todo, todo_leftovers, removed_uris,
                       dict(entry_uris), counts, stage.names_of, diff["indexed_entries"] + kept_unread, unreadable, kept_unread,
                       sorted(shards_to_encode), moves, in_place)


# what a curation's samples depend on besides the input's bytes (with the modality's options)
_SAME_CURATION = ("holdout_percent", "caption_key", "path_column", "caption_column", "media_column",
                  "follow_symlinks", "max_caption_bytes", "max_media_bytes")


def _same_curation(last: dict[str, Any], cfg: CurateConfig, plugin) -> bool:
    """Whether the source's last curation (its runs.parameters) curated with ``cfg``'s settings."""
    defaults = CurateConfig()
    try:
        if plugin.options(last.get("options") or {}) != plugin.options(cfg.options):
            return False
    except (TypeError, ValueError):  # options this code no longer reads
        return False
    return all(last.get(k, getattr(defaults, k)) == getattr(cfg, k) for k in _SAME_CURATION)


def content_key(item: RawInput, cfg: CurateConfig, plugin) -> str | None:
    """The key AnalyseStage gives the input's sample (its media bytes and caption, read now); None
    when it gives another (a file over max_media_bytes, or one that cannot be read)."""
    if max((e.size for e in item.media.values()), default=0) > cfg.max_media_bytes:
        return None
    caption, error = read_caption(item.caption, cfg.caption_key, cfg.max_caption_bytes)
    try:
        parts = plugin.content_parts(held_in_memory(item))
    except OSError:
        return None
    return sample_key(*parts, caption_key_part(caption, error))


def duplicate_key(content: str, copy_name: str, original_name: str) -> str:
    """The key of the exact_duplicate row of the input named ``copy_name`` whose content key is
    ``content``, a copy of the input named ``original_name``: what mark_exact_duplicates and
    mark_copies_of_catalogued give it (preprocess/curate.py as_exact_duplicate), from the copy's
    name relative to the original's folder."""
    return exact_duplicate_key(content, posixpath.relpath(copy_name, posixpath.dirname(original_name) or "."))


def _without_already_curated(touched: np.ndarray, inputs: list[RawInput], stage, plugin, cfg: CurateConfig,
                             curated_shards_fn=None, shards_to_encode: set[str] | None = None) -> tuple[np.ndarray, int]:
    """``touched`` less the inputs the index never listed whose samples the catalog already has: a
    `lumina curate` (and encode) took them in with these settings and they have not changed since.
    The first refresh of such a source curated, encoded and stored the whole source once more (at
    20,000 images, 473 s and a second copy of every shard for a 1% change; bench/bench_scale.py).
    An input stays to curate unless the source's last curation used these settings and the catalog's
    current samples at its uri, each accepted one encoded or in a whole curated shard
    (``curated_shards_fn``, see plan_refresh), are what its bytes and caption make now:
    one sample of the key they make, or (an input the modality cut into several, a video's scenes)
    samples the modality says are all it made of that key (its optional ``made_from(key, rows)``,
    rows (sample key, meta)). Before, an input of several samples was curated again, and its
    accepted ones stored in a second shard, on the first refresh of a source curated before.
    The key an exact duplicate gets is not its content's but derived from it and
    the copy's name relative to its original's folder (mark_exact_duplicates): a copy is left out
    when its row has that key, its original being an input left out here (before, every copy was
    curated again on the first refresh, to the same row). A `lumina curate` not followed by `lumina
    encode` left every accepted input to curate again: the first refresh decoded and analysed them all
    once more and wrote them into new shards. The curated shards holding the left-out inputs' unencoded
    samples are added to ``shards_to_encode``. Returns (the positions left, how many were left out)."""
    if not len(touched) or not hasattr(stage, "unindexed_inputs"):
        return touched, 0
    unindexed = np.intersect1d(touched, stage.unindexed_inputs())
    if not len(unindexed):
        return touched, 0
    last, at = stage.catalogued(inputs[i].uri for i in unindexed.tolist())
    if last is None or not at or not _same_curation(last, cfg, plugin):
        return touched, 0
    in_shard = _curated_shards_of_unencoded(at, curated_shards_fn)  # key -> a whole curated shard holding it
    done: dict[int, str] = {}  # position -> content key of the inputs left out
    copies, several = {}, {}  # position -> content key: inputs whose (rejected) row has another key; of several rows
    desc = f"{plugin.modality.value}: compare with what lumina curate took in"
    for i in _progress(unindexed.tolist(), len(unindexed), desc):
        rows = at.get(inputs[i].uri, [])
        if not rows or any(_unencoded(row) and row[0] not in in_shard for row in rows):
            continue  # an accepted sample neither encoded nor in a curated shard to encode: curated again
        if len(rows) > 1 and not hasattr(plugin, "made_from"):
            continue  # a modality that makes one sample of an input: several are no curation of it now
        key = content_key(inputs[i], cfg, plugin)
        if len(rows) > 1:
            several[i] = key
        elif key == rows[0][0]:
            done[i] = key
        elif key is not None and rows[0][1] == "rejected":
            copies[i] = key
    done.update(_made_whole(several, inputs, at, stage, plugin))
    if copies:  # content key -> name of the input left out whose sample has it, for the copies' keys only
        wanted = set(copies.values())
        originals = {k: inputs[i].name for i, k in done.items() if k in wanted}
        done.update((i, key) for i, key in copies.items()
                    if key in originals and at[inputs[i].uri][0][0] == duplicate_key(key, inputs[i].name, originals[key]))
    if shards_to_encode is not None:
        shards_to_encode.update(in_shard[row[0]] for i in done for row in at[inputs[i].uri] if _unencoded(row))
    return np.setdiff1d(touched, np.asarray(sorted(done), touched.dtype)), len(done)


@dataclass
class _GoneByMoves:
    moved_out: set[str] = field(default_factory=set)  # uris gone whose samples all moved to another: not removed
    left_behind: set[str] = field(default_factory=set)  # uris moved into whose samples stay behind: their input left
    in_place: dict[str, str] = field(default_factory=dict)  # uri -> the key its input makes, current there beside others
    in_place_count: int = 0  # inputs left out because the catalog has their key at their uri already


def _renumbered_rows(leftovers: list[Leftover], changed: np.ndarray, plugin, cfg: CurateConfig, current_fn) -> list[Move]:
    """The unchanged rejected rows of a listing (a row naming a missing file, one with unnamed cells)
    that the catalog has at another row's uri: a row before them was deleted or added. Their key is
    their name's (preprocess.curate.leftover_candidate), their uri their position: deleting a row
    before a listing's last row, which named a missing file, marked that row's record `removed: no
    longer in the source` while the row was still there (its old uri, row=N, was no row any more),
    and nothing recorded it again; others were left naming the row before them."""
    from preprocess.curate import leftover_candidate

    if current_fn is None:
        return []
    skip = set(changed.tolist())
    key_of = {leftover_candidate(lo, plugin.modality.value, cfg.holdout_percent).record.key: lo.entry.uri
              for i, lo in enumerate(leftovers) if "#row=" in lo.entry.uri and i not in skip}
    if not key_of:
        return []
    return [Move(key, old, key_of[key]) for key, (old, _) in sorted(current_fn(sorted(key_of)).items()) if old != key_of[key]]


def _moved(touched: np.ndarray, inputs: list[RawInput], stage, plugin, cfg: CurateConfig, removed_uris: set[str],
           curated_shards_fn=None, shards_to_encode: set[str] | None = None,
           row_moves: list[Move] = ()) -> tuple[np.ndarray, list[Move], _GoneByMoves]:
    """``touched`` less the inputs whose one sample the catalog has under another uri of the source
    that no longer holds it: a uri gone from the source, or one whose input is to curate with
    other content. A datasets folder (or a listing's rejected row) names its inputs by position:
    deleting row 3 of 20 moved rows 4-19 each to the uri before, and the refresh curated all 16
    again as changed (decoded, analysed, written to a new shard and encoded), then marked the
    deleted row's sample superseded by the row that took its place. A renamed file was curated
    again as well. Now each such input is a Move (its sample's source_uri follows it, nothing is
    curated), the uris its samples left are not removed (``moved_out``), and a uri moved into
    whose own sample goes nowhere is removed (``left_behind``: the deleted row's sample).
    An input whose key the catalog has at a uri that still holds it is a copy, curated as before;
    of several inputs with one key, the first moves. An accepted sample neither encoded nor in a
    whole curated shard is curated again; one in such a shard has it added to ``shards_to_encode``.
    Also left out: an input whose key the catalog has at its own uri already, beside older samples
    there (a `lumina curate` after the row was deleted registered each row at its new uri; the
    refresh curated 15 of 19 rows again): ``in_place``, whose older samples are superseded by it as
    a curation would, when the source's last curation used this refresh's settings.
    Only inputs of one sample (a video cut into scenes is curated again, as before). The cost: each
    touched input's bytes are read once more for its key (the plan hashed them already), only when
    the catalog has samples at the uris concerned. ``row_moves`` (_renumbered_rows) are moves too:
    what they leave and what they move into is reckoned with the inputs'."""
    gone = _GoneByMoves()
    if (len(touched) + len(removed_uris) < 2 and not row_moves) or not hasattr(stage, "catalogued"):
        return touched, list(row_moves), gone  # a move takes two uris: the one it left and the one it is at
    uri_of = {i: inputs[i].uri for i in touched.tolist()}
    last, at = stage.catalogued([*uri_of.values(), *removed_uris, *(m.new_uri for m in row_moves)])
    if not at:
        return touched, list(row_moves), gone
    single = {rows[0][0]: uri for uri, rows in at.items() if len(rows) == 1}  # key -> the uri of its one sample
    in_shard = _curated_shards_of_unencoded(at, curated_shards_fn)
    same_curation = last is not None and _same_curation(last, cfg, plugin)
    desc = f"{plugin.modality.value}: look for inputs moved from another uri"
    key_now = {i: content_key(inputs[i], cfg, plugin) for i in _progress(uri_of, len(uri_of), desc)}
    holds_now = {uri_of[i]: key for i, key in key_now.items()}  # the content key each touched uri holds now
    at_input = {uri: i for i, uri in uri_of.items()}
    moves: dict[int, Move] = {}
    in_place: dict[int, str] = {}
    taken: set[str] = {m.key for m in row_moves}
    encodable = lambda row: not _unencoded(row) or row[0] in in_shard  # noqa: E731 - encoded, or in a whole shard
    for i, key in key_now.items():
        here = at.get(uri_of[i], [])
        if key is not None and same_curation and any(row[0] == key and encodable(row) for row in here):
            in_place[i] = key  # curated at its uri already (beside older samples, or touched with no change)
            continue
        old = single.get(key)
        if key is None or old is None or old == uri_of[i] or key in taken:
            continue
        if old not in removed_uris and holds_now.get(old, key) == key:
            continue  # its own input still holds it: this one is a copy
        if old in at_input and _was_its_copy(here, key, inputs[i].name, inputs[at_input[old]].name):
            continue  # a copy of an input edited since: curated again, as before (its edit is no move)
        if not encodable(at[old][0]):
            continue  # accepted, with nothing to encode it from: curated again
        moves[i] = Move(key, old, uri_of[i])
        taken.add(key)
    if shards_to_encode is not None:
        shards_to_encode.update(in_shard[row[0]] for uri in [*(m.old_uri for m in moves.values()), *(uri_of[i] for i in in_place)]
                                for row in at[uri] if row[0] in taken.union(in_place.values()) and _unencoded(row))
    gone.moved_out = {uri for uri in removed_uris if at.get(uri) and all(row[0] in taken for row in at[uri])}
    gone.moved_out |= {m.old_uri for m in row_moves if m.old_uri in removed_uris}  # a listing's row uri holds that row's record only
    gone.left_behind = {m.new_uri for m in [*moves.values(), *row_moves]
                        if any(row[0] not in taken for row in at.get(m.new_uri, []))}
    gone.in_place = {uri_of[i]: key for i, key in in_place.items()
                     if any(row[0] != key and row[0] not in taken for row in at[uri_of[i]])}
    gone.in_place_count = len(in_place)
    done = sorted([*moves, *in_place])
    return np.setdiff1d(touched, np.asarray(done, touched.dtype)), [*moves.values(), *row_moves], gone


def _was_its_copy(rows: list[tuple[str, str, bool]], key: str, name: str, original_name: str) -> bool:
    """Whether an input's current rows are its exact_duplicate row of content ``key`` as a copy of
    the input named ``original_name``: it held that content before, it did not move there."""
    return any(row[0] == duplicate_key(key, name, original_name) for row in rows)


def _after_moves(uris: set[str], moves: list[Move]) -> set[str]:
    """Sample uris read from the catalog before ``moves`` apply, where those samples' inputs are now:
    a moved sample's new uri; a uri moved into names another input now, so it is left out."""
    new_of = {m.old_uri: m.new_uri for m in moves}
    into = {m.new_uri for m in moves}
    return {new_of.get(uri, uri) for uri in uris if uri in new_of or uri not in into}


def _unencoded(row: tuple[str, str, bool]) -> bool:
    """Whether a current sample (key, status, encoded) is accepted and has no encoding."""
    _, status, encoded = row
    return status == "accepted" and not encoded


def _curated_shards_of_unencoded(at: dict[str, list[tuple[str, str, bool]]], curated_shards_fn) -> dict[str, str]:
    """key -> a whole curated shard holding it, of the accepted samples in ``at`` with no encoding (one
    call of ``curated_shards_fn``); {} without it."""
    keys = sorted({row[0] for rows in at.values() for row in rows if _unencoded(row)})
    return dict(curated_shards_fn(keys)) if keys and curated_shards_fn is not None else {}


_METAS_AT_ONCE = 4096  # inputs whose samples' metas are read in one query (held at once: bounded memory)


def _made_whole(several: dict[int, str | None], inputs: list[RawInput], at: dict[str, list[tuple[str, str, bool]]],
                stage, plugin) -> dict[int, str]:
    """Of the inputs with several current samples (position -> the content key their bytes and
    caption make now), those whose samples the modality made, all of them, of that key: the metas
    of their samples read from the catalog a few thousand inputs at a time."""
    todo = [(i, key) for i, key in several.items() if key is not None]
    made: dict[int, str] = {}
    for start in range(0, len(todo), _METAS_AT_ONCE):
        chunk = todo[start:start + _METAS_AT_ONCE]
        metas = stage.metas(row[0] for i, _ in chunk for row in at[inputs[i].uri])
        made.update((i, key) for i, key in chunk
                    if plugin.made_from(key, [(row[0], metas.get(row[0], {})) for row in at[inputs[i].uri]]))
    return made


def _stage_listing(stage, entries: list[Entry], inputs: list[RawInput], leftovers: list[Leftover],
                   desc: str = "hash new or changed files") -> int:
    """Stream the listing into the stage: every listed entry (and row caption) with its signature,
    what grouping made of them, the entries grouping added (an LJSpeech metadata line's caption),
    and the content hash of each entry the index cannot vouch for. Returns how many were hashed."""
    tar_mtimes: dict[str, int | None] = {}
    listed = stage.append("blobs", ((pos, e.name, e.uri, *_signature(e, tar_mtimes)) for pos, e in enumerate(_blobs(entries))))
    stage.append("members", ((ord_, e.name, owner) for ord_, (e, owner) in enumerate(_members(inputs, leftovers))))
    stage.append("inputs", ((i, item.name, item.uri) for i, item in enumerate(inputs)))
    stage.append("leftovers", ((i, lo.entry.name, lo.entry.uri) for i, lo in enumerate(leftovers)))
    made = [e for _, (e, _) in _at(_members(inputs, leftovers), stage.made_blobs())]
    stage.append("blobs", ((listed + k, e.name, e.uri, *_signature(e, tar_mtimes)) for k, e in enumerate(made)))
    to_hash = stage.positions_to_hash()
    hashing = _progress(_at(itertools.chain(_blobs(entries), made), to_hash), len(to_hash), desc)
    return stage.append("hashes", ((pos, content_hash(e)) for pos, e in hashing))


def _later_copies(cands: list[Candidate], catalogued: dict[str, str], names_of: Callable[[Iterable[str]], dict[str, str]],
                  leaving: set[str]) -> list[Candidate]:
    """mark_copies_of_catalogued within one source: a sample's file is still there when the source
    lists it now and this refresh does not retire it, and the copy is keyed by names in the source.
    ``names_of(uris)``: uri -> name of the inputs in the source now at those uris."""
    present = names_of(catalogued.values()) if catalogued else {}
    return mark_copies_of_catalogued(cands, catalogued, original_at=lambda uri: None if uri in leaving else present.get(uri),
                                     copy_at=lambda c: c.source.name if c.source else c.record.source_uri)


def _holding_other_content(cands: list[Candidate], catalogued: dict[str, str]) -> set[str]:
    """The uris of ``catalogued`` (key -> uri) that this curation reads again and that no longer
    make the key the catalog has there (an edited file): a copy of that key is no copy any more."""
    made: dict[str, set[str]] = defaultdict(set)
    for c in cands:
        if content_keyed(c):
            made[c.record.source_uri].add(c.record.key)
    return {uri for key, uri in catalogued.items() if uri in made and key not in made[uri]}


def curate_inputs(plan: RefreshPlan, home: str | os.PathLike | None, cfg: CurateConfig, backend: str = "ray",
                  current_of=None) -> IncrementalCuration:
    """curate() on a chosen subset: the same analysis, duplicate marking and shard writing, for
    the planned inputs only. New accepted samples go to new shards (named by their keys); shards
    of earlier runs are never opened. Near-duplicate search sees this refresh's inputs and the
    accepted samples of the catalog (not those this refresh retires).
    ``current_of(keys)``: key -> (source_uri, status) of the catalog's current samples (this modality)
    among ``keys``; with it, a copy of a sample whose file is still in the source is an exact_duplicate,
    and an accepted sample curated again from its own file (taken in by `lumina curate`, not encoded
    yet) keeps its place as earlier runs' kept samples do: it comes first among its near copies
    (Candidate.kept_before)."""
    plugin = get_plugin(cfg.modality)
    modality = plugin.modality.value
    opts = plugin.options(cfg.options)
    scoring = plugin.scoring_stage(opts)  # before any work, as curate() does: a wrong model path fails here
    ws = Workspace.at(home)
    out_dir = ws.curated(modality)
    out_dir.mkdir(parents=True, exist_ok=True)
    cands, journal = analyse_resumably(plugin, cfg, opts, ws, plan.source, plan.inputs, backend)
    keys = sorted({c.record.key for c in cands if content_keyed(c)})
    current = current_of(keys) if current_of is not None and keys else {}
    catalogued = {key: uri for key, (uri, _) in current.items()}
    edited = _holding_other_content(cands, catalogued)
    cands = mark_exact_duplicates(cands, catalogued)  # a twin whose file the sample comes from keeps it
    cands = _later_copies(cands, catalogued, plan.present_names, set(plan.removed_uris) | edited)
    cands = score_with_models(scoring, cands, backend)  # the CLIP scores, when a CLIP is configured
    # against this refresh's inputs and what earlier runs kept, but not what this refresh retires; a
    # sample the catalog accepted from this same file comes first among its near copies (before, a new
    # near copy named first rejected it), judged and signed as curate does (mark_kept_before)
    mark_kept_before(cands, current)
    plugin.near_duplicates(cands, opts, catalog=str(ws.catalog), leaving=frozenset(plan.removed_uris))
    cands, batch_paths, shard_uris, dropped = write_shards(cands, plan.leftovers, plugin, cfg, ws, out_dir, backend)
    if dropped:  # no rejections file for a refresh that rejected nothing; bounded files, as curate writes them
        batch_paths += write_rejections(out_dir, dropped)
    discard_journals_of_source(journal)  # every result is in the batch files now
    keys_by_uri: dict[str, list[str]] = defaultdict(list)
    superseders: dict[str, list[str]] = defaultdict(list)
    for c in sorted(cands, key=lambda c: not c.accepted):  # stable: an input's accepted samples first, in scene order
        keys_by_uri[c.record.source_uri].append(c.record.key)
        if not (c.record.reason or "").startswith("unsupported_type"):
            superseders[c.record.source_uri].append(c.record.key)
    return IncrementalCuration(batch_paths, shard_uris, {u: sorted(k) for u, k in keys_by_uri.items()},
                               dict(superseders),  # flows/refresh.py retires old samples "by" the first
                               dict(Counter(c.record.status for c in cands)),
                               dict(Counter((c.record.reason or "").split(":")[0] for c in dropped)))


def source_fingerprint(spec: SourceSpec) -> str:
    """A content fingerprint of a whole source: every entry's name and sha256. Equal fingerprints
    mean nothing was added, removed or changed (rewriting the same bytes, as the demo corpus
    writer does, is no change)."""
    spec.kind = spec.kind or detect_kind(spec.uri)
    h = hashlib.sha256(source_identity(spec).encode())
    for e in with_row_captions(list_entries(spec)):
        h.update(f"{e.name}\0{e.kind}\0{content_hash(e)}\n".encode())
    return h.hexdigest()
