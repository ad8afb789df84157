"""Each stage as a library function that also leaves the catalog up to date.

These run without Prefect: the `lumina` commands call them directly, and the Prefect flows
(flows/<stage>.py) wrap the same calls in tasks. The calling process is the one catalog writer;
workers only write shards and batch files.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator

from contracts.layout import Workspace


@contextmanager
def catalog_run(ws: Workspace, flow_name: str, params: dict[str, Any], run_id: str | None = None) -> Iterator[str]:
    """A run row for the duration of a stage: completed, or failed if the stage raised. Inside a
    composing flow (run_id given) the flow's own run is used and the flow finishes it."""
    from catalog import Catalog

    if run_id is not None:
        yield run_id
        return
    with Catalog.open(ws.catalog) as cat:
        run_id = cat.start_run(flow_name, params, run_id=run_id)
    try:
        yield run_id
    except BaseException:
        with Catalog.open(ws.catalog) as cat:
            cat.finish_run(run_id, status="failed")
        raise
    with Catalog.open(ws.catalog) as cat:
        cat.finish_run(run_id, status="completed")


def register(ws: Workspace, batch_paths: list[str], run_id: str) -> dict[str, int]:
    from catalog import Catalog

    with Catalog.open(ws.catalog) as cat:
        return cat.register_batches(batch_paths, run_id)


# --------------------------------------------------------------------------- curate


def curate_step(source: str, home: str | None, cfg, backend: str = "ray", run_id: str | None = None) -> dict:
    """Curate a source and register every input (accepted, rejected, quarantined)."""
    from preprocess.curate import curate

    ws = Workspace.at(home)
    with catalog_run(ws, "curate", {"source": source, **asdict(cfg)}, run_id) as rid:
        result = curate(source, ws.home, cfg, backend)
        registered = register(ws, result.batch_paths, rid)
    return {"run_id": rid, "modality": result.modality, "counts": result.counts, "reasons": result.reasons,
            "shards": len(result.shard_uris), "shard_uris": result.shard_uris, "registered": registered}


# --------------------------------------------------------------------------- encode


def encode_step(home: str | None, modality: str, cfg, backend: str = "ray", run_id: str | None = None,
                shard_uris: list[str] | None = None) -> dict:
    from preprocess.encode import encode

    ws = Workspace.at(home)
    with catalog_run(ws, "encode", {"modality": modality, **asdict(cfg)}, run_id) as rid:
        result = encode(ws.home, modality, cfg, shard_uris=shard_uris, backend=backend)
        registered = register(ws, result.batch_paths, rid)
    return {"run_id": rid, "modality": modality, "latent_encoder": result.latent_encoder, "text_encoder": result.text_encoder,
            "shards": len(result.batch_paths), "registered": registered}


# --------------------------------------------------------------------------- manifests


def manifest_step(home: str | None, name: str, where: str, description: str = "") -> str:
    """Create (or reuse, when the selection is unchanged) a frozen manifest; returns ``name@vN``."""
    from catalog import Catalog

    with Catalog.open(Workspace.at(home).catalog) as cat:
        return cat.create_manifest(name, where, description=description).id


def manifest_modality(catalog: str | os.PathLike, manifest_id: str) -> str:
    from catalog import Catalog

    name, _, version = manifest_id.partition("@v")
    with Catalog.open(catalog, read_only=True) as cat:
        m = cat.manifest(name, int(version) if version else None)
        cols, rows = cat.sql("SELECT DISTINCT s.modality FROM manifest_members mm JOIN samples s USING (key) "
                             "WHERE mm.manifest = ? AND mm.version = ?", [m.name, m.version])
    mods = sorted(r[0] for r in rows)
    if len(mods) != 1:
        raise ValueError(f"manifest {manifest_id} mixes modalities {mods}: a model trains on one")
    return mods[0]


# --------------------------------------------------------------------------- train


def train_step(home: str | None, cfg, run_id: str | None = None) -> dict:
    """Train on a manifest (cfg.manifest), then register the checkpoint and its loss curve."""
    from catalog import Catalog, load_manifest
    from training.trainer import train

    ws = Workspace.at(home)
    cfg.catalog = cfg.catalog or str(ws.catalog)
    manifest = load_manifest(cfg.catalog, cfg.manifest)
    cfg.manifest, cfg.manifest_version = manifest.name, manifest.version
    cfg.null_caption = cfg.null_caption or str(ws.null_caption(manifest.encoders["text"]))
    cfg.modality = cfg.modality or manifest_modality(cfg.catalog, manifest.id)
    with catalog_run(ws, "train", asdict(cfg), run_id) as rid:
        cfg.out_dir = cfg.out_dir or str(ws.run_dir(rid))
        result = train(cfg)
        with Catalog.open(cfg.catalog) as cat:
            ckpt_id = cat.register_checkpoint(rid, result.checkpoint, {"steps": result.steps, "model": cfg.model},
                                              result.manifest, result.manifest_version, result.steps)
            for step, loss in result.losses:
                cat.log_metrics(rid, {"train_fm_loss": loss}, step=step, split="train", checkpoint_id=ckpt_id)
    out = asdict(result)
    out.update(run_id=rid, checkpoint_id=ckpt_id, modality=cfg.modality)
    return out


# --------------------------------------------------------------------------- evaluate and sample


def resolve_checkpoint(catalog: str | os.PathLike, checkpoint: str) -> str:
    """A checkpoint folder, or a catalog checkpoint id (``ckpt-...``) -> the folder."""
    if Path(checkpoint).is_dir():
        return str(Path(checkpoint).resolve())
    if checkpoint.startswith("ckpt-"):
        from catalog import Catalog

        with Catalog.open(catalog, read_only=True) as cat:
            _, rows = cat.sql("SELECT uri FROM checkpoints WHERE checkpoint_id = ?", [checkpoint])
        if rows:
            return rows[0][0]
    raise FileNotFoundError(f"no checkpoint folder or catalog checkpoint id {checkpoint!r}")


def checkpoint_id_of(catalog: str | os.PathLike, uri: str) -> str | None:
    from catalog import Catalog

    with Catalog.open(catalog, read_only=True) as cat:
        _, rows = cat.sql("SELECT checkpoint_id FROM checkpoints WHERE uri = ?", [uri])
    return rows[0][0] if rows else None


def evaluate_step(home: str | None, cfg, run_id: str | None = None) -> dict:
    """Evaluate a checkpoint on a held-out manifest and log the metrics against the checkpoint."""
    from catalog import Catalog
    from evaluation.evaluate import evaluate

    ws = Workspace.at(home)
    cfg.catalog = cfg.catalog or str(ws.catalog)
    cfg.checkpoint = resolve_checkpoint(cfg.catalog, cfg.checkpoint)
    cfg.out_dir = cfg.out_dir or str(Path(cfg.checkpoint) / "eval")
    info = json.loads((Path(cfg.checkpoint) / "training.json").read_text())
    with catalog_run(ws, "evaluate", asdict(cfg), run_id) as rid:
        result = evaluate(cfg)
        ckpt_id = checkpoint_id_of(cfg.catalog, cfg.checkpoint)
        with Catalog.open(cfg.catalog) as cat:
            cat.log_metrics(rid, result.metrics, step=info.get("steps"), split="holdout", checkpoint_id=ckpt_id)
    out = asdict(result)
    out.update(run_id=rid, checkpoint_id=ckpt_id)
    return out
