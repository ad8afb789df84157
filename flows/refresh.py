"""Incremental refresh: curate and encode only what is new or changed in a source, retire what
left, re-freeze live manifests and announce their new versions.

``refresh_source`` is the library function (`lumina refresh` calls it; it runs without Prefect);
``refresh_flow`` is the Prefect flow the scheduled ``refresh`` deployment runs: the same call
with progress artifacts, the global catalog-writer concurrency limit around every catalog write,
and a ``lumina.manifest.updated`` event per new live-manifest version. Importing this module does
not import Prefect: ``refresh_flow`` is made the first time it is asked for (``__getattr__`` below).

A refresh with nothing new in its source starts no run, writes no shard and adds no sample: it
records that the source's entries were seen (source_index.last_seen), and still re-freezes the
live manifests (a new version when other stages registered samples their selection matches).

A due training (catalog.source_index.update_live_manifests) is consumed only after its
``on_manifest`` (the flow's event) returned: a refresh killed in between announces it again on its
next run, even one with no new version (at least once, never lost; a kill after the event and
before the consume makes a second event for the same version, so a second `train` run of it).
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, ContextManager, Iterator

from contracts.layout import Workspace, printable_path
from preprocess.curate import CurateConfig

SOURCE_ENV = "LUMINA_REFRESH_SOURCE"  # the scheduled deployment's source when the parameter is unset


@dataclass
class RefreshHooks:
    progress: Callable[[float, str], None] = lambda fraction, text: None
    writer: Callable[[], ContextManager] = nullcontext  # held around each catalog write
    on_manifest: Callable[[Any], None] = lambda update: None  # a live manifest got a new version
    say: Callable[[str], None] | None = None  # a line for the user (default: a logging warning)


@dataclass
class RefreshResult:
    source: str
    modality: str
    noop: bool
    run_id: str | None = None
    plan: dict[str, int] = field(default_factory=dict)
    curated: dict[str, int] = field(default_factory=dict)  # status -> samples curated now
    new_samples: int = 0  # sample rows this refresh added
    removed: int = 0
    superseded: int = 0
    revived: int = 0
    moved: int = 0  # samples whose input is at another uri of the source now (a datasets row after a deleted one)
    shard_uris: list[str] = field(default_factory=list)
    encoded_shards: int = 0  # new shards, and the plan's unencoded_shards
    manifests: list[dict] = field(default_factory=list)  # live-manifest versions made now
    repaired: int = 0  # samples a wrong-modality refresh had superseded, accepted again
    reused_options: dict[str, Any] = field(default_factory=dict)  # curation options taken from the source's last curation
    notes: list[str] = field(default_factory=list)  # what the user should know (printed by `lumina refresh`)
    seconds: dict[str, float] = field(default_factory=dict)


class EmptySourceError(ValueError):
    """A source with samples in the catalog lists no entries, or no input (an unmounted share?)."""


NOTHING_NEW = "nothing new or changed in the source"
ANNOUNCED_AGAIN = "announced now"  # ends the note on a due training an earlier refresh left unconsumed
CURATION_FIELDS = tuple(f for f in CurateConfig.__dataclass_fields__ if f != "modality")


def _spec(source: str, cfg: CurateConfig):
    from preprocess.sources import SourceSpec

    return SourceSpec(str(source), caption_key=cfg.caption_key, path_column=cfg.path_column, caption_column=cfg.caption_column,
                      media_column=cfg.media_column, follow_symlinks=cfg.follow_symlinks)


def _retirements(cat, plan, curated) -> list:
    """Old samples of re-curated inputs are superseded by the input's new sample; samples of inputs
    that left the source are removed. One query each, whatever the number of inputs. Only samples
    of the refresh's modality, and never by an unsupported_type record: a refresh with the wrong
    --modality records the files it refuses, and retires nothing. Asked after follow_moves: a
    sample that moved to another uri (plan.moves) is neither, and the sample a moved one's uri
    held before is removed (plan.removed_uris has that uri: the deleted row's sample, which was
    "superseded" by the row that took its place)."""
    from catalog.source_index import Retirement, current_samples_of

    moved = {m.key for m in plan.moves}
    moved_into = {m.new_uri: m.key for m in plan.moves}
    input_of = {entry: uri for uri, entries in plan.recurated_uris.items() for entry in entries}
    input_of.update({uri: uri for uri in plan.recurated_uris})  # a sample whose source_uri is its input's (a folder's)
    out = []
    for key, _, _, source_uri in current_samples_of(cat, sorted(input_of), plan.modality):
        new = curated.superseders.get(input_of[source_uri], [])
        if new and key not in curated.keys_by_uri.get(input_of[source_uri], []) and key not in moved:
            out.append(Retirement(key, "superseded", f"superseded: by {new[0]}", new[0]))
    # an input whose sample the catalog has at its uri already (a `lumina curate` since): its older ones, as a curation would
    for key, _, _, source_uri in current_samples_of(cat, sorted(plan.in_place), plan.modality):
        if key != (new := plan.in_place[source_uri]) and key not in moved:
            out.append(Retirement(key, "superseded", f"superseded: by {new}", new))
    for key, _, reason, source_uri in current_samples_of(cat, plan.removed_uris, plan.modality):
        if key in moved:
            continue
        into = moved_into.get(source_uri)
        if into is not None and (reason or "").startswith("exact_duplicate") and into in reason:
            # a copy whose original was deleted: its file holds the sample now, its duplicate row is replaced
            out.append(Retirement(key, "superseded", f"superseded: by {into}", into))
        else:
            out.append(Retirement(key, "removed", "removed: no longer in the source"))
    return out


def unreadable_folders_note(plan) -> str | None:
    """What a refresh says of the folders it could not read (preprocess.sources: unreadable_folder
    rows): what it knew under them is kept, not marked removed."""
    if not plan.unreadable_folders:
        return None
    (name, why), n = next(iter(plan.unreadable_folders.items())), len(plan.unreadable_folders)
    more = f" and {n - 1} more" if n > 1 else ""
    return (f"cannot read {n} folder{'s' if n > 1 else ''} of {plan.source} ({name}: {why}{more}): the {plan.kept_unread} "
            f"entries the index has under {'them' if n > 1 else 'it'} and their samples are kept as they were, not marked "
            "removed; make it readable and refresh again")


def lock_path(ws: Workspace, source_id: str):
    import hashlib

    return ws.home / "locks" / f"refresh-{hashlib.sha256(source_id.encode()).hexdigest()[:16]}.lock"


@contextmanager
def source_lock(ws: Workspace, source_id: str, say: Callable[[str], None]) -> Iterator[None]:
    """One refresh of a source at a time in a workspace (an fcntl lock under <home>/locks): a
    second one says it waits, then waits for the first to finish (and then finds its work done)."""
    import fcntl

    path = lock_path(ws, source_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            say(f"another refresh of {source_id} is running ({holder}): waiting for it to finish")
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
            f.flush()
            fcntl.flock(f, fcntl.LOCK_UN)


def reused_options_note(result: RefreshResult) -> str | None:
    """What a refresh says about the options it reused from the source's last curation: only when it
    curated something with them (a no-op or refused refresh used none, and its result lists none)."""
    if not (result.reused_options and result.curated):
        return None
    return (f"curated with the options {result.source} was last curated with: "
            + ", ".join(f"{k}={v}" for k, v in result.reused_options.items()) + " (give options to change them)")


def _merge_options(given: dict, last: dict, reused: dict, prefix: str) -> dict:
    """`given` over `last`, key by key at every depth (a --set options.quality.min_sharpness must
    not drop the reused options.quality.min_contrast); what came from `last` goes into `reused`."""
    out = dict(given)
    for k, v in last.items():
        if k not in out:
            out[k] = reused[f"{prefix}.{k}"] = v
        elif isinstance(v, dict) and isinstance(out[k], dict):
            out[k] = _merge_options(out[k], v, reused, f"{prefix}.{k}")
    return out


def reuse_curation(home: str | os.PathLike | None, source: str, modality: str, given: dict[str, Any]) -> tuple[CurateConfig, dict]:
    """The CurateConfig of a refresh: the options the source was last curated or refreshed with
    (runs.parameters), with ``given`` (what the user set: fields, and ``options`` key by key) over
    them. Returns it and what was reused (empty for a source never curated)."""
    from catalog import Catalog
    from catalog.source_index import last_curation_of_source
    from contracts.config import from_mapping
    from preprocess.modality import get_plugin
    from preprocess.refresh import source_identity

    modality = get_plugin(modality).modality.value
    ws = Workspace.at(home)
    last = None
    if ws.catalog.exists():
        with Catalog.open(ws.catalog, read_only=True, defer_check=True) as cat:  # one connection: the check's and the query's
            last = last_curation_of_source(cat, source_identity(str(source)), modality)
    defaults = asdict(CurateConfig())
    reused: dict[str, Any] = {}
    values: dict[str, Any] = {"modality": modality}
    for name in CURATION_FIELDS:
        if name == "options":
            continue
        if name in given:
            values[name] = given[name]
        elif last is not None and name in last and last[name] != defaults[name]:
            values[name] = reused[name] = last[name]
    values["options"] = _merge_options(dict(given.get("options") or {}), (last or {}).get("options") or {}, reused, "options")
    return from_mapping(CurateConfig, values), reused


def latent_size_notes(ws: Workspace, cfg: CurateConfig, latent_encoder: str, source: str) -> list[str]:
    """`lumina encode`'s warning about accepted samples sized for another latent downsampling than
    the encoder's (flows.steps.curated_for_another_latent: the CLI's default --vae-factor 8 with
    identity latents gives up to 64x the token budget), as notes: `lumina refresh` prints them, the
    flow logs them to its run. A refresh curates only new inputs, so each says how to curate again."""
    import json

    from flows.steps import curated_for_another_latent

    found = curated_for_another_latent(ws, cfg.modality, latent_encoder)
    if not found:
        return []
    factor = json.loads(ws.encoder_info(latent_encoder).read_text())["downsample"]
    again = curate_command(source, ws, cfg, {"options.vae_factor": factor})
    return [f"{message}; a refresh curates only new or changed inputs, so: {again} (later refreshes reuse its options)"
            for _, message in found]


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in values.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def curation_settings(cfg: CurateConfig) -> dict[str, Any]:
    """A CurateConfig's settings, flat ("options.max_tokens"), with its modality's option defaults
    filled in: options given as their default are no change."""
    from preprocess.modality import get_plugin

    fields = {k: v for k, v in asdict(cfg).items() if k not in ("modality", "options")}
    return _flat({**fields, "options": asdict(get_plugin(cfg.modality).options(cfg.options))})


def curate_command(source: str, ws: Workspace, cfg: CurateConfig, changes: dict[str, Any]) -> str:
    """The `lumina curate` (and `lumina encode`) that curate the whole source with ``cfg`` changed by
    ``changes`` (flat settings). Every setting off its default is given: `lumina curate` reuses none."""
    defaults = curation_settings(CurateConfig(modality=cfg.modality))
    settings = {**curation_settings(cfg), **changes}
    sets = "".join(f" --set {k}={v}" for k, v in settings.items() if defaults.get(k) != v)
    return (f"lumina curate {source} --modality {cfg.modality} --home {ws.home}{sets}, then lumina encode --modality "
            f"{cfg.modality} --home {ws.home}")


def options_changed_since(last: dict[str, Any] | None, cfg: CurateConfig) -> dict[str, tuple[Any, Any]]:
    """{setting: (now, at the last curation)} where ``cfg`` differs from the source's last curation
    (its runs.parameters); {} when there was none, or its options no longer parse."""
    from contracts.config import from_mapping

    if last is None:
        return {}
    try:
        before = curation_settings(from_mapping(CurateConfig, {"modality": cfg.modality, **{
            k: last[k] for k in CURATION_FIELDS if k in last}}))
    except ValueError:
        return {}
    return {k: (v, before.get(k)) for k, v in curation_settings(cfg).items() if before.get(k) != v}


def unused_options_note(changed: dict[str, tuple[Any, Any]], cfg: CurateConfig, source: str, ws: Workspace) -> str | None:
    """What a no-op refresh says about curation options that differ from the source's last
    curation: nothing was curated with them, and as it records no run the next refresh does not
    reuse them either; `lumina curate` applies them to the whole source."""
    if not changed:
        return None
    given = ", ".join(f"{k}={now} (last curated with {then})" for k, (now, then) in changed.items())
    return (f"this refresh's curation options differ from {source}'s last curation: {given}; they apply only to new or "
            f"changed inputs, and there were none, so nothing was curated with them and they are not kept (the next "
            f"refresh reuses the last curation's unless given again); to curate the whole source with them: "
            + curate_command(source, ws, cfg, {}))


@dataclass
class CurationHistory:
    """What the catalog says of the code that curated a source's current samples (curation_history)."""

    recorded: list[dict[str, str]] = field(default_factory=list)  # the curation versions each of those runs recorded
    unrecorded: int = 0  # how many of them ran before runs recorded their curation versions
    # filter -> the filter_version values the verdicts those unrecorded runs registered carry
    verdicts_then: dict[str, list[str]] = field(default_factory=dict)


def curation_history(cat, source: str, modality: str) -> CurationHistory:
    """The curation versions (runs.parameters curation_versions) of the runs that made the source's
    current samples: its latest completed `lumina curate` (which curates the whole source) and every
    completed refresh after it (each curated its new or changed inputs); all its refreshes where no
    curate ran. For those that recorded none (before they were), the filter versions their verdicts
    carry, by the same filter names: a scan of verdicts.run_id, only where such runs are (12M verdicts
    on disk: 0.06 s CPU)."""
    import json

    rows = cat.sql("SELECT run_id, flow_name, CAST(parameters->'curation_versions' AS VARCHAR) FROM runs "
                   "WHERE flow_name IN ('curate', 'refresh') AND status = 'completed' AND parameters->>'source' = $1 "
                   "AND coalesce(parameters->>'modality', $3) = $2 ORDER BY started_at",
                   [source, modality, CurateConfig().modality])[1]
    last_curate = max((i for i, (_, flow, _) in enumerate(rows) if flow == "curate"), default=0)
    made = [(run_id, json.loads(v) if v else None) for run_id, _, v in rows[last_curate:]]
    made = [(run_id, v if isinstance(v, dict) else None) for run_id, v in made]
    history = CurationHistory([v for _, v in made if v is not None], sum(v is None for _, v in made))
    if unrecorded := [run_id for run_id, v in made if v is None]:
        for f, version in cat.sql("SELECT DISTINCT filter, filter_version FROM verdicts WHERE list_contains($1, run_id) "
                                  "ORDER BY filter, filter_version", [unrecorded])[1]:
            history.verdicts_then.setdefault(f, []).append(version)
    return history


def stale_curation_note(history: CurationHistory, cfg: CurateConfig, source: str, ws: Workspace) -> str | None:
    """One line when the source's samples were curated with other curation versions than this code's
    (preprocess.modality.curation_versions: the caption normalisation and each filter by its verdicts'
    name): which changed, that a refresh curates only new or changed inputs, and the `lumina curate`
    that applies them. Runs that recorded versions are read from them, runs before that from their
    verdicts' filter versions, in the same words ("keyframe_dedup 1 -> 2"); a filter this code no
    longer runs is "-> none", one a recorded run lacks "none ->". What no verdict carries, the caption
    normalisation of runs before versions were recorded, is said to be unknown. A filter none of their
    verdicts names is not: most run on some inputs only (a refusal, a copy), so its absence says nothing.

    A refresh does not curate the whole source again by itself: at 1M inputs that is every input
    decoded and analysed again (hours of CPU), a second set of shards and a full encode, unasked, on
    an hourly schedule, for a bump that may change no outcome (a faster index under the same version,
    a normalisation that reads these captions alike); the user picks the time, and the line stays
    until a curation with this code."""
    from preprocess.modality import curation_versions, get_plugin

    now = curation_versions(get_plugin(cfg.modality))
    then: dict[str, set[str]] = {}  # name -> the versions the source's samples were curated with
    for versions in history.recorded:
        for name in set(now).union(versions):
            then.setdefault(name, set()).add(str(versions.get(name, "none")))
    for f, versions in history.verdicts_then.items():
        then.setdefault(f, set()).update(versions)
    changed = []
    for name in sorted(then, key=lambda n: (n != "caption normalisation", n)):
        if before := sorted(then[name] - {now.get(name, "none")}):
            changed.append(f"{name} {'/'.join(before)} -> {now.get(name, 'none')}")
    # runs that registered no verdict curated nothing to speak of
    unknown = bool(history.unrecorded and history.verdicts_then and "caption normalisation" in now)
    if not (changed or unknown):
        return None
    if changed:
        said = f"{source}'s samples were curated with other curation versions than this code's: " + ", ".join(changed)
        if unknown:
            said += " (and by runs before versions were recorded, with a caption normalisation unknown)"
    else:
        said = (f"{source}'s samples were curated before runs recorded their curation versions: their verdicts' filter "
                f"versions are this code's, and whether their caption normalisation was this code's "
                f"({now['caption normalisation']}) is unknown")
    return (f"{said}; a refresh curates only new or changed inputs, so the others keep what that code made; to curate "
            f"the whole source with this code: " + curate_command(source, ws, cfg, {}))


def refresh_source(source: str, home: str | os.PathLike | None = None, cfg: CurateConfig | None = None,
                   encode_cfg=None, live: list | None = None, backend: str = "ray",
                   hooks: RefreshHooks | None = None, allow_empty_source: bool = False,
                   consume_due: bool = True) -> RefreshResult:
    """Bring the catalog up to date with ``source`` (see the module docstring).

    A source with samples in the catalog that lists no entries at all, or no input while it has
    accepted samples, is refused (EmptySourceError) unless ``allow_empty_source``: an unmounted share is not a deleted corpus.
    ``consume_due=False``: a live manifest's due training stays due (update_live_manifests).
    ``encode_cfg``'s model paths are checked first (EncodeConfig.check_paths), as encode_step's."""
    import logging

    from preprocess.refresh import source_identity

    cfg, hooks = cfg or CurateConfig(), hooks or RefreshHooks()
    if encode_cfg is not None:  # a missing --vae or --text-path: refused now, not after the curation
        encode_cfg.check_paths(cfg.modality)
    ws = Workspace.at(home)
    ws.home.mkdir(parents=True, exist_ok=True)
    say = hooks.say or logging.getLogger(__name__).warning
    source_id = source_identity(_spec(source, cfg))
    with source_lock(ws, source_id, say), listing_stage(ws, source_id) as stage:
        return _refresh_locked(source, ws, cfg, encode_cfg, live, backend, hooks, allow_empty_source, consume_due, stage)


@contextmanager
def listing_stage(ws: Workspace, source_id: str = "") -> Iterator[Any]:
    """Where a refresh stages its listing (catalog.source_index.ListingStage): a scratch folder
    under <home>/tmp (as roomy as the workspace; a tmpfs /tmp would hold it in memory), one per
    source, entered under the source's lock. It is removed when the refresh ends, and a folder a
    killed refresh left (SIGKILL, OOM: no cleanup runs) is removed by the next refresh of the source."""
    import hashlib
    import shutil

    from catalog.source_index import ListingStage

    folder = ws.home / "tmp" / f"refresh-{hashlib.sha256(source_id.encode()).hexdigest()[:16]}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        with ListingStage(str(folder)) as stage:
            yield stage
    finally:
        shutil.rmtree(folder, ignore_errors=True)


EMPTY_SOURCE_ADVICE = ("refusing to mark them all removed (an unmounted share or a mistyped path?); if the source really is "
                       "empty now, pass --allow-empty-source (the flow's parameter allow_empty_source)")


def refuse_an_emptied_source(cat, plan, src: str, modality: str) -> None:
    """EmptySourceError when the listing has no input while the catalog has samples of the source: an
    unmounted share lists nothing, or only what lies in the mount point itself (a NOT_MOUNTED marker, a
    README, a .DS_Store). Such a stray file made the listing non-empty, and the refresh marked every
    accepted sample removed; it is refused now when it would retire an accepted sample."""
    from catalog.source_index import current_samples_of

    if plan.counts["inputs"]:
        return
    if plan.counts["entries"] == 0:
        if plan.indexed_entries or plan.removed_uris:
            raise EmptySourceError(f"{src} lists no entries, but the catalog has {modality} samples of it: " + EMPTY_SOURCE_ADVICE)
        return
    accepted = sum(status == "accepted" for _, status, _, _ in current_samples_of(cat, plan.removed_uris, modality))
    if accepted:
        n = plan.counts["entries"]
        raise EmptySourceError(f"{src} lists no {modality} input, only {n} other entr{'y' if n == 1 else 'ies'}, but the "
                               f"catalog has {accepted} accepted {modality} samples of it: " + EMPTY_SOURCE_ADVICE)


def _refresh_locked(source, ws, cfg, encode_cfg, live, backend, hooks, allow_empty_source, consume_due, stage) -> RefreshResult:
    """The refresh under its source's lock. The catalog is opened once and held (Catalog.hold: one
    connection, so one DuckDB instance, ~40 ms each, where every call opened its own) through each
    stretch of catalog calls: the declarations; the index's copy and the damage to repair; the
    registration; the index and the live manifests. Never across the listing and the plan, the
    curation, the encoding or an announcement (any other process waits for a held catalog), and a
    hold that writes is entered inside hooks.writer(), never the other way round (the flow run that
    has the writer may be waiting for the file)."""
    from catalog import Catalog
    from catalog.source_index import (commit_listing, current_samples_among, declare_live_manifest, exact_copies_of, follow_moves,
                                      last_curation_of_source, near_copies_of, revive, retire, samples_gone_from_source,
                                      update_live_manifests, wrongly_superseded)
    from flows.steps import catalog_run, register, say_if_another_modality
    from preprocess.encode import EncodeConfig, encode
    from preprocess.modality import curation_versions, get_plugin
    from preprocess.refresh import IncrementalCuration, curate_inputs, plan_refresh, source_identity, source_scope

    encode_cfg = encode_cfg or EncodeConfig()
    latent_encoder = None  # set when new shards are encoded
    spec = _spec(source, cfg)
    src = source_identity(spec)
    t = time.time()
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal t
        seconds[name] = round(time.time() - t, 2)
        t = time.time()

    with hooks.writer():  # a new catalog is created, an old one migrated, here
        cat = Catalog.open(ws.catalog, defer_check=bool(live))  # with live manifests: checked by their hold
        if live:
            with cat.hold():
                for m in live:
                    declare_live_manifest(cat, m)
    modality = get_plugin(cfg.modality).modality.value
    with cat.hold():
        stage.load_index(cat, src, cfg.modality)
        repair = wrongly_superseded(cat, modality)  # samples to make current again: a read, before the listing
    hooks.progress(0.05, "listing and hashing the source")
    prefixes, patterns = source_scope(spec)
    plan = plan_refresh(spec, cfg, stage, lambda listed: samples_gone_from_source(cat, src, modality, prefixes, patterns, listed),
                        lambda leaving: near_copies_of(cat, modality, leaving) + exact_copies_of(cat, modality, leaving),  # each its own
                        # connection: the plan holds none
                        lambda keys: whole_curated_shards(cat, keys), lambda keys: current_samples_among(cat, keys, modality),
                        lambda uris: exact_copies_of(cat, modality, uris))
    lap("scan")
    if not allow_empty_source:
        refuse_an_emptied_source(cat, plan, src, modality)
    # unencoded_shards: the curated shards an earlier run wrote (a `lumina curate` never encoded) holding the
    # accepted samples of inputs left out as already curated: encoded now, not curated again
    counts = {**plan.counts, "unencoded_shards": len(plan.shards_to_encode)}
    result = RefreshResult(src, plan.modality, plan.empty and not repair and not plan.shards_to_encode, plan=counts)
    if note := unreadable_folders_note(plan):
        result.notes.append(note)
    if result.noop:
        with hooks.writer(), cat.hold():
            commit_listing(cat, src, plan.modality, stage, None)
            updates = update_live_manifests(cat, consume_due)
            last = last_curation_of_source(cat, src, modality)
            history = curation_history(cat, src, modality)
            unversioned = _unversioned(cat, live)
            result.notes += emptied_live_notes(cat)
        lap("index")
        result.notes.append(f"{NOTHING_NEW} ({plan.counts['entries']} entries)")
        if note := unused_options_note(options_changed_since(last, cfg), cfg, src, ws):
            result.notes.append(note)
        if note := stale_curation_note(history, cfg, src, ws):
            result.notes.append(note)
        if plan.counts["entries"] == 0:  # else a mistyped sibling path passes every scheduled run unseen
            result.notes.append(f"{src} lists no entries and the catalog has no samples of it: a mistyped path, or a "
                                "share not mounted?")
        return _finish(result, updates, hooks, ws, seconds, cat, live, consume_due, unversioned)

    # the versions it curates with (preprocess.modality.curation_versions): a later refresh says when they are not the code's
    versions = curation_versions(get_plugin(cfg.modality))
    with catalog_run(ws, "refresh", {"source": src, **asdict(cfg), "backend": backend, "curation_versions": versions}) as rid:
        result.run_id = rid
        hooks.progress(0.2, f"curating {len(plan.inputs)} inputs")
        # nothing to curate (only a repair, an earlier shard to encode, inputs that moved or left): no curation started
        curated = (curate_inputs(plan, ws.home, cfg, backend, lambda keys: current_samples_among(cat, keys, modality))
                   if plan.inputs or plan.leftovers else IncrementalCuration([], [], {}, {}, {}, {}))
        lap("curate")
        if not curated.counts.get("accepted") and curated.batch_paths:
            other = say_if_another_modality(curated.batch_paths, modality, verb="refresh")
            if other:
                result.notes.append(f"no {modality} input was accepted, and files were refused as unsupported_type that "
                                    f"{other} takes: refresh with modality {other} (--modality {other}; a flow run: its "
                                    "modality parameter)")
        hooks.progress(0.5, "registering")
        with hooks.writer(), cat.hold():  # register's own Catalog connects to the held instance
            if repair:  # a wrong-modality refresh superseded these (before refreshes kept to their modality)
                result.repaired = len(revive(cat, repair, rid))
                result.notes.append(f"{result.repaired} {modality} samples superseded by a record of another modality "
                                    "or an unsupported_type rejection are current again")
            before = cat.sql("SELECT count(*) FROM samples")[1][0][0]
            # first: registering a batch seen before is a no-op, so a returning file's sample needs this
            result.revived = len(revive(cat, [k for keys in curated.keys_by_uri.values() for k in keys], rid))
            register(ws, curated.batch_paths, rid)
            result.moved = follow_moves(cat, [(m.key, m.old_uri, m.new_uri) for m in plan.moves], rid)  # before the retirements: a moved sample is not retired
            retirements = _retirements(cat, plan, curated)
            retire(cat, retirements, rid)
            result.new_samples = cat.sql("SELECT count(*) FROM samples")[1][0][0] - before
        result.removed = sum(r.status == "removed" for r in retirements)
        result.superseded = sum(r.status == "superseded" for r in retirements)
        result.curated, result.shard_uris = curated.counts, curated.shard_uris
        lap("register")
        new = {os.path.realpath(uri) for uri in curated.shard_uris}  # the catalog's uris are resolved, these may not be
        earlier = [uri for uri in plan.shards_to_encode if os.path.realpath(uri) not in new]  # an earlier run's, unencoded
        if curated.shard_uris or earlier:
            hooks.progress(0.6, f"encoding {len(curated.shard_uris)} new shards" + (
                f" and {len(earlier)} an earlier run wrote, not encoded since" if earlier else ""))
            encoded = encode(ws.home, plan.modality, encode_cfg, shard_uris=curated.shard_uris + earlier, backend=backend)
            with hooks.writer():
                register(ws, encoded.batch_paths, rid)  # first: a busy catalog says the encoded batches are kept
            result.encoded_shards = len(encoded.batch_paths)
            latent_encoder = encoded.latent_encoder
        lap("encode")
        hooks.progress(0.9, "index and live manifests")
        with hooks.writer(), cat.hold():
            commit_listing(cat, src, plan.modality, stage, rid)  # last: a failed refresh is redone in full
            updates = update_live_manifests(cat, consume_due)
            unversioned = _unversioned(cat, live)
            result.notes += emptied_live_notes(cat)
            history = curation_history(cat, src, modality)  # this run's not completed: its own are the code's
        lap("manifests")
        if note := stale_curation_note(history, cfg, src, ws):
            result.notes.append(note)
    if latent_encoder:  # after the run: the check reads the catalog
        result.notes += latent_size_notes(ws, cfg, latent_encoder, src)
    return _finish(result, updates, hooks, ws, seconds, cat, live, consume_due, unversioned)


# the curated shards holding each of the keys $1, with the size the catalog registered
_CURATED_SHARDS_OF_KEYS = """
SELECT m.key, s.uri, s.bytes FROM shard_samples m JOIN shards s ON s.uri = m.shard_uri
WHERE s.stage = 'curated' AND m.key IN (SELECT unnest(CAST($1 AS VARCHAR[])))
ORDER BY m.key, s.uri"""


def whole_curated_shards(cat, keys: list[str]) -> dict[str, str]:
    """key -> a curated shard holding it that is on disk at its registered size, for those of ``keys``
    that have one (the plan's curated_shards_fn): a refresh encodes it rather than curate the
    unchanged input again. One stat per shard, as encode's own check with a batch file."""
    out: dict[str, str] = {}
    whole: dict[str, bool] = {}
    for key, uri, size in cat.sql(_CURATED_SHARDS_OF_KEYS, [list(keys)])[1]:
        if uri not in whole:
            try:
                whole[uri] = os.stat(uri).st_size == size
            except OSError:  # gone: the input is curated again, its shard written anew
                whole[uri] = False
        if whole[uri]:
            out.setdefault(key, uri)
    return out


def _unversioned(cat, live: list | None) -> list:
    """The live manifests declared now that have no version (they select nothing yet)."""
    from catalog.db import ManifestNotFoundError

    out = []
    for m in live or []:
        try:
            cat.manifest_header(m.name)
        except ManifestNotFoundError:
            out.append(m)
    return out


# the live manifests whose latest version has members, none of them accepted now (removed, superseded)
_EMPTIED_LIVE = """
SELECT m.name, m.version, m.num_members, l.predicate
FROM live_manifests l JOIN manifests m ON m.name = l.name
WHERE m.version = (SELECT max(version) FROM manifests WHERE name = l.name) AND m.num_members > 0
  AND NOT EXISTS (SELECT 1 FROM manifest_members mm JOIN samples s ON s.key = mm.key
                  WHERE mm.manifest = m.name AND mm.version = m.version AND s.status = 'accepted')
ORDER BY m.name"""


def emptied_live_notes(cat) -> list[str]:
    """One line per live manifest whose selection lost every member. Freezing it again selects
    nothing, so it gets no new version, and its latest one still lists the samples that left:
    `lumina train --manifest NAME` trained on every removed sample, without a word (walkthrough of
    2026-12-07: all shape files deleted, `shapes-live@v1` kept its 4 members)."""
    return [f"live manifest {name} selects nothing now ({where}): it gets no new version, and its latest, {name}@v{version}, "
            f"still lists {members} samples none of which is accepted now (removed or superseded since); a training of "
            f"{name} would train on them; every refresh tries again" for name, version, members, where in cat.sql(_EMPTIED_LIVE)[1]]


def _finish(result: RefreshResult, updates: list, hooks: RefreshHooks, ws: Workspace, seconds: dict, cat,
            live: list | None, consume_due: bool, unversioned: list) -> RefreshResult:
    """Announce each update, then consume the due ones; the notes. ``unversioned``: those of
    ``live`` with no version (_unversioned: the caller's last hold found them)."""
    from catalog.source_index import consume_due_training
    from contracts.hold_points import hold_point

    for u in updates:
        hooks.on_manifest(u)
        if u.train_due and consume_due:  # consumed only once announced: a kill before this announces it again
            hold_point("refresh.due-announced")  # announced, not consumed (a fault test's kill)
            with hooks.writer():
                consume_due_training(cat, u)
    result.manifests = [{"manifest": u.id, "members": u.num_members, "previous_members": u.previous_members,
                         "added_since_training": u.added_since_training, "train_due": u.train_due} for u in updates]
    for u in updates:
        if u.train_due and not consume_due:  # no event starts training here: say what would, and keep it due
            sets = " ".join(f"--set {k}={v}" for k, v in sorted(u.train_options.items()))
            result.notes.append(f"training on {u.name} is due ({u.added_since_training} new members) and stays due: "
                                f"lumina train --manifest {u.id} --home {ws.home}" + (f" {sets}" if sets else "")
                                + " (or let the Prefect refresh deployment announce it)")
        elif u.again:  # the flow's event for it went out now
            result.notes.append(f"training on {u.name} is due at {u.id} since an earlier refresh (one stopped before it "
                                f"consumed it, or `lumina refresh`, which announces nothing): {ANNOUNCED_AGAIN}")
    for m in unversioned:  # declared now, stored without a version: say why
        result.notes.append(f"live manifest {m.name} selects nothing yet ({m.where}): no version; every refresh tries again")
    result.seconds = seconds
    hooks.progress(1.0, "done")
    return result


def live_from_params(live_manifests: dict[str, Any] | None) -> list:
    """{name: "WHERE" or {where, description, train_min_growth, train_options}} -> LiveManifest list."""
    from catalog.source_index import LiveManifest
    from contracts.config import from_mapping

    out = []
    for name, spec in (live_manifests or {}).items():
        spec = {"where": spec} if isinstance(spec, str) else dict(spec)
        out.append(from_mapping(LiveManifest, {"name": name, **spec}, where=f"live_manifests.{name}"))
    return out


def announcement(update) -> str:
    """The log line of a live manifest's new version (a catalog.source_index.ManifestUpdate). It said
    "(+3, train due: False)" for a version of 25 members after one of 26: the +3 counts the members
    new since training was last due, not the change from the version before."""
    was = (f", was {update.previous_members} at v{update.previous_version}" if update.previous_version is not None
           else "")
    return (f"lumina.manifest.updated {update.id} ({update.num_members} members{was}; {update.added_since_training} "
            f"new since training was last due; train due: {'yes' if update.train_due else 'no'}"
            + ("; announced again: a refresh before did not consume it" if update.again else "") + ")")


def progress_reporter(artifact, log, update) -> Callable[[float, str], None]:
    """The refresh's progress: logged, and shown on its Prefect progress artifact where the server
    answers; a progress artifact the server cannot take (it restarts) never fails the refresh. After
    the first failure the artifact is left as it is: each update to a server that is down retried
    for about 80 s, so the refresh stood still that long at every progress line."""
    failed = False

    def progress(fraction: float, text: str) -> None:
        nonlocal failed
        log.info(f"{round(100 * fraction)}% {text}")
        if failed:
            return
        try:
            update(artifact_id=artifact, progress=round(100 * fraction, 1), description=text)
        except Exception as e:  # noqa: BLE001 - cosmetic: the catalog, not the artifact, holds the result
            failed = True
            log.warning(f"progress artifact not updated ({type(e).__name__}: {e}); the refresh goes on without it")
    return progress


def own_options(modality: str, options: dict[str, Any],
                deployment_options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """``options`` less those this modality has no such option for but another modality has:
    (kept, {option: the modalities that take it}). The `refresh` deployment's one set of parameters
    serves every modality: its `options: {vae_factor: 1}` (image, video, multi-view) made the
    documented `prefect deployment run refresh/refresh --param modality=speech ...` fail with
    `speech options: unknown option(s) vae_factor`. An option no modality knows (a typo) is kept,
    so that the modality's own check refuses it. Given the deployment's own ``deployment_options``
    (a run of a deployment), only those are left out: an option the run itself gave in another
    modality's name (video's `max_duration`, speech's name for its `max_seconds`) is a slip, refused
    as before, not dropped with the run curating at the default."""
    from dataclasses import fields

    from contracts.records import Modality
    from preprocess.modality import get_plugin

    plugin = get_plugin(modality)
    own = {f.name for f in fields(plugin.options_cls)}
    if set(options) <= own:
        return options, {}
    others = {m.value: {f.name for f in fields(get_plugin(m).options_cls)} for m in Modality if m != plugin.modality}
    dropped = {k: takers for k in options if k not in own and (takers := [m for m, names in others.items() if k in names])}
    if deployment_options is not None:
        dropped = {k: takers for k, takers in dropped.items() if k in deployment_options and deployment_options[k] == options[k]}
    return {k: v for k, v in options.items() if k not in dropped}, dropped


def deployment_options() -> dict[str, Any] | None:
    """The `options` parameter of the deployment this flow run was started from (what prefect.yaml
    gives every run of it); None outside a deployment's run or when the server cannot say."""
    from prefect.runtime import deployment

    try:
        if not deployment.id:
            return None
        from uuid import UUID

        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            return dict(client.read_deployment(UUID(deployment.id)).parameters.get("options") or {})
    except Exception:  # noqa: BLE001 - then every other modality's option is left out, as before
        return None


def refresh_flow(source: str | None = None, modality: str = "image", home: str | None = None, options: dict[str, Any] | None = None,
                 encode_options: dict[str, Any] | None = None, live_manifests: dict[str, Any] | None = None,
                 backend: str = "ray", ray_address: str | None = None, allow_empty_source: bool = False) -> dict:
    """Curate and encode what is new or changed in ``source`` (default: $LUMINA_REFRESH_SOURCE);
    retire what left; re-freeze live manifests. Curation options not given in ``options`` are
    those the source was last curated or refreshed with."""
    from prefect.artifacts import create_markdown_artifact, create_progress_artifact, create_table_artifact, update_progress_artifact

    from contracts.config import from_mapping
    from flows.artifact_keys import artifact_key
    from flows.events import emit_manifest_updated
    from flows.steps import catalog_writer, in_run_log
    from preprocess.encode import EncodeConfig

    source = source or os.environ.get(SOURCE_ENV)
    if not source:
        raise ValueError(f"refresh: no source (pass `source` or set {SOURCE_ENV} in the worker's environment)")
    if backend not in ("ray", "local"):  # checked by the stages only when there is something to curate
        raise ValueError(f"refresh: backend must be 'ray' or 'local', got {backend!r}")
    encode_cfg = from_mapping(EncodeConfig, encode_options or {}, where="encode_options")
    live = live_from_params(live_manifests)
    if ray_address:
        os.environ["RAY_ADDRESS"] = ray_address  # join that cluster (contracts/ray_runtime.ensure_ray)
    log = get_run_logger()
    ws = Workspace.at(home)
    named = source_run_name({"source": source, "modality": modality})  # each source's artifacts one history
    artifact = create_progress_artifact(progress=0.0, key=artifact_key("refresh-progress", named), description=f"refresh of {source}")

    progress = progress_reporter(artifact, log, update_progress_artifact)

    def announce(update) -> None:
        emit_manifest_updated(update, str(ws.home))
        log.info(announcement(update))

    hooks = RefreshHooks(progress, catalog_writer, announce, log.warning)  # one catalog writer at a time across flow runs
    options, not_ours = own_options(modality, options or {}, deployment_options())
    for name, takers in not_ours.items():  # the deployment's options serve every modality
        log.info(f"options.{name} is no {modality} option ({', '.join(takers)} take it): not used by this refresh")
    cfg, reused = reuse_curation(ws.home, source, modality, {"options": options})
    # the stages' own messages ("waiting for the catalog ... (PID n)", "resuming an interrupted curation")
    # in the run's log too: Prefect sends only its own loggers there, so they were on the worker's console only
    try:
        with in_run_log("catalog"), in_run_log("preprocess"), in_run_log("encoders"):
            result = refresh_source(source, ws.home, cfg, encode_cfg, live, backend, hooks, allow_empty_source=allow_empty_source)
    except Exception as e:
        # a failed run wrote no summary: the UI's latest refresh-summary was the last success's
        create_markdown_artifact(key=artifact_key("refresh-summary", named), markdown=failure_markdown(source, modality, e))
        raise
    result.reused_options = reused if result.curated else {}  # options used, not only found
    if note := reused_options_note(result):
        log.info(note)
    if result.noop:
        log.info(f"refresh of {result.source}: {NOTHING_NEW} ({result.plan['entries']} entries)"
                 + ("; live manifests re-frozen on what other stages registered"
                    if len(result.manifests) > sum(n.endswith(ANNOUNCED_AGAIN) for n in result.notes) else ""))
    for note in result.notes:
        if not note.startswith(NOTHING_NEW):
            log.warning(note)
    create_table_artifact(key=artifact_key("refresh-counts", named), table=counts_table(result), description=f"refresh of {result.source}")
    create_markdown_artifact(key=artifact_key("refresh-summary", named), markdown=summary_markdown(result))
    return asdict(result)


def source_run_name(parameters: dict[str, Any], no_source: str = "no-source") -> str:
    """A flow run's name from its parameters: modality and the source's last folder (`image-coco`,
    `speech-speech`), the worker's $LUMINA_REFRESH_SOURCE when none is given. `prefect flow-run ls`
    and the UI listed every run under a random name (`xanthic-jaguar`): a team refreshing an image
    and a speech folder could not tell which run was which, nor which one failed, without opening it."""
    given = str(parameters.get("source") or os.environ.get(SOURCE_ENV) or no_source)
    # as UTF-8 text: the worker's environment holds a path that is not UTF-8 as lone surrogates, and
    # Prefect's PATCH of such a name raised UnicodeEncodeError outside this function: the run failed
    source = printable_path(given.rstrip("/") or given)
    return f"{parameters.get('modality') or 'image'}-{os.path.basename(source) or source}"


def run_name() -> str:
    """The refresh flow's run name (Prefect calls it as the run starts, its parameters in prefect.runtime)."""
    from prefect.runtime import flow_run

    try:
        return source_run_name(flow_run.parameters)
    except Exception:  # noqa: BLE001 - a name must never fail the run
        return "refresh"


# The Prefect flow is made of this plain function the first time ``refresh_flow`` is asked for
# (module __getattr__: the deployment's entrypoint flows/refresh.py:refresh_flow, or an import),
# so that the library function and `lumina refresh` do not import Prefect (1.1 s of CPU).
_refresh_flow_fn = refresh_flow
del refresh_flow


def __getattr__(name: str) -> Any:
    if name in ("refresh_flow", "get_run_logger"):  # get_run_logger: what the flow logs with (a test swaps it)
        from prefect import flow, get_run_logger

        globals().setdefault("get_run_logger", get_run_logger)
        if "refresh_flow" not in globals():
            globals()["refresh_flow"] = flow(name="refresh", flow_run_name=run_name, log_prints=True)(_refresh_flow_fn)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def counts_table(result: RefreshResult) -> list[dict[str, Any]]:
    """The rows of the flow's `refresh-counts` table artifact: the plan's counts and what changed."""
    changed = {"new_samples": result.new_samples, "removed": result.removed, "superseded": result.superseded,
               "revived": result.revived, "repaired": result.repaired, "moved": result.moved, "shards": len(result.shard_uris)}
    return [{"what": k, "count": v} for k, v in {**result.plan, **changed}.items()]


def failure_markdown(source: str, modality: str, error: BaseException) -> str:
    """The `refresh-summary` artifact of a run that failed: the error's line, and that the counts
    table is still the last completed run's (helper E's walkthrough: a failed run left the previous
    success's summary as the latest, its progress at 5%)."""
    line = f"{type(error).__name__}: {error}".splitlines()[0]
    return "\n".join([f"# refresh ({modality}): failed", "", f"- source: `{source}`", f"- error: {line}",
                      "- refresh-counts is the last completed run's; the run's log has the whole error"])


def manifest_line(m: dict) -> str:
    """A live-manifest version as `lumina refresh` and the summary artifact show it (both showed the raw
    dict): 'image-live@v2  40 members (was 28), training due (12 new members)'."""
    was = f" (was {m['previous_members']})" if m.get("previous_members") else ""
    due = (f"training due ({m['added_since_training']} new members)" if m.get("train_due")
           else "training not due")
    return f"{m['manifest']}  {m['members']} members{was}, {due}"


def summary_markdown(result: RefreshResult) -> str:
    """The flow's `refresh-summary` markdown artifact."""
    return "\n".join([
        f"# refresh ({result.modality})", "", f"- source: `{result.source}`",
        # a no-op records no run: its summary read "- run: `None` (noop: True)"
        f"- run: `{result.run_id}`" + (" (no-op)" if result.noop else "") if result.run_id
        else "- run: none (nothing new or changed: no run recorded)",
        f"- curated: {result.curated}", f"- new samples: {result.new_samples}, removed: {result.removed}, superseded: "
        f"{result.superseded}, revived: {result.revived}, repaired: {result.repaired}, moved: {result.moved}",
        f"- new shards: {len(result.shard_uris)}, encoded: {result.encoded_shards}" + (
            f" (with {n} an earlier run wrote, not encoded since)" if (n := result.plan.get("unencoded_shards")) else ""),
        f"- live manifests: {'; '.join(manifest_line(m) for m in result.manifests) or 'none'}", f"- seconds: {result.seconds}",
        # what the run logged as warnings (a due training, an emptied live manifest, other curation options):
        # the summary is what the UI's artifacts show, and it had none of them
        *(["", "## Notes", ""] + [f"- {note}" for note in result.notes] if result.notes else [])])


# --------------------------------------------------------------------------- cache keys
# Prefect cache keys for whole-source stages (data_to_model's curate and encode tasks): a rerun on
# the same data and the same workspace is served from the task cache and says so. The workspace
# enters through its catalog file's inode: a wiped or replaced catalog is a new key.


def _catalog_identity(home: str | None) -> str:
    path = Workspace.at(home).catalog
    return str(path.stat().st_ino) if path.exists() else "none"


def curate_cache_key(context, parameters: dict[str, Any]) -> str | None:
    """(source content, modality, options, workspace) -> key; None (no caching) if the source is unreadable."""
    import hashlib
    import json

    from preprocess.refresh import source_fingerprint

    # the source read as the task reads it (lumina demo --caption-column text): with the default caption
    # column its listing was unreadable (no caching), and another caption column kept the key
    reading = parameters.get("source_options") or {}
    try:
        fp = source_fingerprint(_spec(parameters["source"], CurateConfig(modality=parameters["modality"], **reading)))
    except (OSError, ValueError):
        return None
    from preprocess.modality import curation_versions, get_plugin

    # the code's curation versions too: after an upgrade that changes a filter or the caption normalisation,
    # data_to_model curates again rather than reuse the curation the older code made
    versions = curation_versions(get_plugin(parameters["modality"]))
    blob = json.dumps([fp, parameters["modality"], parameters.get("options"), str(Workspace.at(parameters["home"]).home),
                       _catalog_identity(parameters["home"]), versions, *([reading] if reading else [])], sort_keys=True, default=str)
    return "lumina-curate-" + hashlib.sha256(blob.encode()).hexdigest()[:32]


def encode_cache_key(context, parameters: dict[str, Any]) -> str | None:
    """(curated shards by name and size, modality, encoder options, workspace) -> key."""
    import hashlib
    import json

    shards = []
    for uri in sorted(parameters.get("shard_uris") or []):
        try:
            shards.append((uri, os.stat(uri).st_size))
        except OSError:
            return None
    blob = json.dumps([shards, parameters["modality"], parameters.get("options"), str(Workspace.at(parameters["home"]).home),
                       _catalog_identity(parameters["home"])], sort_keys=True, default=str)
    return "lumina-encode-" + hashlib.sha256(blob.encode()).hexdigest()[:32]
