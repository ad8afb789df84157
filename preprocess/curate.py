"""Curation for any modality: source -> entries -> inputs -> candidates -> curated shards.

Generic steps live here (reading captions, content keys, exact duplicates, quarantine, shard and
batch writing, accounting for every entry); the modality's plugin decodes, validates, scores and
normalises. Every entry of the source ends as exactly one ``SampleRecord``: accepted, rejected
(filter, score, threshold) or quarantined (error; the file copied to the quarantine folder).
Reasons start with a kind before the first colon and never contain run-specific text, so
re-running gives the same rows.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import shutil
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from contracts.hold_points import hold_point
from contracts.keys import sample_key, split_of
from contracts.layout import Workspace
from contracts.members import CAPTION, META
from contracts.records import Batch, SampleRecord, VerdictRecord
from contracts.shards import shard_damage, write_tar
from preprocess.analysis_journal import AnalysisJournal, chunk_signature
from preprocess.modality import Candidate, ModalityPlugin, error_reason, get_plugin, keep_own_size_when_rejected
from preprocess.packed_verdicts import pack_verdicts
from preprocess.runner import Compact, chunks, run_stage
from preprocess.sources import Entry, Leftover, RawInput, SourceSpec, caption_key_part, list_entries, read_caption
from preprocess.stage import Stage

FILTER_VERSION = "1"
log = logging.getLogger(__name__)
# RawInput.meta: the digest of the media bytes the analysis read (its key hashes them with the
# caption); the shard writer reads the files again and writes them only if they still hash to it
CONTENT_DIGEST = "content_digest"
CHANGED = "changed_during_curation"  # reason kinds of accepted inputs the shard writer had to leave out
VANISHED = "vanished_during_curation"
SET_ASIDE = (CHANGED, VANISHED)


@dataclass
class CurateConfig:
    modality: str = "image"  # the kind of media the source holds
    shard_size: int = 512  # accepted samples per curated shard
    holdout_percent: int = 20  # the holdout split is a fixed function of the key
    chunk_size: int = 64  # inputs per analysis task
    caption_key: str = "caption"  # key of a .json caption beside the media
    path_column: str = "path"  # listings
    caption_column: str = "caption"  # listings and datasets
    media_column: str | None = None  # datasets: the media column; default: the first one that is not caption_column
    follow_symlinks: bool = False  # follow symbolic links in a source folder (off: never leave its root)
    max_caption_bytes: int = 16 * 1024  # larger caption files are rejected
    max_media_bytes: int = 2 * 1024**3  # larger media files are rejected unread (every file is read whole to hash it)
    options: dict[str, Any] = field(default_factory=dict)  # the modality's own options (see its plugin)


@dataclass
class CurateResult:
    modality: str
    batch_paths: list[str]  # every batch file written (curated shards + the rejections batch)
    shard_uris: list[str]
    counts: dict[str, int] = field(default_factory=dict)  # status -> number of inputs
    reasons: dict[str, int] = field(default_factory=dict)  # reason kind -> number of inputs


def _record(key: str, modality: str, uri: str, status: str, reason: str | None, caption: str | None, holdout: int, **kw) -> SampleRecord:
    return SampleRecord(key=key, modality=modality, source_uri=uri, status=status, reason=reason, caption=caption, split=split_of(key, holdout), **kw)


def quarantine(item: RawInput, key: str, reason: str, qdir: str | None) -> None:
    """Copy the input's own regular files (never what a link points at) and the error to qdir/key."""
    if qdir is None:
        return
    dest = Path(qdir) / key
    dest.mkdir(parents=True, exist_ok=True)
    files = [e for e in item.entries if e.kind == "file" and e.loc and e.loc[0] == "file" and not os.path.islink(e.uri)]
    for e, name in zip(files, _names_in_quarantine([e.name for e in files])):
        try:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(e.loc[1], dest / name, follow_symlinks=False)
        except OSError:
            pass
    (dest / "error.txt").write_text(reason + "\n")


def _names_in_quarantine(names: list[str]) -> list[str]:
    """The input's files by their paths below the folder they share: a multi-view object's views in
    subfolders keep them (cam0/000.png, cam1/000.png were all copied as 000.png, each over the last)."""
    folders = [n.rpartition("/")[0] for n in names]
    common = os.path.commonpath(folders) if folders and all(folders) else ""
    out = []
    for n in names:
        rel = n[len(common):].lstrip("/") if common else n
        out.append(rel if rel and ".." not in rel.split("/") else n.rsplit("/", 1)[-1])
    return out


def held_in_memory(item: RawInput) -> RawInput:
    """The input with its media entries read once, into memory: what is hashed, analysed or written
    is one set of bytes, whatever happens to the files meanwhile. OSError if one cannot be read."""
    return replace(item, media={k: replace(e, loc=("bytes", e.read())) for k, e in item.media.items()})


class AnalyseStage(Stage[RawInput, Candidate]):
    """Per input: read and check the caption, hash the content, let the modality decode and score."""

    name = "analyse"
    execution = "tasks"

    def __init__(self, plugin: ModalityPlugin, cfg: CurateConfig, quarantine_dir: str | None,
                 journal: AnalysisJournal | None = None):
        self.plugin, self.cfg, self.quarantine_dir, self.journal = plugin, cfg, quarantine_dir, journal
        self.modality = plugin.modality.value
        self.batch_size = cfg.chunk_size
        self.opts = plugin.options(cfg.options)

    def process(self, batch: list[RawInput]) -> list[Candidate]:
        key = chunk_signature(batch) if self.journal is not None else None  # before reading: a file changed meanwhile misses next time
        if key is not None:
            done = self.journal.load(key, len(batch))
            if done is not None:
                self._requarantine(done)
                return done
        out = [self._safe(item) for item in batch]
        if key is not None:  # pickled by fields: pickled as they are, every record would get (and keep) a __dict__
            self.journal.save(key, [Compact(part) for part in out])
        return out

    def adopt(self, batch: list[RawInput], results: list) -> list:
        """A Ray task's candidates each came back with a copy of its input (its entries, names and paths):
        the driver, which holds the input itself, keeps its own objects in their place wherever they are
        equal (a candidate's input differs from it by its meta alone), and the record's source_uri as the
        input's uri: ~1 KB an input less in the driver, which holds every candidate to the end. Their
        verdicts are packed as they come, with Ray or without: the analysis's peak too."""
        if len(batch) != len(results):
            pack_verdicts(c for part in results for c in (part if isinstance(part, list) else [part]))
            return results
        for item, part in zip(batch, results):
            for c in part if isinstance(part, list) else [part]:
                src = c.source
                if src is not None and src is not item and src.media is not item.media:  # not already the driver's (local)
                    if src == item:
                        c.source = item
                    elif src.name == item.name and src.uri == item.uri and src.media == item.media and src.caption == item.caption:
                        c.source = replace(item, meta=src.meta)
                if c.record.source_uri == item.uri:
                    c.record.source_uri = item.uri
            pack_verdicts(part if isinstance(part, list) else [part])
        return results

    def _requarantine(self, results: list) -> None:
        """A resumed chunk's quarantined inputs are in the quarantine folder again if it was emptied."""
        if self.quarantine_dir is None:
            return
        for part in results:
            for c in part if isinstance(part, list) else [part]:
                if c.record.status == "quarantined" and c.source and not (Path(self.quarantine_dir) / c.record.key).exists():
                    quarantine(c.source, c.record.key, c.record.reason or "", self.quarantine_dir)

    def _safe(self, item: RawInput) -> list[Candidate] | Candidate:
        try:
            return self._analyse(item)
        except Exception as e:  # noqa: BLE001 - the run goes on; the error is kept in the reason
            key = sample_key("analysis-error", self.modality, item.name)
            reason = error_reason("analysis_error", e)
            quarantine(item, key, reason, self.quarantine_dir)
            return [Candidate(_record(key, self.modality, item.uri, "quarantined", reason, None, self.cfg.holdout_percent), source=item)]

    def _analyse(self, item: RawInput) -> list[Candidate]:
        largest = max((e.size for e in item.media.values()), default=0)
        if largest > self.cfg.max_media_bytes:  # judged by the listed size, never read
            key = sample_key("too-large", self.modality, item.name, str(largest))
            v = VerdictRecord(key, "media_size", FILTER_VERSION, float(largest), float(self.cfg.max_media_bytes), False)
            reason = f"file_too_large: {largest} bytes vs limit {self.cfg.max_media_bytes}"
            return [Candidate(_record(key, self.modality, item.uri, "rejected", reason, None, self.cfg.holdout_percent), [v], item)]
        caption, error = read_caption(item.caption, self.cfg.caption_key, self.cfg.max_caption_bytes)
        try:
            held = held_in_memory(item)  # the plugin decodes the bytes the key hashes, not the file read again
            parts = self.plugin.content_parts(held)
        except OSError as e:
            key = sample_key("unreadable", self.modality, item.name)
            reason = f"unreadable: {type(e).__name__}: {e.strerror or e}"
            quarantine(item, key, reason, self.quarantine_dir)
            return [Candidate(_record(key, self.modality, item.uri, "quarantined", reason, None, self.cfg.holdout_percent), source=item)]
        key = sample_key(*parts, caption_key_part(caption, error))
        item = replace(item, meta={**item.meta, CONTENT_DIGEST: sample_key(*parts)})
        if error is not None:
            kind = error.split(":")[0]
            if kind == "caption_too_long":  # a filter decision, with the length as its score
                v = VerdictRecord(key, "caption_length", FILTER_VERSION, float(item.caption.size), float(self.cfg.max_caption_bytes), False)
                return [Candidate(_record(key, self.modality, item.uri, "rejected", error, None, self.cfg.holdout_percent), [v], item)]
            quarantine(item, key, error, self.quarantine_dir)
            return [Candidate(_record(key, self.modality, item.uri, "quarantined", error, None, self.cfg.holdout_percent), source=item)]
        present = VerdictRecord(key, "caption_present", FILTER_VERSION, float(len(caption)), 1.0, len(caption) >= 1)
        cands = self.plugin.analyse(held, caption, key, self.opts)
        for c in cands:
            if c.source is held:  # a candidate keeps where to read its media, not the bytes
                c.source = item
            if c.record.status == "quarantined":
                quarantine(item, c.record.key, c.record.reason or "", self.quarantine_dir)
                continue
            v = replace(present, key=c.record.key)
            c.verdicts.insert(0, v)
            if not v.passed:  # the first reason, also before a modality's own (an empty transcript has no phones)
                c.record = replace(c.record, status="rejected", reason=empty_caption_reason(self.plugin.caption_name, item.caption))
        return cands


def empty_caption_reason(caption_name: str, caption: Entry) -> str:
    """caption_present's reason, naming the file (or listing line) whose caption is empty: it said
    "score 0 vs threshold 1", no unit and nothing to act on."""
    where = caption.where or caption.name.rsplit("/", 1)[-1]
    return (f"caption_present: the {caption_name} in {where} is empty (nothing but spaces or control characters): "
            f"write it, or leave the input out")


def shard_settings(plugin: ModalityPlugin, opts: Any, cfg: CurateConfig) -> dict[str, Any]:
    """What a curated shard's bytes and records depend on besides its members' content keys: the
    options and split, and the plugin's caption normalisation version (keys hash the raw caption,
    so a normalisation that reads it differently keeps them). The version is left out where a
    plugin declares none, so those plugins' shards keep the names they had before it existed."""
    settings: dict[str, Any] = {"options": asdict(opts), "holdout_percent": cfg.holdout_percent}
    if plugin.caption_version:
        settings["caption_version"] = plugin.caption_version
    return settings


class WriteShardStage(Stage[list, Batch]):
    """One curated shard per chunk of accepted candidates, named by its members' keys and the
    curation settings (re-runs write the same file; other options or another caption
    normalisation version, another), plus its batch file."""

    name = "write shards"
    execution = "tasks"
    batch_size = 1

    def __init__(self, plugin: ModalityPlugin, cfg: CurateConfig, out_dir: str):
        self.plugin, self.cfg, self.out_dir = plugin, cfg, out_dir
        self.modality = plugin.modality.value
        self.opts = plugin.options(cfg.options)
        # other settings, another shard: a re-run with frames=4 must not keep the frames=6 shard of
        # the same inputs, nor one after a transcript normalisation change the old transcripts' shard
        self.settings = sample_key("curation", self.modality, json.dumps(shard_settings(plugin, self.opts, cfg), sort_keys=True, default=str))

    def progress_units(self, batch: list[list[Candidate]]) -> int:
        return sum(len(cands) for cands in batch)  # one per input written

    def process(self, batch: list[list[Candidate]]) -> list[str]:
        return [p for cands in batch for p in self._write(cands)]

    def _progress(self, n: int = 1) -> None:
        if self.tick is not None:
            self.tick(n)

    def _chunk_id(self, cands: list[Candidate]) -> str:
        return sample_key(self.settings, *sorted(c.record.key for c in cands))[:16]

    def shard_path(self, cands: list[Candidate]) -> Path:
        return Path(self.out_dir) / f"curated-{self._chunk_id(cands)}.tar"

    def set_aside_path(self, cands: list[Candidate]) -> Path:
        """Where the writer of this chunk records the inputs it left out (set_aside_records reads it)."""
        return Path(self.out_dir) / f"set-aside-{self._chunk_id(cands)}.json"

    def _reuse(self, path: Path, cands: list[Candidate]) -> bool:
        """Resumable: a complete shard is never rewritten; one that is not whole (cut short, emptied by
        a power loss) is, as if it were not there."""
        batch_path = Batch.path_beside(path)
        if not (path.exists() and batch_path.exists()):
            return False
        try:
            old = Batch.read(batch_path)
        except (ValueError, TypeError, KeyError, AttributeError):  # a batch file that is no batch: write both again
            return False
        damage = shard_damage(path, old.shard)
        if damage is not None:
            log.warning("curated shard %s is damaged (%s): writing it again", path, damage)
            return False
        if [r.source_uri for r in old.samples] != [c.record.source_uri for c in cands]:
            # the same content from other files (a moved folder; an added exact duplicate that
            # sorts first and is now the original): the records say where it comes from now
            Batch(shard=old.shard, samples=[c.record for c in cands], verdicts=[v for c in cands for v in c.verdicts]).write(batch_path)
        os.utime(batch_path)  # the batch's time is its samples' latest curation (preprocess.encode.curated_shards)
        return True

    def _members(self, c: Candidate) -> list[tuple[str, bytes]] | SampleRecord:
        """The shard members of one accepted candidate, from its files read once now; or, where they
        are gone or no longer hold the content its key was hashed from, the record of why it is left
        out (the new content is curated under its own key by the next run)."""
        try:
            held = held_in_memory(c.source)
            digest = c.source.meta.get(CONTENT_DIGEST)
            if digest is not None and sample_key(*self.plugin.content_parts(held)) != digest:
                return self.set_aside(c, CHANGED, "the file no longer holds the content its key was made from; curate again to take the new content")
            fields = self.plugin.curated_members(replace(c, source=held), self.opts)
        except OSError as e:
            return self.set_aside(c, VANISHED, e.strerror or str(e) or type(e).__name__)
        members = [(f"{c.record.key}.{f}", data) for f, data in fields.items()]
        members.append((f"{c.record.key}.{CAPTION}", (c.record.caption or "").encode("utf-8")))
        members.append((f"{c.record.key}.{META}", json.dumps(c.record.meta, sort_keys=True).encode()))
        return members

    def aside_key(self, c: Candidate, kind: str) -> str:
        """Keyed, as other per-input errors are, by what happened and to which sample, not by content:
        a sample of that content that the catalog has from an earlier run keeps its row."""
        return sample_key(kind, self.modality, c.record.key)

    def set_aside(self, c: Candidate, kind: str, detail: str) -> SampleRecord:
        """The quarantined record of an accepted candidate the writer leaves out."""
        key = self.aside_key(c, kind)
        return replace(c.record, key=key, status="quarantined", reason=f"{kind}: {detail}", split=split_of(key, self.cfg.holdout_percent))

    def _write(self, cands: list[Candidate]) -> list[str]:
        cands = sorted(cands, key=lambda c: c.record.key)
        aside_path = self.set_aside_path(cands)
        aside_path.unlink(missing_ok=True)  # an interrupted run's: this run decides again
        path = self.shard_path(cands)
        if self._reuse(path, cands):
            self._progress(len(cands))
            return [str(Batch.path_beside(path))]
        members: list[tuple[str, bytes]] = []
        kept, aside = [], []
        for c in cands:
            got = self._members(c)
            self._progress()
            if isinstance(got, SampleRecord):
                aside.append(got)
                continue
            kept.append(c)
            members += got
        if aside:
            Batch(samples=aside).write(aside_path)
        if not kept:
            return []
        if aside:  # the shard is named by what it holds: as a run without the left-out inputs names it
            path = self.shard_path(kept)
        batch_path = Batch.path_beside(path)
        shard = write_tar(path, members, stage="curated", num_samples=len(kept))
        Batch(shard=shard, samples=[c.record for c in kept], verdicts=[v for c in kept for v in c.verdicts]).write(batch_path)
        return [str(batch_path)]


def set_aside_records(stage: WriteShardStage, accepted_chunks: list[list[Candidate]], cands: list[Candidate],
                      quarantine_dir: str | None) -> list[Candidate]:
    """``cands`` with the accepted candidates the shard writers left out (files deleted or changed
    since their analysis) turned into their quarantined records, for the dropped inputs' batch; their
    files, as they are now, copied to the quarantine folder. Reads and removes the writers' notes."""
    aside: dict[str, SampleRecord] = {}
    for chunk in accepted_chunks:
        path = stage.set_aside_path(chunk)
        if path.exists():
            aside.update((r.key, r) for r in Batch.read(path).samples)
            path.unlink()
    if not aside:
        return cands
    out = []
    for c in cands:
        r = next((aside[k] for k in (stage.aside_key(c, kind) for kind in SET_ASIDE) if k in aside), None) if c.accepted else None
        if r is not None:
            c = Candidate(r, [], c.source)
            if c.source is not None:
                quarantine(c.source, r.key, r.reason or "", quarantine_dir)
        out.append(c)
    return out


def leftover_candidate(lo: Leftover, modality: str, holdout: int) -> Candidate:
    key = sample_key("entry", modality, lo.entry.name, lo.reason_kind)
    # a listing's line by its listing and fragment (validated.tsv#take=clips/x), whose take may hold a '/'
    detail = f": {lo.entry.where or lo.entry.name.rsplit('/', 1)[-1]}" + (f" ({lo.detail})" if lo.detail else "")
    return Candidate(_record(key, modality, lo.entry.uri, "rejected", lo.reason_kind + detail, None, holdout))


def mark_exact_duplicates(cands: list[Candidate], catalogued: dict[str, str] | None = None) -> list[Candidate]:
    """Of inputs with the same media and caption, the one whose file the catalog's sample already
    comes from keeps the content key (``catalogued``: content key -> that sample's source_uri), so
    the sample and what was trained on it keep their file; else the first in name order. A later
    one gets a key derived from the original's and its own path relative to the original's folder:
    deterministic, and the same when the folder moves or the same files come through a listing,
    whose names carry the folder's own name (``photos/a.png`` against ``a.png``)."""
    catalogued = catalogued or {}

    def name_of(c: Candidate) -> str:
        return c.source.name if c.source else c.record.source_uri

    def name_order(c: Candidate) -> tuple:
        return (c.source.name if c.source else "", c.record.source_uri, c.record.key)

    def order(c: Candidate) -> tuple:
        return (c.record.source_uri != catalogued.get(c.record.key), *name_order(c))

    out, seen = [], {}  # content key -> the original's name
    for c in sorted(cands, key=order):
        k = c.record.key
        if k in seen:
            out.append(as_exact_duplicate(c, posixpath.relpath(name_of(c), posixpath.dirname(seen[k]) or ".")))
            continue
        seen[k] = name_of(c)
        out.append(c)
    # in name order, whatever the catalog holds: the batch a run writes is the same bytes as the last
    # run's (registered once: its digest is known), whether or not its samples were catalogued
    return sorted(out, key=name_order)


def content_keyed(c: Candidate) -> bool:
    """Whether the candidate's key is its content's (media bytes and caption): an accepted one, or
    one rejected by a filter or quarantined by the modality after its bytes were read; not an
    exact_duplicate row's (derived) nor one keyed by its name (unreadable, too large, an error)."""
    if c.accepted:
        return True
    return (c.source is not None and CONTENT_DIGEST in c.source.meta
            and not (c.record.reason or "").startswith(("exact_duplicate", *SET_ASIDE)))


def catalogued_samples(catalog: Path, modality: str, cands: list[Candidate]) -> dict[str, tuple[str, str]]:
    """Content key -> (source_uri, status) of the catalog's current samples among the candidates' content keys."""
    from catalog.db import Catalog
    from catalog.source_index import current_samples_among

    keys = sorted({c.record.key for c in cands if content_keyed(c)})
    if not keys or not catalog.exists():
        return {}
    with Catalog.open(catalog, read_only=True) as cat:
        return current_samples_among(cat, keys, modality)


def mark_kept_before(cands: list[Candidate], current: dict[str, tuple[str, str]]) -> None:
    """Candidate.kept_before for the accepted candidates the catalog already accepted from the same
    file (``current``: catalogued_samples): each modality's near-duplicate order puts them first, so
    what an earlier run kept stays kept against a new near copy that sorts before it by name. They
    still go through the search (their verdict and signature are written as before)."""
    for c in cands:
        c.kept_before = c.accepted and current.get(c.record.key) == (c.record.source_uri, "accepted")


def exact_duplicate_key(content_key: str, relative_name: str) -> str:
    """The key of an exact duplicate's row: the original's content key and the copy's name relative
    to the original's folder (the same when both move together)."""
    return sample_key(content_key, "duplicate", relative_name)


def as_exact_duplicate(c: Candidate, relative_name: str) -> Candidate:
    """``c``'s rejected exact_duplicate row (``exact_duplicate_key``), written to no shard."""
    k = c.record.key
    dup = exact_duplicate_key(k, relative_name)
    rec = replace(c.record, key=dup, status="rejected", reason=f"exact_duplicate: same content as {k}")
    verdicts = [replace(v, key=dup) for v in c.verdicts] + [VerdictRecord(dup, "exact_dedup", FILTER_VERSION, 1.0, 1.0, False)]
    return Candidate(rec, verdicts, c.source, None)


def _still_there(uri: str) -> bool:
    """Whether the file a catalog sample came from is still there (a tar member's tar; a dataset row's
    file). A URI that is no local path is taken as still there."""
    path = uri.partition("#")[0]
    return not os.path.isabs(path) or os.path.exists(path)


def _gone_rows_of(spec: SourceSpec, cands: list[Candidate]) -> Callable[[str], str | None]:
    """original_at for a curation of ``spec``: a row of this very source (a datasets folder's, a
    listing's: ``<path>#row=i``) that it no longer lists is gone, though its folder is there. After a
    deleted row, the last row was rejected as an exact_duplicate of itself at its old number."""
    rows = str(Path(spec.uri).expanduser().resolve()) + "#row="  # as the rows' uris are made (preprocess.sources)
    listed = {c.record.source_uri for c in cands}
    return lambda uri: None if uri.startswith(rows) and uri not in listed else uri if _still_there(uri) else None


def mark_copies_of_catalogued(cands: list[Candidate], catalogued: dict[str, str],
                              original_at: Callable[[str], str | None] | None = None,
                              copy_at: Callable[[Candidate], str] | None = None) -> list[Candidate]:
    """An input with the content of a current catalog sample from another file, which is still
    there and not curated now, is an exact_duplicate row of it, as a copy within one run is: accepted,
    or rejected or quarantined on its content (content_keyed; before, only accepted ones, so the
    copy of a rejected file took its row and the original was left with none).
    Before, the sample moved to the copy: its source_uri was rewritten and the original file had no
    row left, and checkpoints trained on the original appeared to be trained on the copy. A sample
    whose file is gone (a moved folder) moves to the new file, as before.
    ``original_at(uri)``: where the sample's file is, for the copy's key (None: gone); default its
    uri if the file exists. ``copy_at(c)``: where the copy is; default its uri. A refresh gives both
    as names within its source."""
    original_at = original_at or (lambda uri: uri if _still_there(uri) else None)
    copy_at = copy_at or (lambda c: c.record.source_uri)
    curated_now = {c.record.source_uri for c in cands}  # between this run's own files, mark_exact_duplicates decided
    out = []
    for c in cands:
        orig = catalogued.get(c.record.key) if content_keyed(c) else None
        where = original_at(orig) if orig is not None and orig not in curated_now else None
        # strings only ('#' and all): the copy's place relative to the original's folder
        out.append(c if where is None else as_exact_duplicate(c, posixpath.relpath(copy_at(c), posixpath.dirname(where) or ".")))
    return out


def score_with_models(stage: Stage | None, cands: list[Candidate], backend: str) -> list[Candidate]:
    """Run the plugin's model-bearing scoring stage (``plugin.scoring_stage(opts)``; None: nothing
    to do) on the accepted candidates, in key order so the batches, and the scores, are the same
    on every run; the others pass through untouched, in their place."""
    accepted = sorted((c for c in cands if c.accepted), key=lambda c: c.record.key)
    if stage is None or not accepted:
        return cands
    scored = {c.record.key: c for c in run_stage(stage, accepted, backend, num_actors=getattr(stage, "num_actors", 1))}
    return [scored[c.record.key] if c.accepted else c for c in cands]


def analysis_journal(ws: Workspace, cfg: CurateConfig, opts: Any, source: str) -> AnalysisJournal:
    """Where this curation's finished analysis chunks wait for a resume: one folder per source, and
    in it one per settings (what a candidate depends on besides its input's bytes)."""
    from catalog.db import code_version

    settings = {k: v for k, v in asdict(cfg).items() if k not in ("options", "shard_size")}
    settings["options"] = asdict(opts)
    settings["code"] = code_version()  # other code analyses otherwise (a decoder, a signature): its chunks are not taken
    key = sample_key("analysis", cfg.modality, source, FILTER_VERSION, json.dumps(settings, sort_keys=True, default=str))
    return AnalysisJournal(ws.home / "journal" / "analyse" / sample_key("analysis", cfg.modality, source)[:16] / key[:24])


def discard_journals_of_source(journal: AnalysisJournal) -> None:
    """Once a curation of a source completes: its journal, and those of its interrupted runs with
    other settings or older code, which no run would take back (they stayed for good)."""
    shutil.rmtree(Path(journal.folder).parent, ignore_errors=True)


def analyse_resumably(plugin: ModalityPlugin, cfg: CurateConfig, opts: Any, ws: Workspace, source: str,
                      inputs: list[RawInput], backend: str) -> tuple[list[Candidate], AnalysisJournal]:
    """AnalyseStage over the inputs, its finished chunks journaled (and those of an interrupted run
    of the same source and settings taken back); the candidates flat. The caller discards the
    journal once its results are in batch files."""
    journal = analysis_journal(ws, cfg, opts, source)
    if n := journal.chunks_kept():
        log.warning("resuming an interrupted curation: %d analysed chunks kept in %s are not analysed again", n, journal.folder)
    analysed = run_stage(AnalyseStage(plugin, cfg, str(ws.quarantine), journal), inputs, backend)
    cands = [c for part in analysed for c in (part if isinstance(part, list) else [part])]
    del analysed
    pack_verdicts(cands)  # ~1 KB an image less to the end of the run (preprocess/packed_verdicts.py)
    return cands, journal


def settle(cands: list[Candidate]) -> None:
    """Once near-duplicate search is done, what the driver keeps of each candidate to the end of the
    run: no signature (an image's was ~0.4 KB; nothing reads it after the search), no input where it
    is not accepted (~1 KB: its entries, names and paths; only the shard writer and the set-aside
    quarantine read inputs from here, of accepted candidates), and its verdicts packed (a scoring
    stage's or an exact duplicate's came as a list)."""
    for c in cands:
        c.signature = None
        if not c.accepted:
            c.source = None
    pack_verdicts(cands)


def write_shards(cands: list[Candidate], leftovers: list, plugin, cfg: CurateConfig, ws: Workspace, out_dir: Path,
                 backend: str) -> tuple[list[Candidate], list[str], list[str], list[Candidate]]:
    """After near-duplicate search (curate's and refresh's last steps): settle the candidates, add the
    leftovers' rows, write the accepted ones' shards and set aside those whose input was deleted or
    changed meanwhile. (candidates, shard batch files, shard uris, the candidates not accepted)."""
    keep_own_size_when_rejected(cands)
    settle(cands)
    cands.extend(leftover_candidate(lo, plugin.modality.value, cfg.holdout_percent) for lo in leftovers)
    accepted = sorted((c for c in cands if c.accepted), key=lambda c: c.record.key)
    writer, accepted_chunks = WriteShardStage(plugin, cfg, str(out_dir)), chunks(accepted, cfg.shard_size)
    batch_paths = run_stage(writer, accepted_chunks, backend)
    cands = set_aside_records(writer, accepted_chunks, cands, str(ws.quarantine))  # inputs deleted or changed meanwhile
    shard_uris = [p[: -len(".batch.json")] for p in batch_paths]
    return cands, batch_paths, shard_uris, [c for c in cands if not c.accepted]


def curate(source: str | SourceSpec, home: str | os.PathLike | None, cfg: CurateConfig | None = None, backend: str = "ray") -> CurateResult:
    """Curate a source into shards under <home>/curated/<modality>. Runs with or without Ray."""
    cfg = cfg or CurateConfig()
    plugin = get_plugin(cfg.modality)
    modality = plugin.modality.value
    opts = plugin.options(cfg.options)
    ws = Workspace.at(home)
    out_dir = ws.curated(modality)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = source if isinstance(source, SourceSpec) else SourceSpec(
        str(source), caption_key=cfg.caption_key, path_column=cfg.path_column, caption_column=cfg.caption_column,
        media_column=cfg.media_column, follow_symlinks=cfg.follow_symlinks)

    scoring = plugin.scoring_stage(opts)  # before any work: a wrong model path fails here, in one line
    inputs, leftovers = plugin.group(list_entries(spec), opts)
    if not inputs and not leftovers:
        raise ValueError(f"source {spec.uri} is empty")
    cands, journal = analyse_resumably(plugin, cfg, opts, ws, os.path.abspath(os.path.expanduser(spec.uri)), inputs, backend)
    del inputs  # each candidate has its input (with Ray, a copy): the list is ~270 bytes an input more (~1 KB with Ray)
    current = catalogued_samples(ws.catalog, modality, cands)
    catalogued = {key: uri for key, (uri, _) in current.items()}
    cands = mark_copies_of_catalogued(mark_exact_duplicates(cands, catalogued), catalogued, original_at=_gone_rows_of(spec, cands))
    cands = score_with_models(scoring, cands, backend)  # before near dedup: a kept near duplicate has passed them
    # needs the global view: in the driver, on signatures only; and what earlier runs kept in the catalog
    mark_kept_before(cands, current)
    plugin.near_duplicates(cands, opts, catalog=str(ws.catalog))
    cands, batch_paths, shard_uris, dropped = write_shards(cands, leftovers, plugin, cfg, ws, out_dir, backend)
    rejections = write_rejections(out_dir, dropped)
    hold_point("curate.batches-written")  # every batch file written, none registered (a fault test's kill)
    reasons = Counter((c.record.reason or "").split(":")[0] for c in dropped)
    discard_journals_of_source(journal)  # every result is in the batch files now
    return CurateResult(modality, batch_paths + rejections, shard_uris, dict(Counter(c.record.status for c in cands)), dict(reasons))


# dropped inputs per rejections batch file: one file up to this many (named as before), else one per
# chunk of them. Registering a batch file takes ~10 KB of Python heap an input at once (its JSON text
# and parsed objects; an image's nine verdicts): one file of every dropped input of a million-input run
# was GBs; 4096 of them were ~40 MB, on top of the driver's peak (at 20,000 images, ~2 KB an input of its
# slope); 1024 of them are ~10 MB, as a curated shard's batch (512 inputs) is ~5 MB
REJECTIONS_PER_BATCH = 1024


def write_rejections(out_dir: Path, dropped: list[Candidate]) -> list[str]:
    """The batch files of the inputs not accepted (with none, one empty batch, as before), each named
    by the keys it holds; at most REJECTIONS_PER_BATCH inputs each."""
    paths = []
    for part in chunks(dropped, REJECTIONS_PER_BATCH) or [[]]:
        path = out_dir / ("rejections-" + sample_key(*sorted(c.record.key for c in part))[:16] + ".batch.json")
        Batch(samples=[c.record for c in part], verdicts=[v for c in part for v in c.verdicts]).write(path)
        paths.append(str(path))
    return paths
