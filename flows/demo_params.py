"""data_to_model's parameters and their check, without Prefect or torch: `lumina demo --set bogus=1`
is refused in one line before flows/data_to_model.py (Prefect, and through the evaluation torch) is
imported; it took 3.6 s of CPU importing them first. The flow checks its own parameters with the
same check_params (a deployment run binds them without `lumina demo`)."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from dataclasses import dataclass
from typing import Any

from contracts.config import ConfigError
from contracts.records import Modality


@dataclass
class DataToModelParameters:
    """data_to_model's parameters, as its signature spells them (tests/cli/test_cli_imports.py checks
    the two agree: names, order, types and defaults)."""

    modality: str = Modality.IMAGE.value  # the default modality, of the flags and flows
    source: str | None = None
    home: str | None = None
    num_digits: int | None = None
    num_shapes: int | None = None
    corpus_options: dict[str, Any] | None = None
    curate_options: dict[str, Any] | None = None
    source_options: dict[str, Any] | None = None
    encode_options: dict[str, Any] | None = None
    train_steps: int | None = None
    train_max_seconds: float | None = None
    model: str = "flag-dit-tiny"
    model_overrides: dict[str, Any] | None = None
    batch_size: int | None = None
    lr: float | None = None
    samples_per_class: int | None = None
    sample_steps: int | None = None
    eval_options: dict[str, Any] | None = None
    manifest_prefix: str | None = None
    backend: str = "ray"


def demo_module(modality: str):
    return importlib.import_module(f"preprocess.{modality}.demo")


def check_params(params: dict[str, Any]) -> None:
    """``params`` checked as data_to_model will use them, before a flow (or Prefect) starts: unknown
    keys, at the top and in each ``*_options`` (the modality's corpus writer's arguments, its
    curation options, EncodeConfig, EvalConfig), and wrong types end in one ConfigError (one line)
    that names the key and the allowed ones, instead of a traceback from inside a task. An option
    of another modality's says which modality it is for."""
    from contracts.config import from_mapping
    from evaluation.config import EvalConfig  # torch-free (evaluation.evaluate re-exports it)
    from preprocess.encode import EncodeConfig
    from preprocess.modality import get_plugin

    from_mapping(DataToModelParameters, params, where="data_to_model")
    modality = Modality.parse(params.get("modality") or DataToModelParameters.modality).value
    top = {k: params[k] for k in ("num_digits", "num_shapes") if params.get(k) is not None}  # the flow adds them to corpus_options
    corpus = {**(params.get("corpus_options") or {}), **top}
    _check_keys(corpus, modality, "corpus", corpus_options_of, lambda k: k if k in top else f"corpus_options.{k}")
    if params.get("curate_options") is not None:
        curation = params["curate_options"]
        _check_keys(curation, modality, "curation", lambda m: _init_fields(get_plugin(m).options_cls), lambda k: f"curate_options.{k}")
        from_mapping(get_plugin(modality).options_cls, curation, where="curate_options")
    check_source_options(params.get("source_options"), params.get("source"), modality)
    evaluation = params.get("eval_options") or {}
    set_by_the_flow = {"manifest", "checkpoint"}  # the holdout manifest and the trained checkpoint
    unknown = sorted(set(evaluation) - (_init_fields(EvalConfig) - set_by_the_flow))
    if unknown:
        known = sorted(_init_fields(EvalConfig) - set_by_the_flow)
        raise ConfigError(f"eval_options: unknown option(s) {', '.join(unknown)} (known: {', '.join(known)})")
    # as the flow merges them (the demo's own settings are known good)
    from_mapping(EvalConfig, evaluation_params({}, params.get("samples_per_class"), params.get("sample_steps"), evaluation),
                 where="eval_options")
    # the encoders' names and paths are checked without torch (encoders/names.py, path_checks.py): a
    # missing --vae or --text-path is refused here, not after the corpus and curation
    from_mapping(EncodeConfig, params.get("encode_options") or {}, where="encode_options").check_paths(modality)
    # the training as the flow will ask for it: a negative lr or time cap failed only after the corpus,
    # curation and encoding (training/config.py is torch-free; the model check reads modelzoo's configs)
    from training.config import TrainConfig

    demo = getattr(demo_module(modality), "DEMO", {}) if params.get("source") is None else {}
    from_mapping(TrainConfig, train_params(demo, params.get("train_steps"), params.get("train_max_seconds"),
                                           params.get("model") or DataToModelParameters.model, params.get("model_overrides"),
                                           params.get("batch_size"), params.get("lr")), where="train")


def source_option_names() -> tuple[str, ...]:
    """The CurateConfig fields that say how a source is read (a SourceSpec's: caption_key, path_column,
    caption_column, media_column, follow_symlinks): data_to_model's source_options, lumina demo's
    flags of lumina curate's names."""
    from preprocess.curate import CurateConfig
    from preprocess.sources import SourceSpec

    spec = {f.name for f in dataclasses.fields(SourceSpec)}
    return tuple(f.name for f in dataclasses.fields(CurateConfig) if f.name in spec)


def check_source_options(options: dict[str, Any] | None, source: str | None, modality: str) -> None:
    """source_options as the curate stage will build its CurateConfig of them: a listing whose caption
    column is `text` could not be read by lumina demo (its error said "set --caption-column", a flag
    only lumina curate had). They read a source of the user's: the demo corpus is read as it is written."""
    if not options:
        return
    from contracts.config import from_mapping
    from preprocess.curate import CurateConfig

    known = source_option_names()
    unknown = [k for k in options if k not in known]
    if unknown:
        raise ConfigError(f"source_options: unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    if source is None:
        raise ConfigError(f"source_options ({', '.join(sorted(options))}) say how a source of yours is read: give one "
                          "(--source DIR or --set source=DIR); the demo corpus is read as it is written")
    from_mapping(CurateConfig, {"modality": modality, **options}, where="source_options")


def corpus_options_of(modality: str) -> set[str] | None:
    """The keyword arguments the modality's demo corpus writer takes (``write_corpus(root,
    **options)`` passes them on to one writer function); None where that writer is not found."""
    write = demo_module(modality).write_corpus
    params = inspect.signature(write).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        called = [f for f in inspect.getclosurevars(write).globals.values() if inspect.isfunction(f)]
        if len(called) != 1:
            return None
        params = inspect.signature(called[0]).parameters
    return {n for n, p in list(params.items())[1:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _check_keys(given: dict, modality: str, kind: str, known_of, name_of) -> None:
    known = known_of(modality)
    unknown = [k for k in given if k not in known] if known is not None else []  # in the order given
    if not unknown:
        return
    for key in unknown:
        others = [m.value for m in Modality if m.value != modality and key in (known_of(m.value) or ())]
        if others:
            raise ConfigError(f"{name_of(key)} is {_a(' or '.join(others))} {kind} option, not {_a(modality)} one: "
                              f"set modality: {others[0]}")
    where = name_of(unknown[0]).rpartition(".")[0] or "data_to_model"
    raise ConfigError(f"{where}: unknown {modality} {kind} option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _init_fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if f.init and not f.metadata.get("internal")}


def train_params(demo: dict, train_steps: int | None, train_max_seconds: float | None, model: str,
                 model_overrides: dict | None, batch_size: int | None, lr: float | None) -> dict:
    """TrainConfig fields of data_to_model's training: the flow's defaults, then the demo's settings
    (``demo``: the modality's DEMO, {} on the user's own source), then what the caller gave."""
    demo_train = demo.get("train_options", {})
    cap = train_max_seconds if train_max_seconds is not None else demo_train.get("max_seconds", 420.0)
    def given(value, name: str, default):  # a 0 given is checked (and refused) by TrainConfig, not replaced
        return value if value is not None else demo.get(name, default)

    return {"steps": given(train_steps, "train_steps", 800), "max_seconds": cap, "model": model,
            "model_overrides": given(model_overrides, "model_overrides", {}),
            "batch_size": given(batch_size, "batch_size", 64), "lr": given(lr, "lr", 1e-3),
            **{k: v for k, v in demo_train.items() if k != "max_seconds"}}


def evaluation_params(demo_options: dict, samples_per_class: int | None, sample_steps: int | None,
                      eval_options: dict | None) -> dict:
    """EvalConfig fields, later ones winning: the flow's defaults, the demo's settings, then what the
    caller gave (the two flags, then eval_options)."""
    given = {k: v for k, v in {"samples_per_class": samples_per_class, "steps": sample_steps}.items() if v is not None}
    return {"samples_per_class": 10, "steps": 30, **demo_options, **given, **(eval_options or {})}
