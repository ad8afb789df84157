"""The source index, sample retirement and live manifests: the catalog side of incremental refresh.

Functions over a ``Catalog`` (one short transaction each):

* ``ListingStage`` / ``commit_listing``: what a source held at the last refresh (path, size,
  mtime, content hash, first and last seen) copied into a scratch DuckDB file beside the listing
  now, which entries are new, changed or gone found there in SQL (a source of tens of millions of
  entries is not held in Python several times over), and the new listing recorded in the index
  (gone entries marked ``removed`` with the time).
* ``samples_gone_from_source``: samples of the source whose input is gone, whether or not a
  refresh ever listed it (what `lumina curate` took in before the first refresh).
* ``retire`` / ``revive``: a sample whose input left the source becomes ``removed``, one replaced
  by a changed input ``superseded``; never deleted, each change recorded in sample_status_changes.
* ``declare_live_manifest`` / ``update_live_manifests`` / ``consume_due_training``: a live
  manifest is a stored selection; each refresh re-freezes it, which makes a new version only when
  its selection changed (Catalog.create_manifest), and consumes a due training only after
  announcing it. Frozen manifests are never touched.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import duckdb
import numpy as np
import pyarrow as pa

from .db import Catalog, _transaction, utcnow
from .sqlfiles import q

RETIRED = ("removed", "superseded")


@dataclass(frozen=True)
class Retirement:
    key: str
    status: str  # removed | superseded
    reason: str  # "<status>: detail"
    superseded_by: str | None = None


@dataclass
class LiveManifest:
    name: str
    where: str
    description: str = ""
    train_min_growth: int | None = None  # None: never makes training due
    train_options: dict[str, Any] = field(default_factory=dict)
    trained_version: int | None = None  # the version at which training was last due
    encoders: list[str] | None = None  # fingerprints of the encoders its members' encodings come from; None: any one per kind


@dataclass(frozen=True)
class ManifestUpdate:
    """A live manifest that got a new version in this refresh, or (``again``) whose latest version
    is due and not yet consumed (update_live_manifests)."""

    name: str
    version: int
    previous_version: int | None
    num_members: int
    previous_members: int
    added_since_training: int  # members this version has that the version of the last due training lacked
    train_due: bool
    train_options: dict[str, Any]
    again: bool = False  # no new version: the latest one, due and not consumed, announced again

    @property
    def id(self) -> str:
        return f"{self.name}@v{self.version}"


class ListingStage:
    """A refresh's listing, staged in a scratch DuckDB file (``folder``, never the catalog) and
    diffed against the source index in SQL (queries/listing_stage.sql): the source's entries
    stream in as Arrow batches, so tens of millions of them are held in Python once (as the
    source's entries), not as the several dicts and lists of rows a refresh kept before. DuckDB
    keeps to ``memory_limit`` and spills into the folder beyond it. preprocess/refresh.py's
    plan_refresh fills it and asks it what to curate."""

    SCHEMAS = {
        "blobs": pa.schema([("pos", pa.int64()), ("name", pa.string()), ("uri", pa.string()), ("size", pa.int64()),
                            ("mtime_ns", pa.int64())]),
        "members": pa.schema([("ord", pa.int64()), ("name", pa.string()), ("input_name", pa.string())]),
        "inputs": pa.schema([("idx", pa.int64()), ("name", pa.string()), ("uri", pa.string())]),
        "leftovers": pa.schema([("idx", pa.int64()), ("name", pa.string()), ("uri", pa.string())]),
        "hashes": pa.schema([("pos", pa.int64()), ("content_hash", pa.string())]),
    }
    BATCH_ROWS = 65_536

    def __init__(self, folder: str | os.PathLike, memory_limit: str = "256MB") -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        # insertion order is kept where a query asks for it (ORDER BY); without it DuckDB needs less memory
        config = {"memory_limit": memory_limit, "temp_directory": str(self.folder / "spill"), "preserve_insertion_order": False}
        self._con = duckdb.connect(str(self.folder / "stage.duckdb"), config=config)
        self._catalog: tuple[Catalog, str, str] | None = None  # load_index's: what catalogued() asks
        try:
            self._con.execute(q("stage_schema"))
        except BaseException:  # no __exit__ will close it
            self._con.close()
            raise

    def __enter__(self) -> "ListingStage":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    def load_index(self, cat: Catalog, source: str, modality: str) -> None:
        """Copy the source's index rows in from the catalog (streamed, a batch at a time)."""
        with cat._connection() as con:
            reader = con.sql(q("index_rows_of_source"), params=[source, modality]).to_arrow_reader(self.BATCH_ROWS)
            self._insert("idx", reader)
        self._con.execute(q("stage_known"))
        self._catalog = (cat, source, modality)

    def unindexed_inputs(self) -> np.ndarray:
        """Positions of the inputs none of whose entries the index has listed (sorted)."""
        return self._ints("stage_unindexed_inputs")

    def catalogued(self, uris: Iterable[str]) -> tuple[dict[str, Any] | None, dict[str, list[tuple[str, str, bool]]]]:
        """What the catalog (load_index's) says of inputs the index never listed, in one short
        connection: the runs.parameters of the source's last curation (None: none), and uri ->
        [(key, status, encoded)] of the current samples at ``uris``. ({None}, {}) without load_index."""
        if self._catalog is None:
            return None, {}
        cat, source, modality = self._catalog
        wanted = pa.table({"uri": pa.array(sorted(set(uris)), pa.string())})
        with cat._connection() as con:
            rows = con.execute(q("last_curation_of_source"), [source, modality]).fetchall()
            con.register("wanted", wanted)
            try:
                found = con.execute(q("current_samples_at_uris"), [modality]).fetchall()
            finally:
                con.unregister("wanted")
        at: dict[str, list[tuple[str, str, bool]]] = {}
        for uri, key, status, encoded in found:
            at.setdefault(uri, []).append((key, status, bool(encoded)))
        return (json.loads(rows[0][0]) if rows else None), at

    def metas(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """key -> meta of the catalog's (load_index's) samples among ``keys``: what a modality reads to
        tell whether an input's several samples are all it makes of the input. {} without load_index."""
        keys = sorted(set(keys))
        if self._catalog is None or not keys:
            return {}
        _, rows = self._catalog[0].sql(q("stored_meta_of_keys"), [keys, "$"])
        return {key: json.loads(meta) for key, meta in rows}

    def set_aside(self, prefixes: Sequence[str]) -> int:
        """Leave the index rows whose names start with one of ``prefixes`` (the folders a listing
        could not read, ``name/``) out of the diff: neither gone nor seen, their index rows stay as
        they are in the catalog. Returns how many present rows were set aside."""
        if not prefixes:
            return 0
        present = self._con.execute(q("stage_aside_count"), [list(prefixes)]).fetchall()[0][0]
        self._con.execute(q("stage_set_aside"), [list(prefixes)])
        return present

    def append(self, table: str, rows: Iterable[tuple]) -> int:
        """Stream rows (tuples in the table's column order, see SCHEMAS) in; returns how many."""
        schema, count = self.SCHEMAS[table], 0
        it = iter(rows)
        while chunk := list(itertools.islice(it, self.BATCH_ROWS)):
            columns = [pa.array(col, f.type) for col, f in zip(zip(*chunk), schema)]
            self._insert(table, pa.RecordBatch.from_arrays(columns, schema=schema))
            count += len(chunk)
        return count

    def _insert(self, table: str, data: Any) -> None:
        self._con.register("incoming", data)
        try:
            self._con.execute(f"INSERT INTO {table} SELECT * FROM incoming")  # table: one of ours, never user text
        finally:
            self._con.unregister("incoming")

    def _ints(self, query: str, params: Sequence[Any] = ()) -> np.ndarray:
        """A query's one integer column as a numpy array (a list of Python ints is 4x the memory)."""
        table = self._con.sql(q(query), params=list(params)).to_arrow_table()
        return table.column(0).to_numpy() if table.num_rows else np.zeros(0, np.int64)

    def made_blobs(self) -> np.ndarray:
        """ords of the members that are no listed entry (the first of each name)."""
        return self._ints("stage_made_blobs")

    def positions_to_hash(self) -> np.ndarray:
        """Positions of the blobs whose bytes must be hashed (new, or their size or mtime moved)."""
        return self._ints("stage_to_hash")

    def finish(self) -> dict[str, int]:
        """Build the listing and its diff (once the hashes are in); returns changed_entries,
        removed_entries, removed_inputs (inputs and leftovers gone) and indexed_entries (present in
        the index before)."""
        self._con.execute(q("stage_finish"))
        names = ("changed_entries", "removed_entries", "removed_inputs", "indexed_entries")
        return dict(zip(names, self._con.execute(q("stage_counts")).fetchall()[0]))

    def touched_inputs(self) -> np.ndarray:
        """Positions of the inputs to curate again (sorted)."""
        twins = self._con.execute(q("stage_gone_inputs_left")).fetchall()[0][0]
        return self._ints("stage_touched_inputs", [twins])

    def changed_leftovers(self) -> np.ndarray:
        return self._ints("stage_changed_leftovers")

    def removed_uris(self) -> list[str]:
        """Origins of the inputs and leftovers gone (their index entries gone with them)."""
        return [r[0] for r in self._con.execute(q("stage_removed_uris")).fetchall()]

    def names_of(self, uris: Iterable[str]) -> dict[str, str]:
        """uri -> name of the input (or leftover) there now, for those of ``uris`` in the source."""
        # a registered Arrow column, not a list parameter: DuckDB copies a list of 1M uris several times
        self._con.register("wanted_uris", pa.table({"uri": pa.array(list(uris), pa.string())}))
        try:
            return dict(self._con.execute(q("stage_names_of")).fetchall())
        finally:
            self._con.unregister("wanted_uris")

    def listed(self, uris: Iterable[str]) -> tuple[set[str], int]:
        """Those of ``uris`` that the source lists now (as an entry, input or leftover), and how many
        inputs (and leftovers) gone by name have every gone entry among them (moved, not gone)."""
        self._con.register("wanted_uris", pa.table({"uri": pa.array(list(uris), pa.string())}))
        try:
            listed = {r[0] for r in self._con.execute(q("stage_listed_uris")).fetchall()}
            self._con.unregister("wanted_uris")
            self._con.register("wanted_uris", pa.table({"uri": pa.array(sorted(listed), pa.string())}))
            return listed, self._con.execute(q("stage_moved_inputs")).fetchall()[0][0]
        finally:
            self._con.unregister("wanted_uris")

    def samples_gone(self, samples: Any) -> list[str]:
        """The origins among ``samples`` (Arrow batches of the source's samples' source_uri, from
        the catalog) that are not in the source now, sorted."""
        self._con.execute("DELETE FROM source_samples")
        self._insert("source_samples", samples)
        return [r[0] for r in self._con.execute(q("stage_samples_gone")).fetchall()]

    def rows(self, query: str) -> pa.RecordBatchReader:
        """A stage query's rows as a stream of Arrow batches (read it to its end before the next query)."""
        return self._con.sql(q(query)).to_arrow_reader(self.BATCH_ROWS)


def samples_gone_from_source(cat: Catalog, source: str, modality: str, prefixes: Sequence[str], patterns: Sequence[str],
                             present_uris: Iterable[str] | ListingStage) -> list[str]:
    """source_uri of the source's samples (not retired) whose input is gone: the index only knows
    what refreshes listed, so without this a file curated by `lumina curate` and deleted before the
    first refresh stayed accepted forever. A sample is the source's when its origin starts with one
    of ``prefixes``, fully matches one of the regular expressions ``patterns``, or a curate,
    refresh or data_to_model run recorded with this source registered it last. The source's
    samples stream out of the catalog; ``present_uris``: the uris in the source now, or a
    ListingStage (a refresh's: the anti-join against its listing is SQL there, in its bounded
    memory, and no Python list of either side is made)."""
    params = [source, modality, list(prefixes), list(patterns)]
    with cat._connection() as con:
        samples = con.sql(q("samples_of_source"), params=params).to_arrow_reader(ListingStage.BATCH_ROWS)
        if isinstance(present_uris, ListingStage):
            return present_uris.samples_gone(samples)
        return _not_among(samples, present_uris)


def _not_among(batches: Iterable[pa.RecordBatch], uris: Iterable[str]) -> list[str]:
    """The distinct values of the batches' one column that are not among ``uris``, sorted."""
    import pyarrow.compute as pc

    present = pa.array(sorted(set(uris)), pa.string())
    gone: set[str] = set()
    for batch in batches:
        column = batch.column(0)
        gone.update(column.filter(pc.invert(pc.is_in(column, value_set=present))).to_pylist())
    return sorted(gone)


def commit_listing(cat: Catalog, source: str, modality: str, stage: ListingStage, run_id: str | None) -> None:
    """Record the staged listing (its stage_finish done) in the index, in one transaction: gone
    entries marked removed (with the time), changed ones updated, the rest seen now, new ones added.
    Only what changed is sent to the catalog (and joined there), so a refresh that changed little
    writes little, however large the source."""
    cat._writable()
    params = [source, modality, utcnow(), run_id]
    with cat._connection() as con, _transaction(con):
        for view, rows, statement in (("gone", "stage_index_gone", "index_mark_removed"),
                                      ("listing", "stage_index_updates", "index_update_known"),
                                      ("new_entries", "stage_index_new", "index_insert_new")):
            with stage.rows(rows) as reader:
                con.register(view, reader)
                try:
                    con.execute(q(statement), params)
                finally:
                    con.unregister(view)
        con.execute(q("index_mark_seen"), params[:3])


def index_entries(cat: Catalog, source: str, modality: str) -> tuple[list[str], list[tuple]]:
    return cat.sql(q("index_entries"), [source, modality])


def current_samples_of(cat: Catalog, uris: Sequence[str], modality: str) -> list[tuple[str, str, str | None, str]]:
    """(key, status, reason, source_uri) of the samples of ``modality`` not yet retired whose input is one of uris."""
    if not uris:
        return []
    with cat._connection() as con:
        con.register("wanted", pa.table({"uri": pa.array(uris, pa.string())}))
        try:
            return con.execute(q("current_samples_of_uris"), [modality]).fetchall()
        finally:
            con.unregister("wanted")


def near_copies_of(cat: Catalog, modality: str, uris: Sequence[str]) -> list[str]:
    """source_uri of the rejected near duplicates (meta near_duplicate_of, of any modality) of the current samples of inputs
    `uris`: when those inputs leave, the near copies are curated again instead of staying rejected
    against a removed sample."""
    if not uris:
        return []
    return [r[0] for r in cat.sql(q("near_copies_of"), [modality, list(uris)])[1]]


def current_keys_among(cat: Catalog, keys: Sequence[str], modality: str) -> dict[str, str]:
    """key -> source_uri of the current samples (accepted, rejected or quarantined: not retired) among
    keys. Before, rejected ones were left out, so a copy of a rejected file curated later took the
    sample's key and with it its row: the original file was left with none."""
    return {key: uri for key, (uri, _) in current_samples_among(cat, keys, modality).items()}


def current_samples_among(cat: Catalog, keys: Sequence[str], modality: str) -> dict[str, tuple[str, str]]:
    """key -> (source_uri, status) of the current samples among keys, as current_keys_among finds them."""
    if not keys:
        return {}
    return {key: (uri, status) for key, uri, status in cat.sql(q("current_keys_among"), [list(keys), modality])[1]}


def last_curation_of_source(cat: Catalog, source: str, modality: str) -> dict[str, Any] | None:
    """runs.parameters of the latest completed curate or refresh run of ``source`` (``modality``)."""
    rows = cat.sql(q("last_curation_of_source"), [source, modality])[1]
    return json.loads(rows[0][0]) if rows else None


def wrongly_superseded(cat: Catalog, modality: str) -> list[str]:
    """Samples of ``modality`` superseded by another modality's record or an unsupported_type
    rejection: damage a wrong-modality refresh did before refreshes kept to their modality."""
    return [r[0] for r in cat.sql(q("wrongly_superseded"), [modality])[1]]


def retire(cat: Catalog, retirements: Sequence[Retirement], run_id: str) -> int:
    """Mark samples removed or superseded (recording the change); returns how many changed."""
    cat._writable()
    if not retirements:
        return 0
    for r in retirements:
        if r.status not in RETIRED:
            raise ValueError(f"retire: status must be one of {RETIRED}, not {r.status!r}")
    last = {r.key: r for r in retirements}  # a key given twice: its last retirement
    _change_statuses(cat, [(r.key, r.status, r.reason, r.reason, r.superseded_by) for r in last.values()], run_id)
    return len(retirements)


def revive(cat: Catalog, keys: Sequence[str], run_id: str) -> list[str]:
    """Samples a refresh curated again (a file back in the source) get the status they had before
    their retirement; registration alone may skip them (a batch registered before is a no-op)."""
    cat._writable()
    if not keys:
        return []
    rows = cat.sql(q("statuses_before_retirement"), [list(keys)])[1]
    _change_statuses(cat, [(key, status, reason, reason or f"{status}: back in the source", None) for key, status, reason in rows],
                     run_id)
    return [key for key, _, _ in rows]


def _change_statuses(cat: Catalog, changes: list[tuple[str, str, str | None, str | None, str | None]], run_id: str) -> None:
    """(key, status, reason, the change's reason, superseded_by) each: recorded in
    sample_status_changes and set on the samples, in one transaction of two set-based statements."""
    if not changes:
        return
    cols = list(zip(*changes))
    table = pa.table({name: pa.array(col, pa.string()) for name, col in
                      zip(("key", "status", "reason", "change_reason", "superseded_by"), cols)})
    now = utcnow()
    with cat._connection() as con, _transaction(con):
        con.register("changes", table)
        try:
            con.execute(q("record_status_changes"), [now, run_id])
            con.execute(q("set_sample_statuses"), [run_id])
        finally:
            con.unregister("changes")


def follow_moves(cat: Catalog, moves: Sequence[tuple[str, str, str]], run_id: str) -> int:
    """(key, old uri, new uri) each: the moved sample's source_uri is its input's new uri, in one
    transaction, what registering the input curated again did, without the curation. Each move is
    recorded in sample_status_changes with its status unchanged and the reason `moved: from OLD_URI`,
    so `lumina catalog why` of the sample says where it was (a datasets row's uri is its position:
    row 4 is row 3 once a row before it is deleted). Returns how many moved."""
    cat._writable()
    if not moves:
        return 0
    cols = list(zip(*moves))
    table = pa.table({name: pa.array(col, pa.string()) for name, col in zip(("key", "old_uri", "new_uri"), cols)})
    with cat._connection() as con, _transaction(con):
        con.register("moves", table)
        try:
            moved = con.execute(q("record_moves"), [utcnow(), run_id]).fetchone()[0]
            con.execute(q("set_moved_uris"), [run_id])
        finally:
            con.unregister("moves")
    return moved


def exact_copies_of(cat: Catalog, modality: str, uris: Iterable[str]) -> list[str]:
    """source_uri of the exact copies (rejected as exact_duplicate) of the current samples of inputs
    ``uris``: a refresh curates them again with those inputs, as near copies (near_copies_of), so a
    copy holds the picture when its original's input leaves (a datasets row moved out of its place)
    or is edited (the copy was left rejected as a duplicate of a superseded sample)."""
    uris = list(uris)
    if not uris:
        return []
    return [r[0] for r in cat.sql(q("exact_copies_of"), [modality, uris])[1]]


def declare_live_manifest(cat: Catalog, m: LiveManifest) -> None:
    """Store (or change) a live manifest's selection and training rule; the predicate is checked.
    Declared again without a training rule (train_min_growth None, no train_options), it keeps the
    one it had: `--live NAME=...` alone reset it, so growth never made training due again. A
    changed selection is said on stderr."""
    cat._writable()
    with cat.hold():  # one connection for its few statements (each opening is a DuckDB instance: ~40 ms)
        _declare_live_manifest(cat, m)


def _declare_live_manifest(cat: Catalog, m: LiveManifest) -> None:
    import logging

    cat.count_matching(m.where)  # raises ValueError on a bad predicate
    old = next((x for x in live_manifests(cat) if x.name == m.name), None)
    if old is not None:
        if m.train_min_growth is None and not m.train_options:
            m = LiveManifest(m.name, m.where, m.description, old.train_min_growth, old.train_options, encoders=m.encoders)
        if m.encoders is None and old.encoders is not None:  # declared again without a pin: it keeps its own
            m = LiveManifest(m.name, m.where, m.description, m.train_min_growth, m.train_options, encoders=old.encoders)
        if old.where != m.where:
            logging.getLogger(__name__).warning("live manifest %s: its selection changes from %r to %r; its next version "
                                                "follows the new one", m.name, old.where, m.where)
    else:
        _warn_if_frozen_with_another_selection(cat, m)
    con_args = [m.name, m.where, m.description, m.train_min_growth, json.dumps(m.train_options, sort_keys=True), utcnow(),
                json.dumps(sorted(m.encoders)) if m.encoders else None]  # [] given: the pin is lifted
    with cat._connection() as con:
        con.execute(q("upsert_live_manifest"), con_args)


def _warn_if_frozen_with_another_selection(cat: Catalog, m: LiveManifest) -> None:
    """A name first declared live that `manifest create` already froze with another selection: its
    next version follows the live one, and `lumina train --manifest NAME` switches data without a word."""
    import logging

    from catalog.errors import CatalogError
    from catalog.sandbox import canonical_predicate

    try:
        head = cat.manifest_header(m.name)
    except (CatalogError, LookupError):
        return  # a new name
    if canonical_predicate(head.where) != canonical_predicate(m.where):
        logging.getLogger(__name__).warning(
            "manifest %s (latest %s) was frozen with the selection %r; declared live, its next version follows %r "
            "instead (a live name takes only its own selection: give the live manifest another name to keep both)",
            m.name, head.id, head.where, m.where)


def live_manifests(cat: Catalog) -> list[LiveManifest]:
    _, rows = cat.sql(q("live_manifest_rows"))
    return [LiveManifest(name, where, desc, growth, json.loads(opts or "{}"), trained,
                         None if encoders is None else json.loads(encoders))
            for name, where, desc, growth, opts, trained, encoders in rows]


def update_live_manifests(cat: Catalog, consume_due: bool = True) -> list[ManifestUpdate]:
    """Re-freeze every live manifest; returns those that got a new version, and those whose latest
    version is due and not yet consumed (``again``: see below).

    Training is due when a version holds at least train_min_growth members that the baseline
    version lacked; the baseline is the version at which training was last due, first the version
    current when the manifest was declared live (a first version is only the starting point), so
    each growth step makes training due once.

    A due training is consumed (the baseline moved to its version) only by consume_due_training,
    which the caller runs once it has announced the update (the transactional-outbox rule): a
    refresh killed between the two leaves it due, and the next refresh returns it ``again`` (no new
    version, the latest one due, no training run of it in the catalog) to announce and consume.
    That is at least once, never lost: a kill after the announcement and before the consume
    announces it a second time (a second `train` run of the same version; a duplicate trigger is
    preferred to a lost one). A due version that a training run (not failed) already took is
    consumed here when ``consume_due``, without being returned. ``consume_due=False`` (`lumina
    refresh`, which emits no event that would start training) reports a due version, again on
    every refresh until it is consumed, and never moves the baseline: the growth stays due until a
    refresh that announces it (the Prefect flow) consumes it."""
    with cat.hold():  # one connection for all its statements (each opening is a DuckDB instance: ~40 ms)
        return _update_live_manifests(cat, consume_due)


def consume_due_training(cat: Catalog, update: ManifestUpdate) -> None:
    """Its version's growth is consumed: the next due training counts from it. Run after the update
    was announced (update_live_manifests); a later version already consumed stays."""
    if update.train_due:
        with cat._connection() as con:
            con.execute(q("consume_trained_version"), [update.name, update.version, utcnow()])


def _update_live_manifests(cat: Catalog, consume_due: bool) -> list[ManifestUpdate]:
    import logging

    from .db import ManifestNotFoundError, MixedEncodersError

    updates = []
    for live in live_manifests(cat):
        try:
            before = cat.manifest_header(live.name)
        except ManifestNotFoundError:
            before = None
        try:
            after = cat.freeze_manifest(live.name, live.where, encoders=live.encoders,
                                        description=live.description or "live selection")
        except MixedEncodersError as e:  # it would never grow again without a word (new shards of a new encoder)
            logging.getLogger(__name__).warning(
                "live manifest %s gets no new version: %s. Pin its encoders (lumina refresh ... --live %s=WHERE "
                "--live-encoder FINGERPRINT, or live_manifests.%s.encoders in the deployment) or narrow its selection to "
                "samples of one encoder per kind", live.name, str(e).split("; latents")[0], live.name, live.name)
            continue
        except ValueError:  # nothing selected yet: no version; the next refresh retries
            continue
        if before is not None and after.version == before.version:
            if (pending := _still_due(cat, live, after, consume_due)) is not None:
                updates.append(pending)
            continue
        baseline = live.trained_version if live.trained_version is not None else (before.version if before else after.version)
        _, rows = cat.sql(q("manifest_added_members"), [live.name, after.version, baseline])
        added = rows[0][0]
        due = live.train_min_growth is not None and after.version != baseline and added >= live.train_min_growth
        if live.trained_version is None:  # the starting point, not a consumed training
            with cat._connection() as con:
                con.execute(q("set_trained_version"), [live.name, baseline, utcnow()])
        updates.append(ManifestUpdate(live.name, after.version, before.version if before else None, after.num_members,
                                      before.num_members if before else 0, added, due, live.train_options))
    return updates


def _still_due(cat: Catalog, live: LiveManifest, head, consume_due: bool) -> ManifestUpdate | None:
    """The latest version of a live manifest that got no new version, when it is due and not
    consumed (a refresh killed before it consumed it, or `lumina refresh`): the update its first
    announcement carried, ``again``. None when it is not due, or a training run took it (then
    consumed now, when ``consume_due``)."""
    if live.train_min_growth is None or live.trained_version is None or live.trained_version >= head.version:
        return None
    _, rows = cat.sql(q("manifest_added_members"), [live.name, head.version, live.trained_version])
    if rows[0][0] < live.train_min_growth:
        return None
    _, trained = cat.sql(q("train_runs_of_manifest_version"), [live.name, head.version])
    if trained[0][0]:
        if consume_due:
            with cat._connection() as con:
                con.execute(q("consume_trained_version"), [live.name, head.version, utcnow()])
        return None
    _, prev = cat.sql(q("manifest_version_before"), [live.name, head.version])
    previous, previous_members = prev[0] if prev else (None, 0)
    return ManifestUpdate(live.name, head.version, previous, head.num_members, previous_members, rows[0][0], True,
                          live.train_options, again=True)
