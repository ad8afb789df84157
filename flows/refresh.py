"""Incremental refresh: curate and encode only what is new or changed in a source, retire what
left, re-freeze live manifests and announce their new versions.

``refresh_source`` is the library function (`lumina refresh` calls it; it runs without Prefect);
``refresh_flow`` is the Prefect flow the scheduled ``refresh`` deployment runs: the same call
with progress artifacts, the global catalog-writer concurrency limit around every catalog write,
and a ``lumina.manifest.updated`` event per new live-manifest version.

A refresh with nothing new in its source starts no run, writes no shard and adds no sample: it
records that the source's entries were seen (source_index.last_seen), and still re-freezes the
live manifests (a new version when other stages registered samples their selection matches).
"""

from __future__ import annotations

import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, ContextManager

from prefect import flow, get_run_logger

from contracts.layout import Workspace
from preprocess.curate import CurateConfig

SOURCE_ENV = "LUMINA_REFRESH_SOURCE"  # the scheduled deployment's source when the parameter is unset


@dataclass
class RefreshHooks:
    progress: Callable[[float, str], None] = lambda fraction, text: None
    writer: Callable[[], ContextManager] = nullcontext  # held around each catalog write
    on_manifest: Callable[[Any], None] = lambda update: None  # a live manifest got a new version


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
    shard_uris: list[str] = field(default_factory=list)
    encoded_shards: int = 0
    manifests: list[dict] = field(default_factory=list)  # live-manifest versions made now
    seconds: dict[str, float] = field(default_factory=dict)


def _spec(source: str, cfg: CurateConfig):
    from preprocess.sources import SourceSpec

    return SourceSpec(str(source), caption_key=cfg.caption_key, path_column=cfg.path_column, caption_column=cfg.caption_column,
                      media_column=cfg.media_column, follow_symlinks=cfg.follow_symlinks)


def _retirements(cat, plan, curated) -> list:
    """Old samples of re-curated inputs are superseded by the input's new sample; samples of inputs
    that left the source are removed. One query each, whatever the number of inputs."""
    from catalog.source_index import Retirement, current_samples_of

    input_of = {entry: uri for uri, entries in plan.recurated_uris.items() for entry in entries}
    out = []
    for key, _, _, source_uri in current_samples_of(cat, sorted(input_of)):
        new = curated.keys_by_uri.get(input_of[source_uri], [])
        if new and key not in new:
            out.append(Retirement(key, "superseded", f"superseded: by {new[0]}", new[0]))
    for key, _, _, _ in current_samples_of(cat, plan.removed_uris):
        out.append(Retirement(key, "removed", "removed: no longer in the source"))
    return out


def refresh_source(source: str, home: str | os.PathLike | None = None, cfg: CurateConfig | None = None,
                   encode_cfg=None, live: list | None = None, backend: str = "ray",
                   hooks: RefreshHooks | None = None) -> RefreshResult:
    """Bring the catalog up to date with ``source`` (see the module docstring)."""
    from catalog import Catalog
    from catalog.source_index import (commit_listing, declare_live_manifest, diff_listing, index_signatures, revive,
                                      retire, samples_gone_from_source, update_live_manifests)
    from flows.steps import catalog_run, register
    from preprocess.encode import EncodeConfig, encode
    from preprocess.modality import get_plugin
    from preprocess.refresh import curate_inputs, plan_refresh, source_identity, source_scope

    cfg, encode_cfg, hooks = cfg or CurateConfig(), encode_cfg or EncodeConfig(), hooks or RefreshHooks()
    ws = Workspace.at(home)
    spec = _spec(source, cfg)
    src = source_identity(spec)
    t = time.time()
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal t
        seconds[name] = round(time.time() - t, 2)
        t = time.time()

    with hooks.writer():
        cat = Catalog.open(ws.catalog)  # each call below opens and closes its own connection
        for m in live or []:
            declare_live_manifest(cat, m)
    known = index_signatures(cat, src, cfg.modality)
    hooks.progress(0.05, "listing and hashing the source")
    modality = get_plugin(cfg.modality).modality.value
    prefixes, patterns = source_scope(spec)
    plan = plan_refresh(spec, cfg, known, lambda listing: diff_listing(cat, src, cfg.modality, listing),
                        lambda present: samples_gone_from_source(cat, src, modality, prefixes, patterns, present))
    lap("scan")
    result = RefreshResult(src, plan.modality, plan.empty, plan=plan.counts)
    if plan.empty:
        with hooks.writer():
            commit_listing(cat, src, plan.modality, plan.listing, None)
            updates = update_live_manifests(cat)
        lap("index")
        return _finish(result, updates, hooks, ws, seconds)

    with catalog_run(ws, "refresh", {"source": src, **asdict(cfg), "backend": backend}) as rid:
        result.run_id = rid
        hooks.progress(0.2, f"curating {len(plan.inputs)} inputs")
        curated = curate_inputs(plan, ws.home, cfg, backend)
        lap("curate")
        hooks.progress(0.5, "registering")
        with hooks.writer():
            before = cat.sql("SELECT count(*) FROM samples")[1][0][0]
            # first: registering a batch seen before is a no-op, so a returning file's sample needs this
            result.revived = len(revive(cat, [k for keys in curated.keys_by_uri.values() for k in keys], rid))
            register(ws, curated.batch_paths, rid)
            retirements = _retirements(cat, plan, curated)
            retire(cat, retirements, rid)
            result.new_samples = cat.sql("SELECT count(*) FROM samples")[1][0][0] - before
        result.removed = sum(r.status == "removed" for r in retirements)
        result.superseded = sum(r.status == "superseded" for r in retirements)
        result.curated, result.shard_uris = curated.counts, curated.shard_uris
        lap("register")
        if curated.shard_uris:
            hooks.progress(0.6, f"encoding {len(curated.shard_uris)} new shards")
            encoded = encode(ws.home, plan.modality, encode_cfg, shard_uris=curated.shard_uris, backend=backend)
            with hooks.writer():
                register(ws, encoded.batch_paths, rid)
            result.encoded_shards = len(encoded.batch_paths)
        lap("encode")
        hooks.progress(0.9, "index and live manifests")
        with hooks.writer():
            commit_listing(cat, src, plan.modality, plan.listing, rid)  # last: a failed refresh is redone in full
            updates = update_live_manifests(cat)
        lap("manifests")
    return _finish(result, updates, hooks, ws, seconds)


def _finish(result: RefreshResult, updates: list, hooks: RefreshHooks, ws: Workspace, seconds: dict) -> RefreshResult:
    for u in updates:
        hooks.on_manifest(u)
    result.manifests = [{"manifest": u.id, "members": u.num_members, "previous_members": u.previous_members,
                         "added_since_training": u.added_since_training, "train_due": u.train_due} for u in updates]
    result.seconds = seconds
    hooks.progress(1.0, "done")
    return result


def live_from_params(live_manifests: dict[str, Any] | None) -> list:
    """{name: "WHERE" or {where, description, train_min_growth, train_options}} -> LiveManifest list."""
    from catalog.source_index import LiveManifest

    out = []
    for name, spec in (live_manifests or {}).items():
        spec = {"where": spec} if isinstance(spec, str) else dict(spec)
        out.append(LiveManifest(name=name, **spec))
    return out


@flow(name="refresh", log_prints=True)
def refresh_flow(source: str | None = None, modality: str = "image", home: str | None = None, options: dict[str, Any] | None = None,
                 encode_options: dict[str, Any] | None = None, live_manifests: dict[str, Any] | None = None,
                 backend: str = "ray", ray_address: str | None = None) -> dict:
    """Curate and encode what is new or changed in ``source`` (default: $LUMINA_REFRESH_SOURCE);
    retire what left; re-freeze live manifests."""
    from prefect.artifacts import create_markdown_artifact, create_progress_artifact, create_table_artifact, update_progress_artifact

    from flows.events import emit_manifest_updated
    from flows.steps import catalog_writer
    from preprocess.encode import EncodeConfig

    source = source or os.environ.get(SOURCE_ENV)
    if not source:
        raise ValueError(f"refresh: no source (pass `source` or set {SOURCE_ENV} in the worker's environment)")
    if ray_address:
        os.environ["RAY_ADDRESS"] = ray_address  # join that cluster (contracts/ray_runtime.ensure_ray)
    log = get_run_logger()
    ws = Workspace.at(home)
    artifact = create_progress_artifact(progress=0.0, key="refresh-progress", description=f"refresh of {source}")

    def progress(fraction: float, text: str) -> None:
        update_progress_artifact(artifact_id=artifact, progress=round(100 * fraction, 1), description=text)
        log.info(f"{round(100 * fraction)}% {text}")

    def announce(update) -> None:
        emit_manifest_updated(update, str(ws.home))
        log.info(f"lumina.manifest.updated {update.id} (+{update.added_since_training}, train due: {update.train_due})")

    hooks = RefreshHooks(progress, catalog_writer, announce)  # one catalog writer at a time across flow runs
    result = refresh_source(source, ws.home, CurateConfig(modality=modality, options=options or {}),
                            EncodeConfig(**(encode_options or {})), live_from_params(live_manifests), backend, hooks)
    if result.noop:
        log.info(f"refresh of {result.source}: nothing new or changed in the source ({result.plan['entries']} entries)"
                 + ("; live manifests re-frozen on what other stages registered" if result.manifests else ""))
    rows = [{"what": k, "count": v} for k, v in {**result.plan, "new_samples": result.new_samples, "removed": result.removed,
                                                  "superseded": result.superseded, "shards": len(result.shard_uris)}.items()]
    create_table_artifact(key="refresh-counts", table=rows, description=f"refresh of {result.source}")
    create_markdown_artifact(key="refresh-summary", markdown="\n".join(
        [f"# refresh ({result.modality})", "", f"- source: `{result.source}`", f"- run: `{result.run_id}` (noop: {result.noop})",
         f"- curated: {result.curated}", f"- new shards: {len(result.shard_uris)}, encoded: {result.encoded_shards}",
         f"- live manifests: {result.manifests}", f"- seconds: {result.seconds}"]))
    return asdict(result)


def main(argv: list[str] | None = None) -> int:
    """`lumina refresh SOURCE --modality M`: the refresh without Prefect."""
    from contracts.config import ArgumentParser
    import json

    from flows.cli_config import add_common_args, add_config_args, add_curation_args, config_from_args, curation_options
    from preprocess.encode import EncodeConfig

    p = ArgumentParser(prog="lumina refresh", description="Curate and encode only what is new or changed in a "
                                "source since the last refresh; mark what left as removed; re-freeze live manifests.")
    p.add_argument("source", help="a folder, a tar glob, a listing or a datasets folder (as for lumina curate)")
    add_common_args(p)
    add_config_args(p, CurateConfig, skip=("options",))
    add_curation_args(p)
    p.add_argument("--encode-config", help="YAML of EncodeConfig fields for the new shards")
    p.add_argument("--live", action="append", default=[], metavar="NAME=WHERE",
                   help="declare (or change) a live manifest: a stored selection re-frozen by every refresh")
    p.add_argument("--train-min-growth", type=int, help="with --live: new members that make training due (the event's label)")
    p.add_argument("--ray-address", help="join this Ray cluster (same as RAY_ADDRESS)")
    p.add_argument("--local", action="store_true", help="run without Ray (debugging)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    a = p.parse_args(argv)
    if a.ray_address:
        os.environ["RAY_ADDRESS"] = a.ray_address
    from catalog.source_index import LiveManifest
    from contracts.config import load_config

    live = []
    for item in a.live:
        name, sep, where = item.partition("=")
        if not sep or not where.strip():
            p.error(f"--live {item!r}: use NAME=WHERE")
        live.append(LiveManifest(name.strip(), where.strip(), train_min_growth=a.train_min_growth))
    cfg = config_from_args(CurateConfig, a)
    cfg.options = curation_options(a, cfg.options)
    result = refresh_source(a.source, a.home, cfg, load_config(EncodeConfig, a.encode_config, {}), live, "local" if a.local else "ray")
    out = asdict(result)
    if a.json:
        print(json.dumps(out, indent=1, default=str))
    else:
        for k, v in out.items():
            if k != "shard_uris":
                print(f"{k:16s}{v}")
    return 0


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

    try:
        fp = source_fingerprint(_spec(parameters["source"], CurateConfig(modality=parameters["modality"])))
    except (OSError, ValueError):
        return None
    blob = json.dumps([fp, parameters["modality"], parameters.get("options"), str(Workspace.at(parameters["home"]).home),
                       _catalog_identity(parameters["home"])], sort_keys=True, default=str)
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
