"""The end-to-end flow: raw image-text folder -> curated -> encoded -> catalog -> trained -> evaluated.

The flow body reads like a table of contents; the work lives in importable library functions
(preprocess/, training/, evaluation/, catalog/), each of which runs without Prefect. Prefect adds
retries on I/O, caching, artifacts and deployments; Ray does the fan-out inside the stages.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

from catalog.paths import default_home

# The demo's model: 1.8M parameters, patch 4 on 32x32 pixels (64 tokens + 8 [nextline]). On 2 CPU
# cores 800 steps reach ~99% class-conditional accuracy on held-out digit captions.
DEMO_MODEL = {"dim": 128, "n_layers": 4, "n_heads": 4, "patch_size": 4, "multiple_of": 64}
TRAIN_WHERE = "modality = 'image' AND split = 'train'"
HOLDOUT_WHERE = "modality = 'image' AND split = 'holdout'"


@task(retries=2, retry_delay_seconds=2)
def write_corpus(root: str, num_digits: int | None, num_shapes: int) -> str:
    from preprocess.demo_corpus import write_demo_corpus

    return str(write_demo_corpus(root, num_digits=num_digits, num_shapes=num_shapes).root)


@task
def curate(source: str, home: str) -> dict:
    from preprocess.stages import curate_images

    return asdict(curate_images(source, home))


@task
def encode(shard_uris: list[str], home: str) -> list[str]:
    from preprocess.stages import encode_shards

    return encode_shards(shard_uris, home)


@task(retries=2, retry_delay_seconds=5)  # catalog writes retry: a busy catalog clears up
def register(catalog: str, batch_paths: list[str], run_id: str) -> dict:
    from catalog import Catalog

    with Catalog.open(catalog) as cat:
        return cat.register_batches(batch_paths, run_id)


@task
def make_manifests(catalog: str, prefix: str) -> dict[str, str]:
    """Pinned ids (``name@vN``) so training and evaluation read exactly this selection."""
    from catalog import Catalog

    with Catalog.open(catalog) as cat:
        train = cat.create_manifest(f"{prefix}-train", TRAIN_WHERE, description="demo training selection")
        holdout = cat.create_manifest(f"{prefix}-holdout", HOLDOUT_WHERE, description="demo held-out selection")
    return {"train": train.id, "holdout": holdout.id, "text_encoder": train.encoders["text"]}


@task
def train_model(catalog: str, manifests: dict, home: str, run_id: str, steps: int, max_seconds: float | None, model: str, model_overrides: dict, batch_size: int, lr: float) -> dict:
    from preprocess.encode import null_caption_path
    from training.trainer import TrainConfig, train

    cfg = TrainConfig(
        catalog=catalog, manifest=manifests["train"], out_dir=str(Path(home) / "runs" / run_id),
        null_caption=str(null_caption_path(home, manifests["text_encoder"])), model=model, model_overrides=model_overrides,
        steps=steps, max_seconds=max_seconds, batch_size=batch_size, lr=lr,
    )
    return asdict(train(cfg))


@task
def evaluate_model(catalog: str, manifest: str, checkpoint: str, samples_per_class: int, sample_steps: int) -> dict:
    from evaluation.evaluate import EvalConfig, evaluate

    cfg = EvalConfig(catalog=catalog, manifest=manifest, checkpoint=checkpoint, out_dir=str(Path(checkpoint) / "eval"),
                     samples_per_class=samples_per_class, steps=sample_steps)
    return asdict(evaluate(cfg))


@task(retries=2, retry_delay_seconds=5)
def record_results(catalog: str, run_id: str, trained: dict, evaluated: dict) -> str:
    from catalog import Catalog

    with Catalog.open(catalog) as cat:
        ckpt_id = cat.register_checkpoint(run_id, trained["checkpoint"], {"steps": trained["steps"]}, trained["manifest"], trained["manifest_version"], trained["steps"])
        for step, loss in trained["losses"]:
            cat.log_metrics(run_id, {"train_fm_loss": loss}, step=step, split="train", checkpoint_id=ckpt_id)
        cat.log_metrics(run_id, evaluated["metrics"], step=trained["steps"], split="holdout", checkpoint_id=ckpt_id)
    return ckpt_id


@flow(name="data_to_model", log_prints=True)
def data_to_model(
    source: str | None = None,
    home: str | None = None,
    num_digits: int | None = None,
    num_shapes: int = 300,
    train_steps: int = 800,
    train_max_seconds: float | None = 420.0,  # a safety cap so the demo stays within 10 minutes on a slow machine
    model: str = "flag-dit-tiny",
    model_overrides: dict[str, Any] | None = None,
    batch_size: int = 64,
    lr: float = 1e-3,
    samples_per_class: int = 10,
    sample_steps: int = 30,
    manifest_prefix: str = "demo",
) -> dict:
    """Curate, encode, register, train and evaluate. With source=None the embedded demo corpus is written first."""
    from catalog import Catalog

    log = get_run_logger()
    home = str(Path(home).resolve() if home else default_home())
    catalog = str(Path(home) / "catalog.duckdb")
    params = dict(source=source, num_digits=num_digits, num_shapes=num_shapes, train_steps=train_steps, train_max_seconds=train_max_seconds, model=model,
                  model_overrides=model_overrides, batch_size=batch_size, lr=lr, samples_per_class=samples_per_class,
                  sample_steps=sample_steps, manifest_prefix=manifest_prefix)
    with Catalog.open(catalog) as cat:
        run_id = cat.start_run("data_to_model", params, run_id=str(flow_run.get_id() or "") or None)
    timings: dict[str, float] = {}

    def stage(name, fn, *args):
        t = time.time()
        log.info(f"stage {name} ...")
        out = fn(*args)
        timings[name] = round(time.time() - t, 1)
        log.info(f"stage {name} done in {timings[name]} s")
        return out

    try:
        source = source or stage("corpus", write_corpus, str(Path(home) / "source"), num_digits, num_shapes)
        curated = stage("curate", curate, source, home)
        encoded = stage("encode", encode, curated["shard_uris"], home)
        registered = stage("register", register, catalog, curated["batch_paths"] + encoded, run_id)
        manifests = stage("manifests", make_manifests, catalog, manifest_prefix)
        trained = stage("train", train_model, catalog, manifests, home, run_id, train_steps, train_max_seconds, model, DEMO_MODEL if model_overrides is None else model_overrides, batch_size, lr)
        evaluated = stage("evaluate", evaluate_model, catalog, manifests["holdout"], trained["checkpoint"], samples_per_class, sample_steps)
        ckpt_id = stage("record", record_results, catalog, run_id, trained, evaluated)
    except BaseException:
        with Catalog.open(catalog) as cat:
            cat.finish_run(run_id, status="failed")
        raise
    with Catalog.open(catalog) as cat:
        cat.finish_run(run_id, status="completed")

    summary = {
        "run_id": run_id, "catalog": catalog, "checkpoint": trained["checkpoint"], "checkpoint_id": ckpt_id,
        "grid": evaluated["grid"], "metrics": evaluated["metrics"], "curation": curated["counts"],
        "registered": registered, "timings_s": timings, "train_steps": trained["steps"], "final_train_loss": trained["final_loss"],
    }
    _publish(summary)
    return summary


def _publish(summary: dict) -> None:
    """Results in the Prefect UI: a metrics table and a markdown summary."""
    create_table_artifact(key="demo-metrics", table=[{"metric": k, "value": round(v, 4)} for k, v in summary["metrics"].items()])
    create_markdown_artifact(
        key="demo-summary",
        markdown="\n".join(["# data_to_model", "", f"- checkpoint: `{summary['checkpoint']}`", f"- samples: `{summary['grid']}`",
                            f"- curation: {summary['curation']}", f"- stage seconds: {summary['timings_s']}"]),
    )
