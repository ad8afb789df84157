"""Each stage as a library function that also leaves the catalog up to date.

These run without Prefect: the `lumina` commands call them directly, and the Prefect flows
(flows/<stage>.py) wrap the same calls in tasks. The calling process is the one catalog writer;
workers only write shards and batch files.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator

from contracts.hold_points import hold_point
from contracts.layout import Workspace, from_last_runs
from contracts.records import Modality

log = logging.getLogger(__name__)


@contextmanager
def catalog_run(ws: Workspace, flow_name: str, params: dict[str, Any], run_id: str | None = None,
                catalog: str | Path | None = None) -> Iterator[str]:
    """A run row for the duration of a stage: completed, or failed if the stage raised. Inside a
    composing flow (run_id given) the flow's own run is used and the flow finishes it. ``catalog``:
    a stage given its own (--catalog) records its run there, beside what it registers."""
    from catalog import Catalog

    if run_id is not None:
        yield run_id
        return
    path = catalog or ws.catalog
    with Catalog.open(path) as cat:
        run_id = cat.start_run(flow_name, params, run_id=run_id)
    try:
        # beats while the stage runs: a run whose owner is on another host (a container's hostname, a
        # shared catalog) is judged by its heartbeat, and without beats the next run on that catalog
        # marked a live stage abandoned after $LUMINA_RUN_HEARTBEAT_TIMEOUT_S (30 min)
        with Catalog.open(path).keep_alive(run_id, every_s=HEARTBEAT_EVERY_S):
            yield run_id
    except BaseException as e:
        with Catalog.open(path) as cat:
            cat.finish_run(run_id, status="cancelled" if stopped_from_outside(e) else "failed")
        raise
    with Catalog.open(path) as cat:
        cat.finish_run(run_id, status="completed")


def stopped_from_outside(e: BaseException) -> bool:
    """A stop someone asked for, not a failure: training's own signal stop, Ctrl-C, or the signal a
    Prefect cancellation sends (its engine raises TerminationSignal, or the process exits)."""
    from training.stopping import TrainingStopped

    if isinstance(e, (TrainingStopped, KeyboardInterrupt, SystemExit)):
        return True
    # only Prefect's engine raises TerminationSignal: where Prefect is not loaded (a CLI run) the
    # import is not paid for (~0.8 s of CPU at every failed or cancelled run's end)
    exceptions = sys.modules.get("prefect.exceptions")
    return exceptions is not None and isinstance(e, exceptions.TerminationSignal)


CATALOG_WRITER = "lumina-catalog-writer"  # Prefect global concurrency limit (limit 1; see docs/deployments.md)
WRITER_WAIT_SAY_EVERY_S = 60.0  # how often a flow run waiting for that slot says so
HEARTBEAT_EVERY_S = 300.0  # a stage's run beats this often: well inside the 30 min after which others call it abandoned
_holding_writer: ContextVar[bool] = ContextVar("lumina_holding_catalog_writer", default=False)


class _SlotWaitTimeout(logging.Filter):
    """Prefect's slot service logs each acquisition that timed out as an ERROR ('Service
    ConcurrencySlotAcquisition...Service failed to process item ... TimeoutError') beside
    catalog_writer's own warning, on the worker's console at every 60-s wait for the writer slot: a
    routine wait read as a failure to a team alerting on ERROR lines (helper E's deployment walkthrough).
    catalog_writer asks with a timeout on purpose and says each wait itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not ("ConcurrencySlotAcquisition" in text and "TimeoutError" in text)


def _quiet_slot_wait_timeouts() -> None:
    logger = logging.getLogger("prefect._internal.concurrency")
    if not any(isinstance(f, _SlotWaitTimeout) for f in logger.filters):
        logger.addFilter(_SlotWaitTimeout())


@contextmanager
def catalog_writer() -> Iterator[None]:
    """Inside a Prefect flow or task run: hold the global concurrency limit that lets one flow run
    at a time write the catalog (a missing limit is no limit). Re-entrant; outside Prefect a no-op."""
    if _holding_writer.get() or "prefect.context" not in sys.modules:  # no flow run without Prefect imported
        yield
        return
    try:
        from prefect.context import FlowRunContext, TaskRunContext
    except ImportError:
        yield
        return
    if FlowRunContext.get() is None and TaskRunContext.get() is None:
        yield
        return
    from prefect import get_run_logger
    from prefect.concurrency.sync import concurrency

    _quiet_slot_wait_timeouts()
    token = _holding_writer.set(True)
    try:
        with ExitStack() as held:
            waited = 0.0
            while True:  # Prefect waits for the slot without a word, for ever: say so now and then
                try:
                    held.enter_context(concurrency(CATALOG_WRITER, occupy=1, timeout_seconds=WRITER_WAIT_SAY_EVERY_S))
                    break
                except TimeoutError:  # the acquisition's: the body below is not inside this try
                    waited += WRITER_WAIT_SAY_EVERY_S
                    get_run_logger().warning(f"waiting {waited:.0f} s for the {CATALOG_WRITER} slot: another flow run is writing the "
                                f"catalog, or a slot is left taken (a Prefect server restarted while a run held it: "
                                f"`prefect gcl inspect {CATALOG_WRITER}`, docs/deployments.md)")
            yield
    finally:
        _holding_writer.reset(token)


def create_catalog_writer_limit() -> bool:
    """Create the catalog-writer limit (1 slot) on the Prefect server in use, unless it has one;
    True when created. `lumina demo` calls it on the server it starts itself, which begins empty:
    without the limit Prefect warns at every catalog write and lets writers overlap."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(CATALOG_WRITER)
            return False
        except ObjectNotFound:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=CATALOG_WRITER, limit=1))
            return True


def register(ws: Workspace, batch_paths: list[str], run_id: str) -> dict[str, int]:
    from catalog import Catalog, CatalogBusyError

    try:
        with catalog_writer(), Catalog.open(ws.catalog) as cat:
            return cat.register_batches(batch_paths, run_id)
    except CatalogBusyError as e:  # the work is on disk; only its registration is missing
        raise CatalogBusyError(f"{e}. The {len(batch_paths)} finished batch(es) stay on disk: run the same command "
                               "again once the catalog is free: it reuses what was written (the same keys) and registers it") from None


# --------------------------------------------------------------------------- curate


def curate_step(source: str, home: str | None, cfg, backend: str = "ray", run_id: str | None = None) -> dict:
    """Curate a source and register every input (accepted, rejected, quarantined)."""
    from preprocess.curate import curate
    from preprocess.modality import curation_versions, get_plugin
    from preprocess.refresh import source_identity
    from preprocess.sources import detect_kind

    # a mistyped modality, option or source fails here, before a catalog (or a failed run) exists
    get_plugin(cfg.modality).options(cfg.options)
    detect_kind(source)
    ws = Workspace.at(home)
    # the source as a refresh names it (absolute, as the samples' source_uri): a later refresh of
    # it knows which samples a curate of it took in
    # and the code's curation versions (caption normalisation, filters): a refresh says when they are not its own
    params = {"source": source_identity(source), **asdict(cfg), "curation_versions": curation_versions(get_plugin(cfg.modality))}
    with catalog_run(ws, "curate", params, run_id) as rid:
        result = curate(source, ws.home, cfg, backend)
        registered = register(ws, result.batch_paths, rid)
        hold_point("curate.registered")  # every batch registered, the run not yet completed (a fault test's kill)
    if not result.counts.get("accepted"):
        say_if_another_modality(result.batch_paths, result.modality)
    return {"run_id": rid, "modality": result.modality, "counts": result.counts, "reasons": result.reasons,
            "shards": len(result.shard_uris), "shard_uris": result.shard_uris, "registered": registered}


def say_if_another_modality(batch_paths: list[str], modality: str, verb: str = "curate") -> str | None:
    """Nothing accepted, and inputs another modality takes: files refused as unsupported_type of its
    suffixes (a folder of WAVs curated as video), or folders marked as its inputs (camera files of
    multi-view objects curated as images). Say which, on stderr. Returns that modality."""
    from collections import Counter

    from contracts.records import Batch
    from preprocess.modality import get_plugin

    rows = [s for p in batch_paths for s in Batch.read(p).samples]
    suffixes = Counter(Path(s.source_uri.partition("#")[0]).suffix.lower() for s in rows
                       if (s.reason or "").startswith("unsupported_type"))
    names = Counter(s.source_uri.replace("#", "/").rsplit("/", 1)[-1] for s in rows)
    takers = [get_plugin(m) for m in Modality if m.value != modality]
    # loose files are no input of a modality that takes folders of them (plugin.single_file_inputs)
    by_suffix = {p.modality.value: sum(n for suf, n in suffixes.items() if suf in p.media_suffixes)
                 for p in takers if p.single_file_inputs}
    by_marker = {p.modality.value: sum(n for name, n in names.items() if any(name == m or name.endswith("." + m) for m in p.input_markers))
                 for p in takers}
    marked, folders = max(by_marker.items(), key=lambda kv: kv[1], default=(None, 0))
    if folders:
        log.warning("no %s input was accepted, and %d folders hold %s, which make them %s inputs: %s with --modality %s",
                    modality, folders, " or ".join(get_plugin(marked).input_markers), marked, verb, marked)
        return marked
    other, n = max(by_suffix.items(), key=lambda kv: kv[1], default=(None, 0))
    if not n:
        return None
    taken = Counter({suf: k for suf, k in suffixes.items() if suf in get_plugin(other).media_suffixes})  # not its .csv
    log.warning("no %s input was accepted, and %d files were refused as unsupported_type that %s takes (%s): "
                "%s with --modality %s", modality, n, other,
                ", ".join(f"{suf} x{k}" for suf, k in taken.most_common(3)), verb, other)
    return other


# --------------------------------------------------------------------------- encode


def encode_step(home: str | None, modality: str, cfg, backend: str = "ray", run_id: str | None = None,
                shard_uris: list[str] | None = None) -> dict:
    from preprocess.encode import check_curated_shards, check_latent_grid, encode, shards_to_encode

    Modality.parse(modality)  # before a catalog (or a failed run) exists
    cfg.check_paths(modality)  # the modality's default text encoder's layers too
    ws = Workspace.at(home)
    # nothing to encode (a mistyped --home), or images a VAE cannot take (curated for another
    # latent downsampling): one line, before a catalog, a run or a workspace exists
    shard_uris = shards_to_encode(ws.home, modality, shard_uris)
    check_latent_grid(shard_uris, cfg, modality)
    check_curated_shards(shard_uris)  # refused before a run is recorded, not as a failed one
    started = time.time()
    with catalog_run(ws, "encode", {"modality": modality, **asdict(cfg)}, run_id) as rid:
        # lumina encode's flag; demo and the Prefect flows set the same max_tokens in their encode options
        result = encode(ws.home, modality, cfg, shard_uris=shard_uris, backend=backend, checked=True,
                        more_tokens="a larger max_tokens (`lumina encode --max-tokens`)")
        registered = register(ws, result.batch_paths, rid)
        hold_point("encode.registered")  # every shard registered, the run not yet completed (a fault test's kill)
    warn_if_curated_for_another_latent(ws, modality, result.latent_encoder)
    # an encoded shard that is complete is reused, not encoded again: its batch file predates this run
    reused = sum(os.stat(p).st_mtime < started for p in result.batch_paths)
    return {"run_id": rid, "modality": modality, "latent_encoder": result.latent_encoder, "text_encoder": result.text_encoder,
            "shards": len(result.batch_paths), "encoded_now": len(result.batch_paths) - reused, "already_encoded": reused,
            "registered": registered,
            "shard_uris": [p.removesuffix(".batch.json") for p in result.batch_paths]}


def warn_if_curated_for_another_latent(ws: Workspace, modality: str, latent_fingerprint: str,
                                       manifest: tuple[str, int] | None = None) -> int:
    """Samples whose size was fitted to a token budget for another latent downsampling than the
    encoder's (curated with --vae-factor 8, encoded with identity latents: up to 64x the tokens).
    All accepted samples of `modality`, or only a manifest's (name, version) members. Says so on
    stderr; returns how many."""
    found = curated_for_another_latent(ws, modality, latent_fingerprint, manifest)
    for _, message in found:
        log.warning("%s", message)
    return sum(n for n, _ in found)


def curated_for_another_latent(ws: Workspace, modality: str, latent_fingerprint: str,
                               manifest: tuple[str, int] | None = None) -> list[tuple[int, str]]:
    """(how many samples, what to say) per latent factor they were curated for that is not the
    encoder's (warn_if_curated_for_another_latent; lumina refresh makes notes of them)."""
    from catalog import Catalog

    info = ws.encoder_info(latent_fingerprint)
    factor = json.loads(info.read_text()).get("downsample") if info.is_file() else None
    if factor is None:
        return []
    members = " AND key IN (SELECT key FROM manifest_members WHERE manifest = ? AND version = ?)" if manifest else ""
    with Catalog.open(ws.catalog, read_only=True) as cat:
        _, rows = cat.sql("SELECT CAST(meta->>'latent_factor' AS INTEGER) AS f, count(*) FROM samples WHERE modality = ? "
                          "AND status = 'accepted' AND meta->>'latent_factor' IS NOT NULL" + members + " GROUP BY f",
                          [modality, *(manifest or ())])
    whose = f"of manifest {manifest[0]}@v{manifest[1]} " if manifest else ""
    found = []
    for f, n in sorted((f, n) for f, n in rows if f != factor):
        scale = f"up to {(f // factor) ** 2}x" if f > factor else f"1/{(factor // f) ** 2} of"
        found.append((n, f"{n} accepted {modality} samples {whose}were sized for latents downsampled {f}x (curate "
                         f"--vae-factor {f}), but {latent_fingerprint} downsamples {factor}x: they have {scale} the tokens "
                         f"curation budgeted; curate again with --vae-factor {factor}"))
    return found


# --------------------------------------------------------------------------- manifests


def manifest_step(home: str | None, name: str, where: str, description: str = "") -> str:
    """Create (or reuse, when the selection is unchanged) a frozen manifest; returns ``name@vN``."""
    from catalog import Catalog

    with Catalog.open(Workspace.at(home).catalog) as cat:
        return cat.freeze_manifest(name, where, description=description).id


def manifest_modality(catalog: str | os.PathLike, manifest_id: str) -> str:
    from catalog import Catalog

    name, _, version = manifest_id.partition("@v")
    with Catalog.open(catalog, read_only=True) as cat:
        m = cat.manifest_header(name, int(version) if version else None)
        cols, rows = cat.sql("SELECT DISTINCT s.modality FROM manifest_members mm JOIN samples s USING (key) "
                             "WHERE mm.manifest = ? AND mm.version = ?", [m.name, m.version])
    mods = sorted(r[0] for r in rows)
    if len(mods) != 1:
        raise ValueError(f"manifest {manifest_id} mixes modalities {mods}: a model trains on one")
    return mods[0]


# --------------------------------------------------------------------------- train


def _raise_if_signalled(result):
    """A run stopped by SIGTERM/SIGINT has written and registered its checkpoint; the stop request
    goes on up (TrainingStopped), so a flow does not carry on to evaluate a half-trained model."""
    import signal

    from training.stopping import TrainingStopped

    if result.stopped_by in signal.Signals.__members__:
        raise TrainingStopped(signal.Signals[result.stopped_by], result.steps, result.checkpoint)
    return result


def train_step(home: str | None, cfg, run_id: str | None = None) -> dict:
    """Train on a manifest (cfg.manifest); each checkpoint and its metrics are registered as written.

    cfg.resume without cfg.out_dir continues the run folder of this manifest that _resumable_run_dir
    picks from the catalog (refused when that run has lost its resume state); cfg.init_from starts a
    new stage from a checkpoint's weights. Under torchrun every
    process calls this; only rank 0 touches the catalog. cfg.launcher == "ray" runs Ray Train workers.
    Inside a Prefect flow or task run, the `training` messages go to its log (`in_run_log`).
    """
    with in_run_log("training"):
        return _train_step(home, cfg, run_id)


@contextmanager
def in_run_log(logger_name: str) -> Iterator[None]:
    """Inside a Prefect flow or task run: ``logger_name``'s messages, INFO and up, in the run's log
    (the Prefect UI's, through Prefect's API handler, each record once: not where
    PREFECT_LOGGING_EXTRA_LOGGERS put one on the way already) and on the console (the root logger's
    handler, Prefect's console, shows them as it shows WARNING and up). Prefect sends only its own
    loggers to a run's log and the root shows WARNING and up, so a demo's epoch lines and --resume
    lines were never seen, nor its warnings in the run's log. Records from threads outside the run's
    context (a loader, the Ray driver's follower) go to this run. Outside a run: nothing changes
    (the command lines show the messages themselves: contracts.messages.show_messages)."""
    if "prefect.context" not in sys.modules:  # no run without Prefect imported
        yield
        return
    from prefect.context import FlowRunContext, TaskRunContext

    context = TaskRunContext.get() or FlowRunContext.get()
    if context is None:
        yield
        return
    from prefect.logging.handlers import APILogHandler

    logger = logging.getLogger(logger_name)
    task_run = getattr(context, "task_run", None)
    flow_run_id = getattr(getattr(context, "flow_run", None), "id", None) or getattr(task_run, "flow_run_id", None)
    task_run_id = getattr(task_run, "id", None)

    def sent_already(record: logging.LogRecord) -> bool:  # an API handler on the way: extra loggers, a user's config
        lg: logging.Logger | None = logging.getLogger(record.name)
        while lg is not None:
            if any(isinstance(h, APILogHandler) and not getattr(h, "lumina_run_log", False) for h in lg.handlers):
                return True
            lg = lg.parent if lg.propagate else None
        return False

    class RunLog(APILogHandler):
        lumina_run_log = True  # one per run in the process (flows side by side): the first on the way sends a record

        def emit(self, record: logging.LogRecord) -> None:
            if getattr(record, "lumina_run_log_sent", False) or sent_already(record):
                return
            record.lumina_run_log_sent = True
            if (getattr(record, "flow_run_id", None) is None and flow_run_id is not None
                    and TaskRunContext.get() is None and FlowRunContext.get() is None):  # else Prefect's handler finds the run
                record = logging.makeLogRecord({**record.__dict__, "flow_run_id": flow_run_id, "task_run_id": task_run_id})
            super().emit(record)

    handler = RunLog(level=logging.INFO)
    with _run_log_lock:  # runs side by side: the level the logger had before the first is restored after the last
        level, runs = _run_log_levels.get(logger_name, (logger.level, 0))
        _run_log_levels[logger_name] = (level, runs + 1)
        if not logger.isEnabledFor(logging.INFO):
            logger.setLevel(logging.INFO)
        logger.addHandler(handler)
    try:
        yield
    finally:
        with _run_log_lock:
            logger.removeHandler(handler)
            level, runs = _run_log_levels.pop(logger_name)
            if runs > 1:
                _run_log_levels[logger_name] = (level, runs - 1)
            else:
                logger.setLevel(level)


_run_log_lock = threading.Lock()
_run_log_levels: dict[str, tuple[int, int]] = {}  # in_run_log: logger -> (its level before the first run, runs in)


def _train_step(home: str | None, cfg, run_id: str | None = None) -> dict:
    from catalog import load_manifest_header
    from training.catalog_hook import CatalogRegistrar
    from training.distributed import barrier, broadcast, init_distributed
    from training.stopping import TrainingStopped
    from training.trainer import train

    ws = Workspace.at(home)
    cfg.catalog = cfg.catalog or str(ws.catalog)
    verifies = verifies_checkpoints()  # the checksums: here (cached: read once), not again in every rank
    from training.state import latest_resumable

    # the checkpoint --resume continues: latest_resumable of the run folder, looked up once (the first
    # place that needs it), then passed on; _UNSEEN until then, as None means "no checkpoint"
    resume_from: Path | None | object = _UNSEEN
    if cfg.resume and cfg.manifest_version is None and "@v" not in cfg.manifest:
        # a resumed run goes on with the manifest version it trained on, not the newest one a
        # refresh made since (its data position belongs to its own version)
        from training.resume_config import saved_train_config

        cfg.out_dir = cfg.out_dir or _resumable_run_dir(cfg.catalog, cfg.manifest, ws)  # found once, used below too
        if (resume_from := latest_resumable(cfg.out_dir, content=verifies)) is not None:
            saved = saved_train_config(resume_from)
            if saved.get("manifest", cfg.manifest).split("@v")[0] == cfg.manifest:  # another manifest's: refused below
                cfg.manifest_version = saved.get("manifest_version")
    manifest = load_manifest_header(cfg.catalog, cfg.manifest, cfg.manifest_version)
    cfg.manifest, cfg.manifest_version = manifest.name, manifest.version
    if lacking := [k for k in ("latent", "text") if k not in manifest.encoders]:
        raise ValueError(f"manifest {manifest.id} has no {' or '.join(lacking)} encodings (encoders: "
                         f"{manifest.encoders or 'none'}): encode its samples (lumina encode), then create it again")
    cfg.null_caption = cfg.null_caption or str(ws.null_caption(manifest.encoders["text"]))
    members_modality = manifest_modality(cfg.catalog, manifest.id)
    if cfg.modality and Modality.parse(cfg.modality).value != members_modality:
        raise ValueError(f"--modality {cfg.modality} does not match manifest {manifest.id}, whose samples are "
                         f"{members_modality} (leave --modality out: it comes from the manifest)")
    cfg.modality = members_modality
    if cfg.init_from:
        cfg.init_from = resolve_checkpoint(cfg.catalog, cfg.init_from, "--init-from")
    if cfg.out_dir:  # the catalog records checkpoint folders: absolute, so they resolve from anywhere
        cfg.out_dir = str(Path(cfg.out_dir).resolve())
        if isinstance(resume_from, Path):  # the same checkpoint, under the absolute folder
            resume_from = Path(cfg.out_dir) / resume_from.name
        from training.checkpoint_kind import refuse_a_checkpoint_as_run_folder  # torch-free

        refuse_a_checkpoint_as_run_folder(cfg.out_dir)  # before the folder is made: a refusal leaves none behind
        make_run_folder(Path(cfg.out_dir), create=not cfg.resume)  # a refused --resume leaves no empty folder
    if cfg.resume and not cfg.out_dir:
        cfg.out_dir = _resumable_run_dir(cfg.catalog, cfg.manifest, ws)
    if not cfg.resume:
        resume_from = None
    elif resume_from is _UNSEEN:
        resume_from = latest_resumable(cfg.out_dir, content=verifies) if cfg.out_dir else None
    if cfg.resume:
        from training.resume_config import nothing_to_train, resumed_config

        if resume_from is not None:
            # another manifest or model is refused first: a finished run said "nothing to train", exit 0
            resumed_config(cfg, resume_from, announce=False)
        if (done := nothing_to_train(cfg)) is not None:  # a completed run with no checkpoints and 0 tokens/s misled
            ckpt_id = checkpoint_id_of(cfg.catalog, done["checkpoint"])  # looked up once
            unregistered = ckpt_id is None and run_folder_known(cfg.catalog, cfg.out_dir)
            if not unregistered and not (ckpt_id is not None and registered_without_its_rows(cfg.catalog, done["checkpoint"])):
                logging.getLogger("training.trainer").warning(done["nothing_to_train"])
                return {**done, "checkpoint_id": ckpt_id, "run_id": None}
            # its run was killed between publishing its last checkpoint and registering it (or its log
            # windows' rows): the resume below trains nothing and registers the folder with the rows it records
            logging.getLogger("training.trainer").warning(
                "--resume: %s was written by a run stopped before %s registered in the catalog: registering %s",
                done["checkpoint"], "it was" if unregistered else "its log windows' rows were",
                "it" if unregistered else "them")
    if cfg.out_dir:  # refused now, not as a failed run in the catalog
        from training.resume_config import resumed_launcher
        from training.trainer import check_run_folder

        check_run_folder(Path(cfg.out_dir), cfg.resume, resume_from)
        if resume_from is not None:  # a Ray Train run goes on in Ray Train workers
            resumed_launcher(cfg, resume_from)
    if cfg.launcher == "local":  # training here: the private Ray of the curate/encode stages only costs CPU now
        from contracts.ray_runtime import release_local_ray

        release_local_ray()
    rank = init_distributed()[0] if cfg.launcher == "local" else 0
    # A signal-stopped run: every rank raises TrainingStopped once rank 0 has marked the catalog run
    # cancelled (the barrier), as a launcher that sees one rank exit kills the others.
    if rank != 0:
        cfg.out_dir = broadcast(None)
        try:
            return asdict(_raise_if_signalled(train(cfg)))
        except TrainingStopped:
            barrier()
            raise
    if Path(cfg.catalog).resolve() == ws.catalog.resolve():  # the encoders' records live beside it
        warn_if_curated_for_another_latent(ws, cfg.modality, manifest.encoders["latent"], (manifest.name, manifest.version))
    try:
        with catalog_run(ws, "train", asdict(cfg), run_id, catalog=cfg.catalog) as rid:
            cfg.out_dir = cfg.out_dir or str(ws.run_dir(rid))
            broadcast(cfg.out_dir)
            hook = CatalogRegistrar(cfg.catalog, rid, cfg.manifest, cfg.manifest_version, cfg.model)
            if cfg.launcher == "ray":
                from training.ray_launcher import train_with_ray

                result, ids = train_with_ray(cfg, hook)
            else:
                result, ids = train(cfg, on_checkpoint=hook), hook.checkpoint_ids
            _publish_curve(result, cfg.manifest)
            _raise_if_signalled(result)  # its checkpoint is registered; the run becomes "cancelled"
    except TrainingStopped:
        barrier()
        raise
    out = asdict(result)
    # those still on disk: keep_last pruned the others, which the catalog still lists
    out["checkpoints"] = [c for c in result.checkpoints if Path(c).is_dir()]
    out.update(run_id=rid, checkpoint_id=ids[-1] if ids else None, modality=cfg.modality)
    return out


_UNSEEN = object()  # train_step: the newest checkpoint not looked up yet


def make_run_folder(folder: Path, create: bool = True) -> None:
    """--out-dir, created now: a file of that name, or a folder that cannot be made (read-only, no
    permission), is refused in one line before a run is recorded (it was a bare "[Errno 17] File
    exists" and a failed run in the catalog)."""
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"--out-dir {folder} is a file, not a folder: give a folder for the run's checkpoints "
                                 "(it is created if missing)")
    if not create:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"--out-dir {folder}: the run folder cannot be created ({e.strerror or e})") from e


def verifies_checkpoints() -> bool:
    """Whether this process compares a checkpoint's checksums (reads it whole): the entry point, or
    torchrun's rank 0. torchrun's other ranks check headers only (the trainer says rank 0's refusal to
    them); a Ray Train run's driver verifies for its workers."""
    import torch.distributed as dist

    return not dist.is_torchelastic_launched() or os.environ.get("RANK", "0") == "0"


def _resumable_run_dir(catalog: str | os.PathLike, manifest: str, ws: Workspace | None = None) -> str:
    """The run folder a bare --resume continues: of the runs of `manifest` still on disk, the newest
    one stopped before its step budget, else the newest. Refused when that run has no checkpoint
    with its resume state: going on to another run of the manifest continued one the user did not mean."""
    from catalog import Catalog

    with Catalog.open(catalog, read_only=True) as cat:
        _, rows = cat.sql("SELECT uri FROM checkpoints WHERE manifest = ? ORDER BY created_at DESC, step DESC", [manifest])
    runs = _runs_on_disk(catalog, [uri for (uri,) in rows])
    if not rows and (killed := _run_stopped_before_registering(catalog, manifest, ws)) is not None:
        log.warning("--resume: continuing %s, whose run was stopped before it registered its first checkpoint", killed)
        return killed
    if not rows:  # "pass --out-dir" sent a user whose manifest was never trained looking for a folder
        raise FileNotFoundError(f"--resume: manifest {manifest!r} has no checkpoint in the catalog, so there is no run to "
                                "continue: leave --resume out to start one (or give --out-dir, a run folder with checkpoints)")
    resumable = {folder: ckpt for folder, (_, ckpt) in runs.items() if ckpt is not None}
    if not resumable:
        raise FileNotFoundError(f"--resume: none of the {len(rows)} registered checkpoints of manifest {manifest!r} is on "
                                f"disk with its resume state (the newest: {rows[0][0]}); give --out-dir, a run folder that "
                                "has one, or start anew (--init-from CHECKPOINT keeps the weights)")
    chosen = _run_to_continue({folder: newest for folder, (newest, _) in runs.items()})
    if chosen != (newest := next(iter(runs))) and chosen in resumable:
        log.info("--resume: continuing %s, which stopped before its step budget; the newest run, %s, finished its "
                 "steps (give --out-dir %s to train that one on)", chosen, newest, newest)
    if chosen not in resumable:
        other = _run_to_continue(resumable)
        raise FileNotFoundError(
            f"--resume: the run of manifest {manifest!r} to continue, {chosen}, has no checkpoint with its resume state "
            f"(train_state.json deleted, or copied without it); a bare --resume would have passed over it to another run, "
            f"{other}: give --out-dir {shlex.quote(str(other))} to continue that one, or leave --resume out and give --init-from "
            f"{shlex.quote(str(runs[chosen][0]))} to start a new run from the weights of {chosen.name}")
    home = Path(catalog).resolve().parent
    if not chosen.resolve().is_relative_to(home):
        log.warning("--resume: the run to continue, %s, is outside this workspace (%s): its new checkpoints go there",
                    chosen, home)
    return str(chosen)


def _run_stopped_before_registering(catalog: str | os.PathLike, manifest: str, ws: Workspace | None) -> str | None:
    """The folder of the newest train run of ``manifest`` this catalog records that holds a checkpoint
    with its resume state while no checkpoint of the manifest is registered: a kill between publishing
    a run's first checkpoint and registering it leaves that (the resume registers it). None if none."""
    from catalog import Catalog
    from training.state import STATE_JSON, checkpoints

    with Catalog.open(catalog, read_only=True) as cat:
        _, rows = cat.sql("SELECT run_id, json_extract_string(parameters, '$.out_dir') FROM runs WHERE flow_name = 'train' "
                          "AND json_extract_string(parameters, '$.manifest') = ? ORDER BY started_at DESC", [manifest])
    ws = ws or Workspace(Path(catalog).resolve().parent)
    for run_id, out_dir in rows:
        folder = Path(out_dir) if out_dir else ws.run_dir(run_id)
        found = checkpoints(folder)
        if found and (found[-1] / STATE_JSON).exists():
            return str(folder)
    return None


def _runs_on_disk(catalog: str | os.PathLike, uris: list[str]) -> dict[Path, tuple[Path, Path | None]]:
    """Run folder -> (its newest checkpoint on disk, its newest with resume state or None), for the
    checkpoint folders `uris` (newest first) still on disk; newest run first."""
    from training.state import STATE_JSON

    runs: dict[Path, tuple[Path, Path | None]] = {}
    for recorded in uris:
        # a copied workspace resumes its own copy of the run: the recorded folder is the original's,
        # and resuming there wrote into (and pruned) the other workspace
        uri = Path(_in_own_workspace(catalog, recorded) or recorded)
        if not uri.is_dir():  # pruned (keep_last), or the run folder deleted
            continue
        newest, resumable = runs.get(uri.parent, (uri, None))
        runs[uri.parent] = (newest, resumable or (uri if (uri / STATE_JSON).exists() else None))
    return runs


def _run_to_continue(runs: dict[Path, Path]) -> Path:
    """Of run folders (newest first, each with the checkpoint to judge it by): the newest that
    stopped before its step budget, else the newest."""
    # a run interrupted (Ctrl-C, preempted) and then a short finished one: "continue" meant the first
    return next((folder for folder, ckpt in runs.items() if _stopped_early(ckpt)), next(iter(runs)))


def _stopped_early(checkpoint: Path) -> bool:
    """Did the run stop before its own --steps at this checkpoint (training.json)?"""
    try:
        info = json.loads((checkpoint / "training.json").read_text())
        return int(info["steps"]) < int(info["train_config"]["steps"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _publish_curve(result, manifest: str) -> None:
    """Inside a Prefect run: the loss curve and the run's figures as a markdown artifact, one
    history per manifest (flows.artifact_keys)."""
    if "prefect.context" not in sys.modules:  # no Prefect run without Prefect imported
        return
    try:
        from prefect.artifacts import create_markdown_artifact
        from prefect.context import get_run_context

        get_run_context()
    except Exception:  # not inside a Prefect flow or task: nothing to publish to
        return
    from flows.artifact_keys import artifact_key

    # by name: `--manifest alive` and `--manifest alive@v2` train one manifest, one history
    create_markdown_artifact(key=artifact_key("train-loss-curve", manifest.split("@", 1)[0]), markdown="\n".join([
        "# training", "", f"- checkpoint: `{result.checkpoint}`", f"- steps: {result.steps}, final loss {result.final_loss:.4f}",
        f"- padding fraction: {result.padding_fraction:.2%}, tokens/s: {result.tokens_per_second:.0f}",
        f"- metrics: `{result.metrics_csv}`", f"- loss curve: `{result.loss_curve}`"]))


# --------------------------------------------------------------------------- evaluate and sample


def resolve_checkpoint(catalog: str | os.PathLike, checkpoint: str, flag: str = "--checkpoint") -> str:
    """A checkpoint folder, or a catalog checkpoint id (``ckpt-...``) -> the folder. A folder of
    another model (a VAE's, a text encoder's) is refused as what it is, naming ``flag``."""
    if Path(checkpoint).is_dir():
        folder = Path(checkpoint).resolve()
        if not (folder / "config.json").is_file():  # each reader failed on a file of its own, or blamed a release
            inside = sorted(p.name for p in folder.glob("checkpoint-*") if (p / "config.json").is_file())
            if inside:
                raise FileNotFoundError(f"{checkpoint} is a run folder, not a checkpoint: give one of its checkpoints, "
                                        f"{', '.join(inside)} (the newest: {folder / inside[-1]})")
            raise FileNotFoundError(f"{checkpoint} is not a checkpoint folder: it has no config.json (a checkpoint-N "
                                    "folder of a run, or a model saved with save_pretrained)")
        from training.checkpoint_kind import refuse_other_models

        # evaluate blamed a VAE's folder for a missing training.json, sample advised --init-from it
        refuse_other_models(folder, flag)
        return str(folder)
    if checkpoint.startswith("ckpt-"):
        from catalog import Catalog

        with Catalog.open(catalog, read_only=True) as cat:
            _, rows = cat.sql("SELECT uri FROM checkpoints WHERE checkpoint_id = ?", [checkpoint])
            if rows and (own := _in_own_workspace(catalog, rows[0][0])):  # a moved or copied workspace: its own copy
                return own
            if rows and not Path(rows[0][0]).is_dir():  # training keeps only the newest keep_last on disk
                # the same folder: a resumed run writes there under a catalog run of its own
                _, kept = cat.sql("SELECT checkpoint_id, step, uri FROM checkpoints ORDER BY step DESC")
                folder = Path(rows[0][0]).parent
                on_disk = [f"{cid} (step {step})" for cid, step, uri in kept if Path(uri).parent == folder and Path(uri).is_dir()]
                raise FileNotFoundError(
                    f"checkpoint {checkpoint} is no longer on disk ({rows[0][0]}; training keeps the newest keep_last "
                    f"checkpoints of a run); in its folder still on disk: {', '.join(on_disk) or 'none'}")
        if rows:
            return rows[0][0]
    if Path(checkpoint).is_file():  # model.safetensors of one: the folder holds the rest (train_state.json, EMA)
        raise FileNotFoundError(f"{checkpoint} is a file: give the checkpoint folder that holds it, {shlex.quote(str(Path(checkpoint).parent))}")
    raise FileNotFoundError(f"no checkpoint folder or catalog checkpoint id {checkpoint!r}")


def _in_own_workspace(catalog: str | os.PathLike, uri: str) -> str | None:
    """The catalog records absolute folders: the same ``runs/<run>/checkpoint-N`` under the
    catalog's own workspace, where it is there (the recorded one, or the copy in a workspace moved
    or copied since), else None."""
    if (tail := from_last_runs(uri)) is None:
        return None
    here = Path(catalog).resolve().parent.joinpath(*tail)
    return str(here) if here.is_dir() else None


def run_folder_known(catalog: str | os.PathLike, out_dir: str) -> bool:
    """Whether this catalog knows run folder ``out_dir``: an earlier checkpoint of it is registered, or
    a train run wrote there. A checkpoint of such a folder missing from the catalog was left by a kill
    between publishing it and registering it (the resume registers it); a run folder copied in from
    elsewhere is not this catalog's to register."""
    from catalog import Catalog

    folder = str(Path(out_dir).resolve())
    with Catalog.open(catalog, read_only=True) as cat:
        _, rows = cat.sql("SELECT count(*) FROM checkpoints WHERE starts_with(uri, ?)", [folder + os.sep])
        if rows[0][0]:
            return True
        _, rows = cat.sql("SELECT count(*) FROM runs WHERE flow_name = 'train' AND "
                          "(json_extract_string(parameters, '$.out_dir') = ? OR run_id = ?)", [folder, Path(folder).name])
    return bool(rows[0][0])


def registered_without_its_rows(catalog: str | os.PathLike, checkpoint: str) -> bool:
    """Whether checkpoint folder ``checkpoint`` is registered under this very folder while some of
    the log windows' rows it records (train_state.json) are not in the catalog: a kill between its
    checkpoint row and its metric rows leaves that."""
    from catalog import Catalog
    from training.catalog_hook import recorded_rows, rows_not_logged

    if not (rows := recorded_rows(checkpoint)):
        return False
    with Catalog.open(catalog, read_only=True) as cat:
        _, ids = cat.sql("SELECT checkpoint_id FROM checkpoints WHERE uri = ?", [checkpoint])
        return bool(ids) and bool(rows_not_logged(cat, ids[0][0], rows))


def checkpoint_id_of(catalog: str | os.PathLike, uri: str) -> str | None:
    """The catalog id of checkpoint folder ``uri``: the one recorded there, else, in a workspace moved
    or copied since (its catalog records the original's folders), the one whose
    ``runs/<run>/checkpoint-N`` is that of ``uri`` (as _in_own_workspace maps it); None when neither
    matches (or several do, none of them recorded at this very folder under another spelling)."""
    from catalog import Catalog

    with Catalog.open(catalog, read_only=True) as cat:
        _, rows = cat.sql("SELECT checkpoint_id FROM checkpoints WHERE uri = ?", [uri])
        if rows:
            return rows[0][0]
        tail = from_last_runs(uri)
        if tail is None:
            return None
        _, rows = cat.sql("SELECT checkpoint_id, uri FROM checkpoints WHERE uri LIKE ?", [f"%{Path(*tail).name}"])
    matches = {cid: recorded for cid, recorded in rows if from_last_runs(recorded) == tail}
    if len(matches) > 1:  # the same run folder name twice: the row of this very folder, spelled otherwise (a symlink)
        given = Path(uri).resolve()
        matches = {cid: recorded for cid, recorded in matches.items() if Path(recorded).resolve() == given}
    return next(iter(matches)) if len(matches) == 1 else None


def evaluate_step(home: str | None, cfg, run_id: str | None = None) -> dict:
    """Evaluate a checkpoint on a held-out manifest and log the metrics against the checkpoint.
    Inside a Prefect flow or task run, the `evaluation` messages (the judge cache, --max-heldout's
    cut, the mixed-size note) go to its log (`in_run_log`)."""
    with in_run_log("evaluation"):
        return _evaluate_step(home, cfg, run_id)


def _evaluate_step(home: str | None, cfg, run_id: str | None = None) -> dict:
    from evaluation.checks import check_moved_encoder_flags, check_out_folder, check_same_encoders, training_info  # torch-free
    from evaluation.config import default_out_dir  # torch-free
    from training.checkpoint_kind import with_article  # torch-free

    ws = Workspace.at(home)
    cfg.catalog = cfg.catalog or str(ws.catalog)
    given = cfg.checkpoint
    cfg.checkpoint = resolve_checkpoint(cfg.catalog, cfg.checkpoint)
    info = training_info(Path(cfg.checkpoint))  # a converted release has none: one line, as sample says it
    from catalog import Catalog, load_manifest_header  # DuckDB (~0.25 s): a wrong checkpoint is refused without it

    manifest = load_manifest_header(cfg.catalog, cfg.manifest, cfg.manifest_version)
    trained_on = info.get("modality") or "image"
    if (members := manifest_modality(cfg.catalog, manifest.id)) != trained_on:  # the encoder advice misled here
        raise ValueError(f"manifest {manifest.id} holds {members} samples, but {Path(cfg.checkpoint).name} is {with_article(trained_on)} "
                         f"model: evaluate it on {with_article(trained_on)} manifest")
    # other encoders are refused before evaluated_split warns that the checkpoint trained on these
    # members (the same samples, encoded again): it warned, then refused
    check_same_encoders(manifest, Path(cfg.checkpoint))
    check_moved_encoder_flags(cfg.checkpoint, vae=cfg.vae)  # a --vae typo: refused before a run is recorded
    # one folder per manifest: evaluating another overwrote this one's metrics.json and renders; beside
    # the checkpoint, not in it: keep_last deleted them with it
    cfg.out_dir = cfg.out_dir or default_out_dir(cfg.checkpoint, manifest.id)
    check_out_folder(cfg.out_dir, "--out-dir", folder=True)  # a file in the way: before a run is recorded
    # torch only now: a wrong checkpoint or manifest above is refused in ~0.1-0.4 s of CPU, not ~2 s
    from evaluation.evaluate import evaluate, sampling_settings, write_metrics_json
    # a given id is the checkpoint's; a folder is looked up (a copied workspace's own copy too): the
    # id was looked up by the resolved folder's exact path, and a copy's metrics were logged without one
    ckpt_id = given if given.startswith("ckpt-") and not Path(given).is_dir() else checkpoint_id_of(cfg.catalog, cfg.checkpoint)
    split = evaluated_split(cfg.catalog, manifest, info)
    with catalog_run(ws, "evaluate", asdict(cfg), run_id, catalog=cfg.catalog) as rid:
        result = evaluate(cfg, judge_cache=ws.home / "cache" / "judges")  # a judge trained once per held-out data
        if ckpt_id is None:  # said once there are metrics to log: a failed evaluation's error stays its one line
            log.warning("%s is no checkpoint this catalog (%s) records: its metrics are logged without a checkpoint id, "
                        "so latest_metrics will not show them (a checkpoint given by its catalog id, ckpt-..., or as "
                        "runs/<run>/checkpoint-N of this workspace is logged against its id)", cfg.checkpoint, cfg.catalog)
        if split != "holdout":  # evaluated_split's warning was a log line only: metrics.json read as held-out figures
            result.notes.insert(0, f"{'all' if split == 'train' else 'some'} members of {manifest.id} are in "
                                   f"{info['manifest']}@v{info['manifest_version']}, which this checkpoint trained on: "
                                   f"these figures measure fit, not generalisation (logged with split '{split}', not 'holdout')")
            write_metrics_json(result, cfg.out_dir)
        with Catalog.open(cfg.catalog) as cat:
            cat.log_metrics(rid, result.metrics, step=info.get("steps"), split=split, checkpoint_id=ckpt_id)
            # the graph reaches evaluations: what was evaluated, on which data (a walk down from a
            # checkpoint or a held-out manifest stopped there). Only for the evaluation's own run: a
            # composing flow's run (data_to_model) also wrote the checkpoint, so the edges made the
            # held-out manifest its ancestor (manifest -> run -> checkpoint) and a cycle run <-> checkpoint
            if run_id is None:
                cat.add_lineage("manifest", manifest.id, "run", rid)
                if ckpt_id is not None:
                    cat.add_lineage("checkpoint", ckpt_id, "run", rid)
    out = asdict(result)
    # the metrics depend on these: printed so two evaluations of one checkpoint can be told apart
    # (the image demo evaluates at cfg_scale 6, `lumina evaluate` and `lumina sample` default to 4)
    out["sampling"] = sampling_settings(cfg)  # metrics.json records them too
    out.update(run_id=rid, checkpoint_id=ckpt_id, split=split)
    return out


def evaluated_split(catalog: str | os.PathLike, manifest, info: dict) -> str:
    """The split an evaluation's metrics are logged under: "holdout" when no member of `manifest`
    was trained on (the checkpoint's training manifest, from training.json), "train" when all
    were, "mixed" otherwise; with a warning, since such figures measure fit, not generalisation.
    Logged as holdout, they replaced the real held-out figures in latest_metrics."""
    from catalog import Catalog

    trained = (info.get("manifest"), info.get("manifest_version"))
    if trained[0] is None or trained[1] is None:
        return "holdout"  # a converted release, or an older checkpoint: nothing to compare with
    with Catalog.open(catalog, read_only=True) as cat:
        _, rows = cat.sql("SELECT count(*) FROM manifest_members e WHERE e.manifest = ? AND e.version = ? AND e.key IN "
                          "(SELECT key FROM manifest_members WHERE manifest = ? AND version = ?)",
                          [manifest.name, manifest.version, *trained])
    overlap = rows[0][0]
    if not overlap:
        return "holdout"
    split = "train" if overlap == manifest.num_members else "mixed"
    log.warning("%d of the %d members of %s are in %s@v%s, which this checkpoint trained on: its figures measure fit, "
                "not generalisation; they are logged with split '%s', not 'holdout'", overlap, manifest.num_members,
                manifest.id, *trained, split)
    return split
