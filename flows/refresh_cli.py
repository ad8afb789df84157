"""`lumina refresh SOURCE --modality M`: the refresh without Prefect. Its parser, --help and every
refusal of an argument import neither Prefect nor the catalog: flows/refresh.py (the library
function and the Prefect flow of the scheduled deployment) is imported once the arguments are
checked. Its --help took 2 s of CPU importing Prefect."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict

from contracts.config import ArgumentParser, config_values, parse_assignments
from contracts.records import Modality
from flows.cli_config import (UNSET, add_backend_args, add_common_args, add_config_args, add_curation_args, backend_of,
                              config_from_args, curation_options)
from preprocess.curate import CurateConfig


def parser() -> ArgumentParser:
    p = ArgumentParser(prog="lumina refresh", description="Curate and encode only what is new or changed in a "
                                "source since the last refresh; mark what left as removed; re-freeze live manifests.")
    p.add_argument("source", help="a folder, a tar glob, a listing or a datasets folder (as for lumina curate)")
    add_common_args(p)
    add_config_args(p, CurateConfig, skip=("options",))
    add_curation_args(p)
    p.add_argument("--encode-config", help="YAML of EncodeConfig fields for the new shards")
    p.add_argument("--live", action="append", default=[], metavar="NAME=WHERE",
                   help="declare (or change) a live manifest: a stored selection re-frozen by every refresh")
    p.add_argument("--train-min-growth", type=int, help="with --live: new members that make training due (the event's label; default: never, "
                   "and a live manifest declared again without it keeps its earlier rule)")
    p.add_argument("--live-encoder", action="append", default=None, metavar="FINGERPRINT",
                   help="with --live: take the members' encodings from this encoder (one per kind; repeat), as "
                        "lumina catalog manifest create --encoder does; a live manifest keeps its pin when declared again without one; "
                        "--live-encoder none lifts it")
    p.add_argument("--ray-address", metavar="HOST:PORT", help="curate and encode on this running Ray cluster (same as RAY_ADDRESS)")
    add_backend_args(p)
    p.add_argument("--allow-empty-source", action="store_true",
                   help="refresh a source that lists no entries although the catalog has samples of it (marks them all "
                        "removed); without it such a refresh is refused (an unmounted share is not a deleted corpus)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    a = p.parse_args(argv)
    if a.ray_address:
        os.environ["RAY_ADDRESS"] = a.ray_address
    live_args = []  # (name, where): checked here, made LiveManifests (the catalog package) after the checks
    for item in a.live:
        name, sep, where = item.partition("=")
        if not sep or not where.strip():
            p.error(f"--live {item!r}: use NAME=WHERE")
        live_args.append((name.strip(), where.strip()))
    if a.live_encoder and not a.live:
        p.error("--live-encoder goes with --live NAME=WHERE")
    backend = backend_of(p, a)
    cfg = config_from_args(CurateConfig, a)  # checks the flags and values
    Modality.parse(cfg.modality)  # an unknown --modality: its line before Prefect and the catalog are imported
    cfg.options = curation_options(a, cfg.options)
    from contracts.config import load_config
    from preprocess.encode import EncodeConfig

    encode_cfg = load_config(EncodeConfig, a.encode_config, {})
    encode_cfg.check_paths(cfg.modality)  # torch-free: a missing --vae or --text-path before Prefect, not after curation

    from catalog.source_index import LiveManifest
    from flows import refresh  # the library refresh (no Prefect: its flow is made on first use)

    pin = [] if a.live_encoder == ["none"] else a.live_encoder  # [] lifts a pin, None keeps it
    live = [LiveManifest(name, where, train_min_growth=a.train_min_growth, encoders=pin) for name, where in live_args]
    # what the user set (--config, --set, flags): the rest comes from the source's last curation
    given = config_values(a.config, assignments={**parse_assignments(a.set), **{
        f: None if getattr(a, f) is UNSET else getattr(a, f) for f in refresh.CURATION_FIELDS if getattr(a, f, None) is not None}})
    given["options"] = curation_options(a, dict(given.get("options") or {}))
    cfg, reused = refresh.reuse_curation(a.home, a.source, cfg.modality, given)
    hooks = refresh.RefreshHooks(say=lambda line: print(f"lumina refresh: {line}", file=sys.stderr, flush=True))
    result = refresh.refresh_source(a.source, a.home, cfg, encode_cfg, live,
                                    backend, hooks, allow_empty_source=a.allow_empty_source, consume_due=False)
    result.reused_options = reused if result.curated else {}  # options used, not only found
    if note := refresh.reused_options_note(result):
        print(f"lumina refresh: {note}", file=sys.stderr)
    out = asdict(result)
    if a.json:
        print(json.dumps(out, indent=1, default=str))
    else:  # as the other stage commands print theirs: the plan's counts one per line, not a dict
        from flows.result_table import print_result

        print_result(table_of(out), as_json=False)
        for note in result.notes:
            print(note)
    return 0


def table_of(out: dict) -> dict:
    """The result as the table shows it: the notes printed after it, a live-manifest version one
    line each (the table printed each as a Python dict, "{'manifest': 'image-live@v2', 'members': ...}")."""
    from flows.refresh import manifest_line  # imported already: the refresh has run

    table = {k: v for k, v in out.items() if k != "notes" and not (k == "repaired" and not v)}
    table["manifests"] = [manifest_line(m) for m in out.get("manifests") or []]
    return table
