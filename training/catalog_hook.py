"""Checkpoints and their metrics go into the catalog as they are written (rank 0)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from contracts.hold_points import hold_point


def content_digest(path: str) -> dict[str, str]:
    """What tells this checkpoint's weights from others written to the same folder later, as the catalog
    compares it (``content_sha256``): a hash of its weights' checksum (`weights_checksum`), not of
    training.json, which differs between runs of the same weights (--progress, --log-every, its loss
    log); nor of config.json, which records --grad-checkpointing. And the model preset training.json
    records (a resumed or staged run's may differ from the command's flags)."""
    info = Path(path) / "training.json"
    model = json.loads(info.read_bytes()).get("train_config", {}).get("model") if info.is_file() else None
    weights = weights_checksum(path)
    return {**({"content_sha256": hashlib.sha256(weights.encode()).hexdigest(), WEIGHTS_CHECKSUM: weights}
               if weights else {}),
            **({"model": model} if model else {}), **architecture(path)}


# the catalog config's key for model.safetensors' checksum; a row without it was registered when
# content_sha256 hashed training.json (`legacy_digest`)
WEIGHTS_CHECKSUM = "weights_checksum"


def weights_checksum(path: str) -> str | None:
    """``algorithm:hexdigest`` of the checkpoint's model.safetensors: the one train_state.json
    records (taken as it was written, so free), else the file's read now; None without weights."""
    from training.state import CHECKSUMS, STATE_JSON, WEIGHTS, _checksum_algorithm, file_digest

    state = Path(path) / STATE_JSON
    try:
        recorded = json.loads(state.read_text()).get(CHECKSUMS, {}).get(WEIGHTS) if state.is_file() else None
    except (ValueError, AttributeError):  # damaged or not a dict: read the weights themselves
        recorded = None
    if isinstance(recorded, str) and recorded:
        return recorded
    weights = Path(path) / WEIGHTS
    return file_digest(weights, _checksum_algorithm()) if weights.is_file() else None


def legacy_digest(known: dict, path: str) -> str | None:
    """The content_sha256 a row registered before `WEIGHTS_CHECKSUM` keeps when the folder is the one
    it describes: that row hashed training.json, so the same training.json means the same run's
    weights (a --resume registers its checkpoint again). None otherwise: then nothing tells whether the
    weights changed, and the new digest goes to the catalog, which says the folder was rewritten."""
    old = known.get("content_sha256")
    info = Path(path) / "training.json"
    if WEIGHTS_CHECKSUM in known or not old or not info.is_file():
        return None
    return old if hashlib.sha256(info.read_bytes()).hexdigest() == old else None


def architecture(path: str) -> dict[str, dict]:
    """The size of the model saved (config.json): a preset's name alone hid --model-overrides, and
    an --init-from run's model is the checkpoint's, whatever the preset."""
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        return {}
    saved = json.loads(cfg.read_text())
    return {"architecture": {k: saved[k] for k in ("dim", "n_layers", "n_heads", "patch_size", "in_channels") if k in saved}}


def recorded_rows(path: str) -> list[dict]:
    """The log windows' rows a checkpoint folder records as handed to the catalog with it
    (train_state.json's CATALOG_ROWS; none in a folder written before they were recorded)."""
    from training.state import CATALOG_ROWS, STATE_JSON

    state = Path(path) / STATE_JSON
    info = json.loads(state.read_text()) if state.is_file() else {}
    return list(info.get(CATALOG_ROWS, [])) if isinstance(info, dict) else []


def rows_not_logged(cat, ckpt_id: str, rows: list[dict]) -> list[dict]:
    """Those of a checkpoint's log windows' ``rows`` that the catalog (an open Catalog) lacks: a
    window's row is logged at its last step, with its checkpoint."""
    have = {s for (s,) in cat.sql("SELECT DISTINCT step FROM metrics WHERE checkpoint_id = ? AND split = 'train' "
                                  "AND list_contains(?, name)", [ckpt_id, list(WINDOW_METRICS)])[1]}
    return [r for r in rows if int(r["step"]) not in have]


# what a log window's row holds (trainer._summary): all of them, skipped_steps too, are replaced
# when the window's row comes again
WINDOW_METRICS = ("train_fm_loss", "grad_norm", "lr", "tokens_per_s", "padding_fraction", "skipped_steps")


@dataclass
class CatalogRegistrar:
    """A picklable on_checkpoint hook (Ray Train workers call it too)."""

    catalog: str
    run_id: str
    manifest: str
    manifest_version: int
    model: str
    checkpoint_ids: list[str] = field(default_factory=list)

    def __call__(self, path: str, step: int, rows: list[dict]) -> None:
        from catalog import Catalog

        hold_point("train.checkpoint-published")  # the folder published, its rows not yet in the catalog (a fault test's kill)
        # no rows: the folder a --resume continues (or a checkpoint no log window ended before): the
        # windows it records, of which a kill between publishing it and registering it lost some or all
        recorded = not rows
        if recorded:
            rows = recorded_rows(path)
        config = {"steps": step, "model": self.model, **content_digest(path)}
        with Catalog.open(self.catalog) as cat, cat.hold():  # one connection for the checkpoint and all its rows
            _keep_legacy_digest(cat, path, config)
            ckpt_id = cat.register_checkpoint(self.run_id, path, config, self.manifest, self.manifest_version, step)
            hold_point("train.checkpoint-registered")  # its row in the catalog, its log windows' rows not yet (a fault test's kill)
            if recorded and rows:  # once each: a window's row is at its last step, with its checkpoint
                rows = rows_not_logged(cat, ckpt_id, rows)
            for r in rows:  # one per log window (every step is in metrics.csv and TensorBoard)
                metrics = {k: v for k, v in r.items() if k not in ("step", "window_start")}
                # a window a stopped run logged while still open: this row of it replaces that one
                cat.log_metrics(self.run_id, metrics, step=int(r["step"]), split="train", checkpoint_id=ckpt_id,
                                window_start=r.get("window_start"), window_names=WINDOW_METRICS)
        self.checkpoint_ids.append(ckpt_id)


def _keep_legacy_digest(cat, path: str, config: dict) -> None:
    """A folder registered before its row recorded `WEIGHTS_CHECKSUM`, unchanged since: ``config``
    takes that row's content_sha256, so the catalog keeps the row (and its metrics) as it is."""
    _, rows = cat.sql("SELECT config FROM checkpoints WHERE uri = ?", [path])
    if rows and (old := legacy_digest(json.loads(rows[0][0] or "{}"), path)) is not None:
        config["content_sha256"] = old
