"""Prefect flow: train on a manifest and register the checkpoint (`lumina train` as a flow).

SIGTERM (a cancelled or preempted deployment run) ends training at a step boundary with a
registered checkpoint; the flow run then ends Cancelled, its message saying where to resume."""

from __future__ import annotations

import logging
from typing import Any

from prefect import flow
from prefect.states import Cancelled, Completed, State


@flow(name="train", flow_run_name="{manifest}", log_prints=True)  # triggered runs named by what they train
def train_flow(manifest: str, home: str | None = None, options: dict[str, Any] | None = None,
               once_per_version: bool = False) -> dict | State:
    """Train on ``manifest`` ("name@vN", or a name: its latest version, or options' manifest_version).

    ``once_per_version`` (the `train` deployment's trigger sets it; by hand it is off): one run per
    manifest version. The flow first takes the version's claim (flows/train_claim.py: an exclusive
    flock on <home>/claims/train/<manifest>-v<N>.lock, beside the catalog), holds it until training
    ends, and only then looks the catalog up. When another flow holds the claim (two events for the
    same version at the same moment), nothing is trained and no run is recorded: the flow ends
    Completed, its message and one log line naming the version and saying another run is training
    it now. When the catalog already has a train run of that manifest version that did not fail
    (running, completed, cancelled, or abandoned: the runs that count as having taken a due training
    in catalog/queries/source_index.sql's train_runs_of_manifest_version, as the refresh flow counts
    them), the same, the message naming that run. The refresh flow announces a due training at
    least once (a refresh killed after its lumina.manifest.updated event and before it consumed the
    training sends the event again on its next run: catalog/source_index.update_live_manifests), so
    a repeated event would otherwise train the same version twice. The kernel drops the claim when
    the flow process dies (a crash leaves none); a failed run releases it, and the next event trains.
    A --resume run of a bare manifest name is not claimed nor looked up (it goes on with its
    checkpoint's version); a bare name otherwise claims the latest version when the flow starts, and trains that one.
    """
    from contracts.config import from_mapping
    from training.stopping import TrainingStopped

    options = {"manifest": manifest, **(options or {})}  # what this run asks; --resume takes the rest from its checkpoint
    claim = None
    if once_per_version and (version := _version_asked(home, options)) is not None:
        from flows.train_claim import VersionClaim, claim_path, held_elsewhere_message

        catalog, name, number = version
        claim = VersionClaim(claim_path(catalog, name, number))
        if not claim.take():
            message = held_elsewhere_message(f"{name}@v{number}", claim.holder())
            _logger().info(message)
            return Completed(message=message)
    try:
        if claim is not None:
            from contracts.hold_points import hold_point

            hold_point("train.claimed")  # the version claimed, the catalog not yet looked up (a fault test's kill)
            if (taken := _run_that_took(catalog, name, number)) is not None:
                message = (f"{name}@v{number} is already trained by run {taken[0]} ({taken[1]}): a repeated "
                           "lumina.manifest.updated event; nothing to train (once_per_version)")
                _logger().info(message)
                return Completed(message=message)
            if "@v" not in options["manifest"] and options.get("manifest_version") is None:
                options = {**options, "manifest_version": number}  # train the claimed version, not one frozen since
        from flows.steps import train_step
        from training.trainer import TrainConfig

        try:
            return train_step(home, from_mapping(TrainConfig, {"given": sorted(options), **options}))
        except TrainingStopped as e:
            return Cancelled(message=str(e))
    finally:
        if claim is not None:
            claim.release()


def _version_asked(home: str | None, options: dict[str, Any]) -> tuple[str, str, int] | None:
    """(catalog, manifest name, version) of the manifest version ``options`` name, in the catalog
    train_step records its run in (--catalog, else <home>/catalog.duckdb); None when the manifest
    does not resolve (train_step then refuses it with its own line) or for a --resume of a bare
    name. The version resolves as train_step resolves it: "name@vN", else manifest_version, else
    the latest; runs record the plain name and the version apart. Any other error (a catalog busy
    past its timeout) is raised: a flow that cannot claim its version does not train unclaimed."""
    from catalog import CatalogNotFoundError, ManifestNotFoundError, SchemaVersionError, load_manifest_header
    from contracts.layout import Workspace

    name, version = options["manifest"], options.get("manifest_version")
    if options.get("resume") and version is None and "@v" not in name:
        return None
    catalog = options.get("catalog") or str(Workspace.at(home).catalog)
    try:
        header = load_manifest_header(catalog, name, version)
    except (CatalogNotFoundError, ManifestNotFoundError, ValueError):  # and two versions named: train_step refuses each
        return None
    except SchemaVersionError:  # an older catalog: train_step migrates it (the refresh that sent the event did already)
        return None
    return catalog, header.name, header.version


def _run_that_took(catalog: str, name: str, version: int) -> tuple[str, str] | None:
    """(run id, status) of the newest train run of manifest ``name`` version ``version`` in
    ``catalog`` that did not fail; None when there is none."""
    from catalog import Catalog

    with Catalog.open(catalog, read_only=True) as cat:
        _, rows = cat.sql(
            "SELECT run_id, status FROM runs WHERE flow_name = 'train' AND status <> 'failed' "
            "AND parameters->>'manifest' = ? AND TRY_CAST(parameters->>'manifest_version' AS INTEGER) = ? "
            "ORDER BY started_at DESC LIMIT 1", [name, version])
    return tuple(rows[0]) if rows else None


def _logger() -> logging.Logger | logging.LoggerAdapter:
    """The flow run's logger (the run's log in the UI), else this module's (train_flow.fn called directly)."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)
