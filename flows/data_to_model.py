"""The end-to-end flow: raw files -> curated -> encoded -> catalog -> trained -> evaluated.

The flow body reads like a table of contents; each stage is a library function in flows/steps.py
(also the body of `lumina curate`, `encode`, `train`, `evaluate`), which runs without Prefect.
Prefect adds retries on I/O, artifacts and deployments; Ray does the fan-out inside the stages.
With source=None, the modality's embedded demo corpus (preprocess/<modality>/demo.py) is written
first, and its DEMO settings fill every parameter left unset. On a source, the manifests are named
after it (image-mysource-train, as its refresh runs are named) and select only its samples.
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run
from prefect.states import Cancelled, State

from contracts.layout import Workspace
from flows.demo_params import check_params, demo_module, evaluation_params, train_params  # torch- and Prefect-free: lumina demo's check


@task(retries=2, retry_delay_seconds=2)
def write_corpus(modality: str, root: str, options: dict) -> str:
    """The modality's embedded corpus under `root`, written once per options and code version (a stamp
    beside the folder says which): a re-run reuses it. Writing a corpus costs time (speech: espeak-ng), and a corpus
    whose bytes changed between runs would add new samples beside the old ones (the speech demo's
    breathy voices did, until espeak-ng's noise was seeded: 45 accepted, then 67 after a second run)."""
    import json

    from catalog.db import code_version

    stamp_path = Path(root).parent / f".{Path(root).name}.corpus.json"
    stamp = {"modality": modality, "options": options, "code_version": code_version()}
    try:
        written = json.loads(stamp_path.read_text())
        if written.get("stamp") == json.loads(json.dumps(stamp, default=str)) and Path(written["root"]).is_dir():
            return written["root"]
    except (OSError, ValueError, KeyError, AttributeError):
        pass  # none yet, or unreadable: write the corpus
    out = str(demo_module(modality).write_corpus(root, **options))
    stamp_path.write_text(json.dumps({"stamp": stamp, "root": out}, default=str, indent=1))
    return out


def _shards_gone(log, what: str, result: dict) -> bool:
    """A cached stage result whose shards were deleted since (a cleaned workspace): the stage must
    run again rather than the next one fail on a missing file."""
    missing = [u for u in result.get("shard_uris") or [] if not Path(u).exists()]
    if missing:
        log.warning(f"{len(missing)} of the cached {what}'s shards are gone ({missing[0]}): running it again")
    return bool(missing)


def _cache_key(kind: str):
    """Content-keyed task cache (flows/refresh.py): a rerun on the same data skips the stage."""
    from flows import refresh

    return getattr(refresh, f"{kind}_cache_key")


@task(cache_key_fn=_cache_key("curate"), persist_result=True)
def curate(source: str, home: str, modality: str, options: dict, run_id: str, backend: str = "ray",
           source_options: dict | None = None) -> dict:
    """``source_options``: how the source is read (caption_column, path_column, ...), as lumina curate's flags say it."""
    from flows.steps import curate_step
    from preprocess.curate import CurateConfig

    cfg = CurateConfig(modality=modality, options=options, **(source_options or {}))
    return curate_step(source, home, cfg, backend=backend, run_id=run_id)


@task(cache_key_fn=_cache_key("encode"), persist_result=True)
def encode(home: str, modality: str, options: dict, run_id: str, shard_uris: list[str], backend: str = "ray") -> dict:
    from flows.steps import encode_step
    from preprocess.encode import EncodeConfig

    return encode_step(home, modality, EncodeConfig(**options), backend=backend, run_id=run_id, shard_uris=shard_uris)


def _sampling_defaults() -> dict:
    """Every sampling setting at its EvalConfig default: the run's parameters then say what sampled
    its figures (latest_metrics' sampling columns were NULL where a demo left a setting unset)."""
    from evaluation.evaluate import EvalConfig, sampling_settings

    return sampling_settings(EvalConfig())


@task
def make_manifests(home: str, modality: str, prefix: str, source: str | None = None) -> dict[str, str]:
    """Pinned ids (``name@vN``) so training and evaluation read exactly this selection: on a
    ``source`` (its source_identity), that source's samples only; else every sample of the modality
    (the demo corpus, as the README's demo figures were measured)."""
    from flows.steps import manifest_step

    if source is None:
        return {split: manifest_step(home, f"{prefix}-{split}", f"modality = '{modality}' AND split = '{split}'", f"demo {split} selection")
                for split in ("train", "holdout")}
    of_source = _source_predicate(source)
    return {split: _freeze_of_source(home, f"{prefix}-{split}", f"modality = '{modality}' AND split = '{split}' AND {of_source}",
                                     split, source)
            for split in ("train", "holdout")}


def _freeze_of_source(home: str, name: str, where: str, split: str, source: str) -> str:
    """manifest_step, whose error for an empty selection quoted the whole source predicate: one
    line that names the source and why a small one can have no holdout sample."""
    from flows.steps import manifest_step
    from preprocess.curate import CurateConfig

    try:
        return manifest_step(home, name, where, f"{split} samples of {source}")
    except ValueError as e:
        if not str(e).startswith(f"manifest {name!r}: no accepted samples match"):
            raise
        raise ValueError(f"manifest {name!r}: no accepted {split} sample of {source} with every encoding; other sources' samples "
                         f"are not taken (the holdout split is a fixed {CurateConfig.holdout_percent}% of the keys: a source of "
                         f"few accepted inputs may have none)") from None


def _source_predicate(source: str) -> str:
    """SQL over samples that keeps the source's own: another source (or the demo corpus) curated into
    the same workspace made up most of the own-source model's manifests, under the demo's names."""
    from catalog.source_selection import source_samples_predicate
    from preprocess.refresh import source_scope
    from preprocess.sources import SourceSpec

    return source_samples_predicate(source, *source_scope(SourceSpec(uri=source)))


def manifest_prefix_of(modality: str, source: str | None) -> str:
    """The manifests' names before -train/-holdout: demo (images) or demo-<modality> (the others) so
    demos share a home, and on a source its refresh run's name (``image-mysource``), made a valid
    manifest name: a second source's manifests were new versions of demo-train."""
    if source is None:  # one name per modality: the speech demo, then the video one, made demo-train v1 speech and v2 video
        return "demo" if modality == "image" else f"demo-{modality}"
    from flows.refresh import source_run_name

    name = source_run_name({"modality": modality, "source": source})
    slug = re.sub(r"[^A-Za-z0-9_.\-]+", "-", name).rstrip("-")
    if any(c.isalnum() and not c.isascii() for c in name):  # image-写真 and image-照片 apart, as artifact_key does
        slug += "-" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return slug


# a data_to_model run of another source that named its manifests so (the demo's runs have no source)
_PREFIX_TAKEN = """SELECT count(*) > 0 FROM runs WHERE flow_name = 'data_to_model'
  AND parameters->>'manifest_prefix' = $1 AND parameters->>'source' IS DISTINCT FROM $2"""


def _prefix_of_its_own(cat, prefix: str, source: str | None) -> str:
    """``prefix``, or (another source of the same last folder named its manifests so: /data/2023/photos
    and /data/2024/photos, two folders' captions.csv or train datasets) ``prefix`` and a hash of the
    source: the second source's manifests were new versions of the first's (image-photos-train@v2
    of /data/2024/photos after @v1 of /data/2023/photos). The first source keeps the plain name."""
    if source is None or not cat.sql(_PREFIX_TAKEN, [prefix, source])[1][0][0]:
        return prefix
    return f"{prefix}-{hashlib.sha256(source.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


@task
def train_model(home: str, manifest: str, run_id: str, params: dict) -> dict:
    from flows.steps import train_step
    from training.trainer import TrainConfig

    return train_step(home, TrainConfig(manifest=manifest, **params), run_id=run_id)


@task
def evaluate_model(home: str, manifest: str, checkpoint: str, run_id: str, params: dict) -> dict:
    from evaluation.evaluate import EvalConfig
    from flows.steps import evaluate_step

    return evaluate_step(home, EvalConfig(manifest=manifest, checkpoint=checkpoint, **params), run_id=run_id)


def _run_name() -> str:
    """`image-coco`, `speech-demo` (flows.refresh.source_run_name): not a random name in `prefect flow-run ls`."""
    from flows.refresh import source_run_name

    try:
        return source_run_name({"modality": "image", **flow_run.parameters, "source": flow_run.parameters.get("source") or "demo"})
    except Exception:  # noqa: BLE001 - a name must never fail the run
        return "data_to_model"


@flow(name="data_to_model", flow_run_name=_run_name, log_prints=True)
def data_to_model(
    modality: str = "image",
    source: str | None = None,
    home: str | None = None,
    num_digits: int | None = None,
    num_shapes: int | None = None,
    corpus_options: dict[str, Any] | None = None,
    curate_options: dict[str, Any] | None = None,
    source_options: dict[str, Any] | None = None,  # how a source is read: caption_column, path_column, media_column, caption_key, follow_symlinks
    encode_options: dict[str, Any] | None = None,
    train_steps: int | None = None,
    train_max_seconds: float | None = None,  # a safety cap so a demo stays within 10 minutes (default: the demo's, else 420 s)
    model: str = "flag-dit-tiny",
    model_overrides: dict[str, Any] | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    samples_per_class: int | None = None,  # default: the demo's, else 10
    sample_steps: int | None = None,  # default: the demo's, else 30
    eval_options: dict[str, Any] | None = None,
    manifest_prefix: str | None = None,  # default: demo (images), demo-<modality> (the others); on a source, image-<folder> (manifest_prefix_of)
    backend: str = "ray",  # "local": curate and encode in this process, without Ray (the test-scale configs)
) -> dict | State:
    """Curate, encode, register, train and evaluate one modality. A SIGTERM while training (a
    cancelled deployment run) ends it Cancelled, with the registered checkpoint to resume from."""
    # the parameters given (locals() holds only them here): a deployment run with a wrong option
    # fails here in one line, as `lumina demo` does before it starts the flow, not inside a task
    check_params({k: v for k, v in locals().items() if v is not None})
    from catalog import Catalog
    from training.stopping import TrainingStopped

    log = get_run_logger()
    ws = Workspace.at(home)
    home = str(ws.home)
    demo = getattr(demo_module(modality), "DEMO", {}) if source is None else {}
    corpus_options = {**demo.get("corpus_options", {}), **(corpus_options or {}),
                      **{k: v for k, v in {"num_digits": num_digits, "num_shapes": num_shapes}.items() if v is not None}}
    curate_options = curate_options if curate_options is not None else demo.get("curate_options", {})
    encode_options = encode_options if encode_options is not None else demo.get("encode_options", {})
    train = train_params(demo, train_steps, train_max_seconds, model, model_overrides, batch_size, lr)
    evaluation = evaluation_params(demo.get("eval_options", {}), samples_per_class, sample_steps, eval_options)
    evaluation = {**_sampling_defaults(), **evaluation}  # recorded whole: latest_metrics reads each (schema v11)
    from preprocess.refresh import source_identity

    # absolute, as curate and refresh record it: a refresh finds what this run curated by it
    source_id = source_identity(source) if source else None
    with Catalog.open(ws.catalog) as cat:
        manifest_prefix = manifest_prefix or _prefix_of_its_own(cat, manifest_prefix_of(modality, source_id), source_id)
        params = dict(modality=modality, source=source_id, corpus_options=corpus_options, curate_options=curate_options,
                      encode_options=encode_options, train=train, evaluation=evaluation, manifest_prefix=manifest_prefix)
        if source_options:  # a refresh of the source reads it so too (last_curation_of_source)
            params["source_options"] = source_options
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
        source = source or stage("corpus", write_corpus, modality, str(ws.home / "source" / modality), corpus_options)
        curate_args = (source, home, modality, curate_options, run_id, backend, source_options)
        curated = stage("curate", curate, *curate_args)
        if _shards_gone(log, "curation", curated):
            curated = stage("curate", curate.with_options(refresh_cache=True), *curate_args)
        _say_if_cached(log, "curate", curated, run_id, "the source's content is unchanged")
        encode_args = (home, modality, encode_options or {}, run_id, curated["shard_uris"], backend)
        encoded = stage("encode", encode, *encode_args)
        if _shards_gone(log, "encoding", encoded):
            encoded = stage("encode", encode.with_options(refresh_cache=True), *encode_args)
        _say_if_cached(log, "encode", encoded, run_id, "the curated shards and encoders are unchanged")
        manifests = stage("manifests", make_manifests, home, modality, manifest_prefix, source_id)
        trained = stage("train", train_model, home, manifests["train"], run_id, train)
        evaluated = stage("evaluate", evaluate_model, home, manifests["holdout"], trained["checkpoint"], run_id, evaluation)
    except TrainingStopped as e:  # SIGTERM while training: the checkpoint is registered, evaluation is skipped
        with Catalog.open(ws.catalog) as cat:
            cat.finish_run(run_id, status="cancelled")
        return Cancelled(message=str(e))
    except BaseException as e:
        from flows.steps import stopped_from_outside

        with Catalog.open(ws.catalog) as cat:  # a cancellation in curate or encode is no failure either
            cat.finish_run(run_id, status="cancelled" if stopped_from_outside(e) else "failed")
        raise
    with Catalog.open(ws.catalog) as cat:
        cat.finish_run(run_id, status="completed")

    summary = {
        "modality": modality, "run_id": run_id, "catalog": str(ws.catalog), "checkpoint": trained["checkpoint"],
        "checkpoint_id": trained["checkpoint_id"], "grid": evaluated["renders"].get("grid"), "renders": evaluated["renders"],
        "metrics": evaluated["metrics"], "curation": curated["counts"], "registered": {"curate": curated["registered"], "encode": encoded["registered"]},
        "timings_s": timings, "train_steps": trained["steps"], "train_steps_asked": train["steps"], "train_stopped_by": trained.get("stopped_by"),
        "train_max_seconds": train["max_seconds"], "final_train_loss": trained["final_loss"], "manifests": manifests,
    }
    _publish(summary, _run_name())
    return summary


def _say_if_cached(log, name: str, result: dict, run_id: str, why: str) -> None:
    if result.get("run_id") != run_id:
        log.info(f"stage {name} skipped: {why}; reusing the result of run {result.get('run_id')} (task cache)")


def _publish(summary: dict, run_name: str) -> None:
    """Results in the Prefect UI: a metrics table and a markdown summary, keyed by the run's name
    (`image-coco`) so that each source keeps its own history (flows.artifact_keys)."""
    from flows.artifact_keys import artifact_key

    create_table_artifact(key=artifact_key("data-to-model-metrics", run_name), table=[{"metric": k, "value": round(v, 4)} for k, v in summary["metrics"].items()])
    renders = [f"- {k}: `{v}`" for k, v in summary["renders"].items()]
    if summary.get("grid"):  # the sample grid, embedded (the UI shows it where the browser can read the file)
        renders.append(f"\n![sample grid]({Path(summary['grid']).resolve().as_uri()})")
    create_markdown_artifact(
        key=artifact_key("data-to-model-summary", run_name),
        markdown="\n".join([f"# data_to_model ({summary['modality']})", "", f"- checkpoint: `{summary['checkpoint']}`", *renders,
                            f"- curation: {summary['curation']}", f"- stage seconds: {summary['timings_s']}"]),
    )
