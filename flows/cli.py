"""`lumina`: the one console script for every user-facing command.

Each stage command is a thin wrapper of a library function in flows/steps.py (the same functions
the Prefect flows call). Wrong paths, unknown options and unreadable sources end with one line on
stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time

from contracts.config import ArgumentParser
from contracts.env import TRACEBACK_ENV, apply_offline_env
from flows.result_table import print_result

EXIT_USAGE = 2


def _curate(argv: list[str]) -> int:
    from flows.cli_config import (add_backend_args, add_common_args, add_config_args, add_curation_args, add_ray_address_arg,
                                  backend_of, config_from_args, curation_options)
    from preprocess.curate import CurateConfig

    p = ArgumentParser(prog="lumina curate", description="Curate a source (folder, *.tar, listing or datasets folder) into shards and register every input.")
    p.add_argument("source", help="a folder, a tar glob ('data/*.tar'), a .parquet/.jsonl/.csv listing, or a datasets.save_to_disk folder")
    add_common_args(p, "options.max_tokens=256")
    add_config_args(p, CurateConfig, skip=("options",))
    add_curation_args(p)
    add_backend_args(p)
    add_ray_address_arg(p, "the analysis and shard-writing tasks")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    a = p.parse_args(argv)
    cfg = config_from_args(CurateConfig, a)
    cfg.options = curation_options(a, cfg.options)
    from flows.steps import curate_step

    out = curate_step(a.source, a.home, cfg, backend=backend_of(p, a))
    print_result(out, a.json)
    return 0


def _encode(argv: list[str]) -> int:
    from contracts.records import Modality
    from flows.cli_config import (add_backend_args, add_common_args, add_config_args, add_ray_address_arg, backend_of,
                                  config_from_args, modality_list)
    from preprocess.encode import EncodeConfig

    p = ArgumentParser(prog="lumina encode", description="Encode every curated shard of a modality not yet encoded with this encoder pair "
                       "(of samples curated again with other options, the latest curation's shards).")
    add_common_args(p, "batch_size=32")
    p.add_argument("--modality", default="image", help=f"{modality_list()} (default: image)")
    add_config_args(p, EncodeConfig)
    add_backend_args(p)
    add_ray_address_arg(p, "the encoder actors")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    a = p.parse_args(argv)
    Modality.parse(a.modality)  # encode_step's refusal, before EncodeConfig's checks and the stage import torch
    from flows.steps import encode_step

    out = encode_step(a.home, a.modality, config_from_args(EncodeConfig, a), backend=backend_of(p, a))
    print_result(out, a.json)
    return 0


def _train(argv: list[str]) -> int:
    from contracts.config import from_mapping
    from contracts.layout import missing_catalog
    from flows.cli_config import add_common_args, add_config_args, add_ray_address_arg, config_values_from_args
    from training.config import MODEL_OVERRIDES_HELP, TrainConfig, model_overrides_arg  # torch-free: the trainer after the checks

    p = ArgumentParser(prog="lumina train", description="Train a Flag-DiT on a catalog manifest and register its checkpoint and metrics.")
    add_common_args(p, "lr=0.0005")
    add_config_args(p, TrainConfig)
    p.add_argument("--model-overrides", type=model_overrides_arg, help=MODEL_OVERRIDES_HELP)
    add_ray_address_arg(p, "the --launcher ray workers")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    a = p.parse_args(argv)
    extra = {"model_overrides": a.model_overrides} if a.model_overrides is not None else {}
    values = config_values_from_args(TrainConfig, a, extra)
    if not values.get("manifest") and values.get("resume") and values.get("out_dir"):
        from training.resume_config import manifest_of_run_folder

        values["manifest"] = manifest_of_run_folder(values["out_dir"])  # the run's own, as its checkpoints record
    if not values.get("manifest"):  # before TrainConfig's model check imports torch
        p.error("--manifest is required (or manifest: in --config; --resume --out-dir RUN takes the run's own)")
    cfg = from_mapping(TrainConfig, values)
    if a.ray_address and cfg.launcher != "ray" and not (cfg.resume and "launcher" not in (cfg.given or ())):
        # it trained in this process and exited 0 without a word; a bare --resume of a Ray Train run
        # launches with Ray again (training.resume_config.resumed_launcher), so that one may take it
        p.error(f"--ray-address {a.ray_address} is for --launcher ray (Ray Train workers on that cluster): "
                f"--launcher {cfg.launcher} trains in this process without Ray")
    if a.ray_address:
        from contracts.ray_runtime import check_ray_address

        check_ray_address(a.ray_address)
    # train_step's first refusal, before flows.steps imports torch (~2.5 s of CPU); where it is imported
    # already (a process that trained, a test's stand-in), train_step says the same line
    if "flows.steps" not in sys.modules and (missing := missing_catalog(a.home, cfg.catalog)) is not None:
        raise FileNotFoundError(missing)
    from flows.steps import train_step
    from training.stopping import TrainingStopped
    from training.trainer import show_training_messages

    show_training_messages()
    try:
        print_result(train_step(a.home, cfg), a.json)
    except TrainingStopped as e:  # --json: the stop, on stdout too, for whatever reads it
        if a.json:
            from flows.steps import checkpoint_id_of

            print_result({"stopped_by": signal.Signals(e.signum).name, "steps": e.step, "checkpoint": e.checkpoint,
                    "checkpoint_id": checkpoint_id_of(cfg.catalog, e.checkpoint)}, True)
        raise
    return 0


def _evaluate(argv: list[str]) -> int:
    from contracts.config import from_mapping
    from evaluation.config import EvalConfig, judge_cache_limit  # torch-free: the evaluation after the checks
    from flows.cli_config import add_common_args, add_config_args, config_values_from_args

    p = ArgumentParser(prog="lumina evaluate", description="Evaluate a checkpoint on a held-out manifest; metrics go to the catalog.")
    add_common_args(p, "steps=50")
    add_config_args(p, EvalConfig)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    a = p.parse_args(argv)
    values = config_values_from_args(EvalConfig, a)
    if not values.get("manifest") or not values.get("checkpoint"):  # before EvalConfig's sampler check imports torch
        p.error("--manifest and --checkpoint are required")
    cfg = from_mapping(EvalConfig, values)
    judge_cache_limit()  # a bad $LUMINA_JUDGE_CACHE_MB, refused before anything runs
    from contracts.messages import show_messages
    from flows.steps import evaluate_step

    show_messages("evaluation")  # --max-heldout's cut, the judge cache's hit or miss, the mixed-size note
    print_result(evaluate_step(a.home, cfg), a.json)
    return 0


def _sample(argv: list[str]) -> int:
    from contracts.config import from_mapping
    from contracts.layout import Workspace
    from evaluation.config import EXTRAPOLATION_CHOICES, SampleConfig  # torch-free
    from evaluation.sample_flags import declared_sample_flags, spelled  # the samplers' flags, without the samplers
    from flows.cli_config import add_common_args, add_config_args, add_modality_args, config_values_from_args, modality_flags, number

    p = ArgumentParser(prog="lumina sample", description="Generate from a checkpoint for a prompt.")
    add_common_args(p, "steps=50")
    add_config_args(p, SampleConfig, skip=("cfg", "extrapolation"))
    p.add_argument("--cfg", "--cfg-scale", type=number, dest="cfg",
                   help=f"classifier-free guidance scale (default: {SampleConfig.cfg}, as lumina evaluate's)")
    p.add_argument("--extrapolation", choices=EXTRAPOLATION_CHOICES,
                   help="RoPE scaling for a --size beyond the checkpoint's training size (default: auto: Lumina-Next's "
                        "time-aware scaled RoPE with proportional attention there, nothing within it); none: never scale")
    samplings = declared_sample_flags()  # each modality's own flags and its names for generic ones (--views, --text)
    add_modality_args(p, SampleConfig, {m: (s.options, s.aliases) for m, s in samplings.items()})
    a = p.parse_args(argv)
    values = config_values_from_args(SampleConfig, a)
    # before SampleConfig's sampler check imports torch
    checkpoint, prompt = ("" if values.get(k) is None else str(values[k]) for k in ("checkpoint", "prompt"))
    if not checkpoint:
        p.error("--checkpoint is required (a checkpoint folder or its catalog id)")
    if not prompt.strip():
        p.error(f"{spelled('prompt')} is required and may not be empty" + (f": got {prompt!r}" if prompt else ""))
    cfg = from_mapping(SampleConfig, values)
    cfg.options = {**cfg.options, **modality_flags(a, [s.options for s in samplings.values()])}  # flags win
    from flows.steps import resolve_checkpoint

    catalog = Workspace.at(a.home).catalog
    cfg.checkpoint = resolve_checkpoint(catalog, cfg.checkpoint)
    if a.home and catalog.exists() and not cfg.catalog:  # a moved workspace: its own catalog, not the recorded path
        cfg.catalog = str(catalog)
    from evaluation.sample import sample_to_files  # torch, once the checkpoint is found

    for path in sample_to_files(cfg):
        print(path)
    return 0


def _demo(argv: list[str]) -> int:
    from flows.cli_config import UNSET, add_backend_args, add_config_args, add_ray_address_arg, backend_of, modality_list
    from flows.demo_params import source_option_names
    from preprocess.curate import CurateConfig
    from training.config import MODEL_OVERRIDES_HELP, model_overrides_arg

    p = ArgumentParser(prog="lumina demo", description="Run data_to_model (curate, encode, train, evaluate) on an embedded demo corpus, or on your own folder, tar glob, listing or datasets folder with --source: nothing to start or download (it starts its own Prefect server on 127.0.0.1 unless PREFECT_API_URL names one).")
    p.add_argument("--home", help="workspace folder (default: $LUMINA_HOME or ./lumina_home)")
    p.add_argument("--modality", help=f"{modality_list()} (default: the config's modality, else image)")
    p.add_argument("--config", help="YAML of data_to_model parameters (e.g. configs/smoke.yaml); flags override it")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter of the config, e.g. --set corpus_options.num_shapes=300")
    p.add_argument("--source", help="your folder, tar glob or listing instead of the demo corpus (--set source=...): its manifests "
                   "are <modality>-<name>-train and -holdout, of its samples only")
    p.add_argument("--steps", type=int, help="training steps (default: the modality demo's, else 800; training also stops at the demo's time cap, 420 s unless it sets one (--set train_max_seconds=S))")
    p.add_argument("--num-digits", type=int, help="the digits-and-shapes demo corpus only (corpus_options.num_digits): use only its first N digits (smaller, faster run)")
    p.add_argument("--samples-per-class", type=int, help="samples generated per class for the evaluation's accuracies "
                   "(default: the modality demo's, else 10)")
    p.add_argument("--sample-steps", type=int, help="ODE steps when sampling for evaluation (default: the modality demo's, else 30)")
    p.add_argument("--model-overrides", type=model_overrides_arg, help=MODEL_OVERRIDES_HELP)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_backend_args(p)  # the config's backend: (the flow's default: ray); --local as the stage commands take it
    add_ray_address_arg(p, "the curate and encode stages (backend: ray)")
    reading = source_option_names()  # lumina curate's flags of the same names (--set source_options.caption_column=text)
    add_config_args(p.add_argument_group("reading --source (as lumina curate reads it; source_options)"), CurateConfig,
                    skip=tuple(f for f in CurateConfig.__dataclass_fields__ if f not in reading))
    a = p.parse_args(argv)
    from contracts.config import config_values, parse_assignments
    from flows.demo_params import check_params  # torch- and Prefect-free

    kwargs = config_values(a.config, assignments=parse_assignments(a.set))  # --set corpus_options.x=1 keeps the other corpus_options
    flags = dict(home=a.home, modality=a.modality, source=a.source, train_steps=a.steps, num_digits=a.num_digits, samples_per_class=a.samples_per_class,
                 sample_steps=a.sample_steps, model_overrides=a.model_overrides,
                 backend=backend_of(p, a) if a.local or a.backend else None)
    kwargs.update({k: v for k, v in flags.items() if v is not None})
    read_as = {k: (None if v is UNSET else v) for k in reading if (v := getattr(a, k)) is not None}
    if read_as:  # flags win over the config's and --set's source_options, key by key
        kwargs["source_options"] = {**(kwargs.get("source_options") or {}), **read_as}
    check_params(kwargs)  # a wrong key ends here in one line, before Prefect (and torch) is imported
    if a.ray_address:  # a config's `backend: local` (configs/video-smoke.yaml) ran without it, probed and ignored
        if kwargs.get("backend") == "local":
            by_set = any(s.split("=", 1)[0].strip() == "backend" for s in a.set or ())
            origin = "" if (a.local or a.backend) else " (--set backend=local sets it)" if by_set else " (the --config sets it)"
            p.error(f"--ray-address {a.ray_address} and backend local exclude each other: backend local runs in this "
                    f"process without Ray{origin}")
        from contracts.ray_runtime import check_ray_address

        check_ray_address(a.ray_address)
    from evaluation.config import judge_cache_limit

    judge_cache_limit()  # a bad $LUMINA_JUDGE_CACHE_MB: now, not at the evaluate stage after training
    from flows.data_to_model import data_to_model
    from flows.local_prefect import local_prefect_server
    from flows.steps import create_catalog_writer_limit

    t = time.time()
    # on 127.0.0.1, and it dies with this process even after kill -9; a server started here gets the
    # catalog-writer limit a deployment's server is given by hand (docs/deployments.md)
    with local_prefect_server(on_start=create_catalog_writer_limit):
        state = data_to_model(**kwargs, return_state=True)
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=5)  # send the last logs while the server is still up
        summary = _result_or_stop(state)
    summary["total_s"] = round(time.time() - t, 1)
    if a.json:
        print(json.dumps(summary, indent=1, default=str))
    else:
        _print_summary(summary)
    return 0


def _result_or_stop(state) -> dict:
    """The flow's return value; a run that training ended on a signal ends Cancelled, and that
    comes back up as TrainingStopped (main() prints it and exits as the signal would)."""
    if state.is_cancelled():
        from training.stopping import TrainingStopped

        stopped = TrainingStopped.from_message(state.message or "")
        if stopped is not None:
            raise stopped
    return state.result()  # raises the flow's error, or CancelledRun for any other cancellation


def _print_summary(s: dict) -> None:
    m = s["metrics"]
    print(f"\n=== Lumina demo ({s.get('modality', 'image')}): data_to_model ===")
    print(f"curation          {s['curation']}")
    print(f"stage seconds     {s['timings_s']} (total {s.get('total_s')} s)")
    steps = f"{s['train_steps']} steps"
    if s.get("train_stopped_by") == "max_seconds":  # the demo's safety cap, not the step budget, ended training
        steps = f"{s['train_steps']} of {s['train_steps_asked']} steps (the {s['train_max_seconds']:g} s cap of train_max_seconds)"
    print(f"train             {steps}, final train loss {s['final_train_loss']:.4f}")
    width = max([21, *(len(k) + 2 for k in m)])  # a long metric name keeps a gap before its value
    for k, v in m.items():
        print(f"{k:{width}s}{v:.4f}" if isinstance(v, float) else f"{k:{width}s}{v}")
    print(f"checkpoint        {s['checkpoint']}")
    if s.get("manifests"):  # on a source they are named after it: the names to query and to evaluate again
        print(f"manifests         {s['manifests']['train']} (train), {s['manifests']['holdout']} (holdout)")
    renders = s.get("renders") or {}
    width = max([18, *(len(k) + 2 for k in renders)])  # speech names renders by prompt: long keys
    for k, v in renders.items():
        print(f"{k:{width}s}{v}")
    print(f"catalog           {s['catalog']}")
    print(f"try               lumina catalog sql \"SELECT status, count(*) FROM samples GROUP BY status\" --catalog {s['catalog']}")


def _delegate(module: str):
    """Another package's own `main(argv)`, imported only when its command runs."""
    return lambda argv: importlib.import_module(module).main(argv)


# `lumina catalog`'s own commands (catalog/cli.py; tests/cli/test_unknown_command.py keeps the two alike): named
# alone (`lumina manifest list`), they are pointed to `lumina catalog ...`
CATALOG_COMMANDS = ("sql", "stats", "why", "manifest", "export", "tables", "check", "migrate")

COMMANDS = {
    "curate": ("curate a source into shards: lumina curate SOURCE --modality image", _curate),
    "encode": ("encode curated shards (latent + text encoders)", _encode),
    "train": ("train a Flag-DiT on a manifest; registers checkpoints and metrics", _train),
    "evaluate": ("evaluate a checkpoint on a held-out manifest", _evaluate),
    "sample": ("generate from a checkpoint: lumina sample --checkpoint DIR --prompt TEXT --out FILE", _sample),
    "demo": ("run the end-to-end demo flow on an embedded corpus", _demo),
    "refresh": ("curate and encode only what is new or changed in a source: lumina refresh SOURCE --modality image", _delegate("flows.refresh_cli")),
    "catalog": (f"query and manage the catalog ({', '.join(CATALOG_COMMANDS)})", _delegate("catalog.cli")),
    "convert": ("convert released Lumina-T2X checkpoints (modelzoo)", _delegate("modelzoo.convert")),
}


def user_errors() -> tuple[type[BaseException], ...]:
    """What a user got wrong (a path, a name, a value), or must fix outside lumina (a Ray cluster that
    died mid-stage), and a training run's documented divergence stop (its own FloatingPointError
    subclass; any other is a bug's traceback): one line and exit 2, not a traceback.
    Our classes are taken from their modules only where already imported (an error of a class whose
    module was never imported cannot have been raised): importing them here cost a refused flag
    the catalog package (duckdb, pyarrow) and Ray's helpers, ~0.4 s."""
    ours = []
    for module, names in _USER_ERRORS:
        if (loaded := sys.modules.get(module)) is not None:
            ours += [getattr(loaded, name) for name in names]
    return (*ours, FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError, PermissionError, ValueError,
            KeyError)


# user_errors' own classes, by the module that defines them
_USER_ERRORS = (("contracts.config", ("ConfigError",)), ("preprocess.sources", ("SourceError",)),
                ("catalog.errors", ("CatalogError",)), ("contracts.ray_runtime", ("NoRayCluster", "RayClusterLost")),
                ("training.divergence", ("TrainingDiverged",)))




def user_error_line(e: BaseException) -> str:
    """The one line a user error prints; ``LUMINA_TRACEBACK=1`` also prints the traceback before it.
    A bare KeyError's text is only the key, and more often a bug than a user's mistake, so it names
    its type and how to see where it came from."""
    import os
    import traceback

    if os.environ.get(TRACEBACK_ENV, "") not in ("", "0"):
        traceback.print_exception(e, file=sys.stderr)
    text = str(e).splitlines()[0] if str(e) else ""
    if type(e) is KeyError:
        return f"KeyError {text} (set {TRACEBACK_ENV}=1 for the traceback)"
    return text or type(e).__name__


# the commands that run Ray, and take --ray-address (each lists it in its --help: add_ray_address_arg)
RAY_COMMANDS = ("curate", "encode", "train", "demo", "refresh")
RESOLVE_RAY_ADDRESS = ("train", "demo")  # these check and probe --ray-address themselves, once their settings are read


def _take_ray_address(argv: list[str]) -> tuple[list[str], str | None]:
    """``--ray-address ADDR`` on a Ray command: join that Ray cluster (sets RAY_ADDRESS, which
    contracts/ray_runtime.ensure_ray honours) instead of starting a private one. Returns the other
    arguments and the address."""
    import os

    out, address, i = [], None, 0
    while i < len(argv):
        if argv[i] == "--ray-address" and i + 1 < len(argv):
            address = argv[i + 1]
            i += 2
            continue
        if argv[i].startswith("--ray-address="):
            address = argv[i].split("=", 1)[1]
        else:
            out.append(argv[i])
        i += 1
    if address:
        os.environ["RAY_ADDRESS"] = address
    return out, address


def _asks_local(argv: list[str]) -> bool:
    """--local, --backend local or --backend=local among a command's arguments."""
    return bool({"--local", "--backend=local"} & set(argv)) or any(
        a == "--backend" and b == "local" for a, b in zip(argv, argv[1:]))


def _did_you_mean(argv: list[str]) -> str:
    """': did you mean lumina catalog manifest list?' for a catalog command named alone; the closest
    command for a typo (': did you mean train?'); else nothing."""
    import difflib
    import shlex

    if argv[0] in CATALOG_COMMANDS:
        return f": did you mean lumina catalog {shlex.join(argv)}?"
    close = difflib.get_close_matches(argv[0], [*COMMANDS, *CATALOG_COMMANDS], n=1, cutoff=0.6)
    if not close:
        return ""
    return f": did you mean lumina {'catalog ' if close[0] in CATALOG_COMMANDS else ''}{close[0]}?"


def version_line() -> str:
    """`lumina-pipeline 0.1.0 (code_version 590a86f...+dirty)`: the release, and what the catalog records
    as runs' code_version (the git commit of a checkout, LUMINA_CODE_VERSION): a bug report's first line."""
    from importlib.metadata import PackageNotFoundError, version

    from catalog.db import code_version

    try:
        release = version("lumina-pipeline")
    except PackageNotFoundError:  # a tree on PYTHONPATH, not installed
        release = "(not installed)"
    commit = code_version()
    return f"lumina-pipeline {release}" + (f" (code_version {commit})" if commit and "==" not in commit else "")


def main(argv: list[str] | None = None) -> int:
    apply_offline_env()
    as_command = argv is None  # the `lumina` console script, not a caller in a process of its own
    argv = sys.argv[1:] if argv is None else argv
    address = None
    if argv and argv[0] in RAY_COMMANDS:
        rest, address = _take_ray_address(argv[1:])
        # train and demo keep the flag: only their resolved --launcher / config's backend say whether Ray is used
        argv = argv if argv[0] in RESOLVE_RAY_ADDRESS else argv[:1] + rest
    if argv and argv[0] in ("--version", "-V"):
        print(version_line())
        return 0
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: lumina COMMAND [ARGS]\n       lumina --version\n\ncommands:")
        for name, (doc, _) in COMMANDS.items():
            print(f"  {name:10s} {doc}")
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nlumina: unknown command {argv[0]!r}{_did_you_mean(argv)}", file=sys.stderr)
            return EXIT_USAGE
        return 0
    from training.stopping import TrainingStopped

    if as_command:
        from flows.cli_warnings import show_own_warnings_as_lines

        show_own_warnings_as_lines(argv[0])
    try:
        if address and _asks_local(argv):
            # it waited for the address, or ignored it, for a run that never uses Ray
            raise ValueError(f"--ray-address {address} and --local exclude each other: --local runs in this process without Ray")
        # nothing listening: one line now, not Ray's minute of retries (train probes once its --launcher is known)
        if address and argv[0] not in RESOLVE_RAY_ADDRESS and not {"-h", "--help"} & set(argv):
            from contracts.ray_runtime import check_ray_address

            check_ray_address(address)
        return COMMANDS[argv[0]][1](argv[1:]) or 0
    except TrainingStopped as e:  # SIGTERM/SIGINT during training: checkpointed, not an error
        print(f"lumina {argv[0]}: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:  # `lumina train ... | head -1` closed the pipe: not an error (before OSError, its base)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nor is the flush at exit
        return 0
    except user_errors() as e:
        print(f"lumina {argv[0]}: error: {user_error_line(e)}", file=sys.stderr)
        if as_command:
            end_now_if_cluster_lost(e)
        return EXIT_USAGE
    except KeyboardInterrupt as e:  # Ctrl-C before training's handler is in place (imports, curation): not a crash
        user_error_line(e)  # the traceback with LUMINA_TRACEBACK=1
        print(f"lumina {argv[0]}: interrupted", file=sys.stderr)
        if as_command:  # a second Ctrl-C during the exit's Ray shutdown: gone at once, not a traceback or a segfault
            signal.signal(signal.SIGINT, _exit_interrupted)
        return 128 + signal.SIGINT


def end_now_if_cluster_lost(e: BaseException) -> None:
    """After a command's line for a Ray cluster lost mid-stage: end the process there, exit 2. Ray's
    atexit shutdown would spend 15-20 s flushing to the dead cluster, and at times end the process
    with exit 1 after our line; the catalog run is already marked failed."""
    ray_runtime = sys.modules.get("contracts.ray_runtime")  # not imported: no Ray stage ran (user_errors)
    if ray_runtime is not None and isinstance(e, ray_runtime.RayClusterLost):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_USAGE)


def _exit_interrupted(signum, frame) -> None:
    """Ctrl-C again after "interrupted": skip the rest of the exit (Ray's atexit shutdown, which a
    KeyboardInterrupt broke into with a traceback and at times a segfault). What it would have
    stopped dies with this process, as after a SIGKILL: the private Ray and Prefect server."""
    sys.stderr.flush()
    os._exit(128 + signal.SIGINT)


if __name__ == "__main__":
    raise SystemExit(main())
