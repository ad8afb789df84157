"""Command-line flags from a stage's typed config: every simple field becomes ``--field-name``.

One mechanism end to end: the dataclass defaults, then ``--config FILE.yaml``, then ``--set
key=value`` (any field, nested ones too), then explicit flags. Flags default to None so an unset
flag never overrides the YAML.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import inspect
import io
import math
import tokenize
import typing
from typing import Any

from contracts.config import config_values, from_mapping, parse_assignments
from contracts.records import MODALITIES

_SIMPLE = (int, float, str, bool)


def _simple_type(tp: Any) -> type | None:
    args = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
    return args[0] if len(args) == 1 and args[0] in _SIMPLE else None


def number(raw: str) -> float:
    """A float flag's value: NaN is refused naming the flag (``argument --cfg/--cfg-scale: expected a
    number, got 'nan'``), where the config's own check named its field (``SampleConfig.cfg: ...``)."""
    value = float(raw)
    if math.isnan(value):
        raise argparse.ArgumentTypeError(f"expected a number, got {raw!r}")
    return value


number.__name__ = "float"  # argparse names the type in its other messages ("invalid float value")


def _flag_type(tp: type) -> Any:
    return number if tp is float else tp


@functools.cache
def field_comments(cls: type) -> dict[str, str]:
    """Each field's comment in the class source: the one ending its line, else the comment lines
    right above it. They document the fields for readers of the code, so --help shows them too."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):  # no source (frozen, or defined in a REPL): flags without help
        return {}
    names = {f.name for f in dataclasses.fields(cls)}
    comments: dict[str, str] = {}
    above: list[str] = []  # comment lines since the last statement
    line_field: str | None = None  # the field defined on the current line
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            text = tok.string.lstrip("#").strip()
            if line_field is not None:
                comments[line_field] = text
            else:
                above.append(text)
        elif tok.type == tokenize.NAME and line_field is None and tok.start[1] == 4 and tok.string in names:
            line_field = tok.string
            if above:
                comments[line_field] = " ".join(above)
        elif tok.type == tokenize.NEWLINE:  # end of a statement (a field may span lines)
            line_field, above = None, []
        elif tok.type == tokenize.NL and line_field is None and not tok.line.strip():
            above = []  # a blank line ends a block comment
    return comments


def _help(cls: type, f: dataclasses.Field, default_note: str | None) -> str | None:
    if "help" in f.metadata:  # a field's metadata["help"] is its flag's whole help
        return f.metadata["help"]
    text = field_comments(cls).get(f.name, "")
    if default_note is None:
        return text or None
    if "default:" in text and default_note.startswith("default: None"):  # the comment says what None means
        default_note = default_note.removeprefix("default: None").lstrip("; ") or None
        return f"{text} ({default_note})" if default_note else text
    return f"{text} ({default_note})" if text else f"({default_note})"


def modality_list() -> str:
    """'image, video, multiview or speech': the Modality enum as a help text names it."""
    *first, last = MODALITIES
    return f"{', '.join(first)} or {last}" if first else last


def add_config_args(p: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = (), prefix: str = "") -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = _simple_type(hints[f.name])
        if f.name in skip or tp is None or f.metadata.get("internal"):  # set by the code, not a flag
            continue
        flag = "--" + (prefix + f.name).replace("_", "-")
        if tp is bool:
            p.add_argument(flag, dest=prefix + f.name, action=argparse.BooleanOptionalAction, default=None,
                           help=_help(cls, f, f"default: {'on' if f.default else 'off'}"))
        else:
            default = f.default if f.default is not dataclasses.MISSING else None
            optional = type(None) in typing.get_args(hints[f.name])
            note = "required" if default == "" else f"default: {default}"  # an empty string is "not given"
            text = _help(cls, f, f"{note}{'; none unsets it' if optional else ''}")
            if f.name == "modality":  # the choices from the enum, so a new modality needs no help text edited
                text = f"{modality_list()}: {text}" if text else modality_list()
            p.add_argument(flag, dest=prefix + f.name, type=_or_none(tp) if optional else _flag_type(tp), default=None, help=text,
                           action=_StoreUnlessAliased)


def add_modality_args(p: argparse.ArgumentParser, cls: type, declared: dict[str, tuple[type | None, dict[str, str]]]) -> None:
    """Each modality's own flags, in a group of its name: ``declared`` maps a modality to its options
    dataclass (flags as add_config_args makes them; modality_flags reads them) and its aliases of
    ``cls``'s flags ({"--views": "frames"})."""
    hints = typing.get_type_hints(cls)
    for modality, (options, aliases) in declared.items():
        g = p.add_argument_group(f"{modality} checkpoints")
        if options is not None:
            add_config_args(g, options)
        for flag, name in aliases.items():
            tp = _simple_type(hints[name])
            optional = type(None) in typing.get_args(hints[name])
            g.add_argument(flag, dest=name, type=_or_none(tp) if optional else _flag_type(tp), metavar=name.upper(),
                           action=_GivenAs, help=f"same as --{name.replace('_', '-')}")


def _refuse_two_spellings(parser, namespace, dest: str, values: Any, option_string: str) -> None:
    """``--prompt "digit 7" --text "digit 3"`` (one field by two names, two values) kept the last one
    silently: which one the sample used depended on the order typed."""
    before, named = getattr(namespace, dest, None), (getattr(namespace, "given_as", None) or {}).get(dest)
    if before is not None and before != values:
        other = named or "--" + dest.replace("_", "-")
        parser.error(f"{option_string} {values!r} and {other} {before!r} name one setting with two values: give one")


class _StoreUnlessAliased(argparse._StoreAction):
    """A config flag, refused after a modality's name for it (``--text`` then ``--prompt``) gave another value."""

    def __call__(self, parser, namespace, values, option_string=None):
        if self.dest in (getattr(namespace, "given_as", None) or {}):
            _refuse_two_spellings(parser, namespace, self.dest, values, option_string)
        setattr(namespace, self.dest, values)


class _GivenAs(argparse.Action):
    """A modality's name for a generic flag (--views for --frames): sets the field as the flag does
    and records which name gave it in ``given_as`` (field -> flag), so the checkpoint's sampler can
    refuse another modality's name (ModalitySampling.check_flags). The generic flag with another
    value, before or after it, is refused (it kept the last one)."""

    def __call__(self, parser, namespace, values, option_string=None):
        _refuse_two_spellings(parser, namespace, self.dest, values, option_string)
        setattr(namespace, self.dest, values)
        setattr(namespace, "given_as", {**(getattr(namespace, "given_as", None) or {}), self.dest: option_string})


def modality_flags(a: argparse.Namespace, options: list[type | None]) -> dict[str, Any]:
    """The modality flags given (add_modality_args), by option name; ``--flag none`` is None."""
    names = [f.name for cls in options if cls is not None for f in dataclasses.fields(cls)]
    return {k: (None if v is UNSET else v) for k in names if (v := getattr(a, k, None)) is not None}


class _Unset:
    """`--flag none` on an optional field: unset it (a flag's own None means "not given")."""

    def __repr__(self) -> str:
        return "none"


UNSET = _Unset()


def _or_none(tp: type):
    def parse(raw: str):
        return UNSET if raw.strip().lower() in ("none", "null") else _flag_type(tp)(raw)

    parse.__name__ = tp.__name__  # argparse names the type in its error message
    return parse


def add_common_args(p: argparse.ArgumentParser, example: str = "options.max_tokens=256") -> None:
    """--home, --config and --set; ``example`` is a --set of this stage's in its help."""
    p.add_argument("--home", help="workspace folder (default: $LUMINA_HOME or ./lumina_home)")
    p.add_argument("--config", help="YAML file of this stage's options; flags override it")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help=f"override any option, e.g. --set {example}; KEY=none (or null) unsets an optional one")


def add_ray_address_arg(p: argparse.ArgumentParser, what: str) -> None:
    """``--ray-address`` in the command's --help; flows/cli.main takes it (and checks the address)
    before the command parses its arguments. ``what``: the part of the command that runs on Ray."""
    p.add_argument("--ray-address", metavar="HOST:PORT",
                   help=f"run {what} on this running Ray cluster (same as RAY_ADDRESS) instead of a private Ray on "
                        "127.0.0.1; nothing listening there for 15 s ends the command")


def add_backend_args(p: argparse.ArgumentParser) -> None:
    """Where the stage's work runs: Ray (the default) or this process (``--local``, ``--backend
    local``: as a config's ``backend: local``; a small source needs no Ray's start-up)."""
    p.add_argument("--backend", choices=["ray", "local"], help="ray (the default) or local: in this process, without Ray "
                   "(quicker for a small source; the same rows)")
    p.add_argument("--local", action="store_true", help="same as --backend local")


def backend_of(p: argparse.ArgumentParser, a: argparse.Namespace) -> str:
    if a.local and a.backend == "ray":
        p.error("--local and --backend ray contradict each other")
    return "local" if a.local else (a.backend or "ray")


def config_from_args(cls: type, a: argparse.Namespace, extra: dict[str, Any] | None = None, prefix: str = "") -> Any:
    return from_mapping(cls, config_values_from_args(cls, a, extra, prefix))


def config_values_from_args(cls: type, a: argparse.Namespace, extra: dict[str, Any] | None = None, prefix: str = "") -> dict[str, Any]:
    """The values config_from_args makes ``cls`` of (--config, then --set, ``extra``, flags), not yet
    checked: a command can refuse a missing option before the config's checks import the model."""
    flags = {f.name: getattr(a, prefix + f.name) for f in dataclasses.fields(cls) if hasattr(a, prefix + f.name)}
    given = {k: (None if v is UNSET else v) for k, v in flags.items() if v is not None}
    assignments = {**parse_assignments(getattr(a, "set", None)), **(extra or {}), **given}
    values = config_values(getattr(a, "config", None), assignments=assignments)
    if "given" in {f.name for f in dataclasses.fields(cls)}:  # which options the user set (TrainConfig: --resume)
        values["given"] = tuple(sorted(values))
    return values


def curation_flags() -> dict[str, list[tuple[str, Any]]]:
    """The options the modalities' plugins offer as lumina curate flags (ModalityPlugin.curate_flags):
    option name -> the plugins that declare it, in Modality order."""
    from contracts.records import Modality
    from preprocess.modality import get_plugin

    flags: dict[str, list[tuple[str, Any]]] = {}
    for m in Modality:
        plugin = get_plugin(m)
        for name in plugin.curate_flags:
            flags.setdefault(name, []).append((m.value, plugin))
    return flags


def _curation_flag_help(name: str, owners: list[tuple[str, Any]]) -> str:
    """'image, video: <the first help declared, else the option's comment> (default: image 1024, video 256)'."""
    first = owners[0][1].options_cls
    text = next((plugin.curate_flags[name] for _, plugin in owners if plugin.curate_flags[name]), "")
    text = text or field_comments(first).get(name, "")
    defaults = {m: next(f.default for f in dataclasses.fields(plugin.options_cls) if f.name == name) for m, plugin in owners}
    shown = (f"{next(iter(defaults.values()))}" if len(set(map(repr, defaults.values()))) == 1
             else ", ".join(f"{m} {d}" for m, d in defaults.items()))
    return f"{', '.join(defaults)}: {text} (default: {shown})"


def add_curation_args(p: argparse.ArgumentParser) -> None:
    """The option shorthands of lumina curate and lumina refresh (the same curation): the options
    each modality's plugin offers as flags, and the CLIP score flags."""
    for name, owners in curation_flags().items():
        tp = _simple_type(typing.get_type_hints(owners[0][1].options_cls)[name])
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=tp, help=_curation_flag_help(name, owners))
    add_clip_args(p)


def curation_options(a: argparse.Namespace, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` (from --config and --set) with add_curation_args' flags merged in; flags win."""
    flags = {k: v for k in curation_flags() if (v := getattr(a, k, None)) is not None}
    return clip_options(a, {**options, **flags})


def clip_modalities() -> list[str]:
    """The modalities whose curation options take CLIP scores (a ``clip`` option)."""
    from contracts.records import Modality
    from preprocess.modality import get_plugin

    return [m.value for m in Modality if "clip" in {f.name for f in dataclasses.fields(get_plugin(m).options_cls)}]


def add_clip_args(p: argparse.ArgumentParser) -> None:
    """lumina curate's CLIP score flags: shorthands for ``options.clip.*`` (preprocess/filters/clip_config.py)."""
    g = p.add_argument_group(f"CLIP scores ({', '.join(clip_modalities())}; off unless --clip is given)")
    g.add_argument("--clip", metavar="PATH", help="a local CLIP with its image tower (open_clip folder, ARCH:FILE, or Hugging Face CLIPModel folder): turns on the clip_similarity filter")
    g.add_argument("--aesthetic", metavar="PATH", help="a LAION aesthetic head (.pth/.safetensors) for that CLIP: turns on the aesthetic filter")
    g.add_argument("--min-aesthetic", type=float, help="aesthetic threshold (default 5.0; the tiers: 4.5, 5.0, 6.5)")
    g.add_argument("--min-clip-similarity", type=float, help="caption-image cosine threshold (default 0.28, LAION-5B with ViT-B/32)")


def clip_options(a: argparse.Namespace, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` (from --config and --set) with the CLIP flags merged into ``options["clip"]``; flags win."""
    clip = options.get("clip") or {}
    clip = {"path": clip} if isinstance(clip, str) else dict(clip)
    clip.update({k: v for k, v in {"path": a.clip, "aesthetic": a.aesthetic}.items() if v is not None})
    thresholds = {k: v for k, v in {"min_aesthetic": a.min_aesthetic, "min_clip_similarity": a.min_clip_similarity}.items() if v is not None}
    if thresholds:
        clip["thresholds"] = {**(clip.get("thresholds") or {}), **thresholds}
    if clip:  # a wrong path ends here in one line, before a run is opened in the catalog
        from contracts.config import from_mapping
        from preprocess.filters.clip_config import ClipScoring

        scoring = from_mapping(ClipScoring, clip, where="options.clip")
        if scoring.enabled:
            scoring.check_paths()
    return {**options, "clip": clip} if clip else options
