"""Checkpoints and their metrics go into the catalog as they are written (rank 0)."""

from __future__ import annotations

from dataclasses import dataclass, field

# trainer row key -> catalog metric name
STEP_METRICS = {"loss": "train_loss_step", "grad_norm": "grad_norm", "lr": "lr", "tokens_per_s": "tokens_per_s",
                "padding": "padding_fraction"}


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

        with Catalog.open(self.catalog) as cat:
            ckpt_id = cat.register_checkpoint(self.run_id, path, {"steps": step, "model": self.model},
                                              self.manifest, self.manifest_version, step)
            for r in rows:
                metrics = {name: r[k] for k, name in STEP_METRICS.items() if r.get(k) is not None}
                if r.get("window_loss") is not None:
                    metrics["train_fm_loss"] = r["window_loss"]  # the log-window mean, as before issue 11
                cat.log_metrics(self.run_id, metrics, step=int(r["step"]), split="train", checkpoint_id=ckpt_id)
        self.checkpoint_ids.append(ckpt_id)
