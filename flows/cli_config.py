"""Command-line flags from a stage's typed config: every simple field becomes ``--field-name``.

One mechanism end to end: the dataclass defaults, then ``--config FILE.yaml``, then ``--set
key=value`` (any field, nested ones too), then explicit flags. Flags default to None so an unset
flag never overrides the YAML.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

from contracts.config import load_config, parse_assignments

_SIMPLE = (int, float, str, bool)


def _simple_type(tp: Any) -> type | None:
    args = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
    return args[0] if len(args) == 1 and args[0] in _SIMPLE else None


def add_config_args(p: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = (), prefix: str = "") -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = _simple_type(hints[f.name])
        if f.name in skip or tp is None:
            continue
        flag = "--" + (prefix + f.name).replace("_", "-")
        if tp is bool:
            p.add_argument(flag, dest=prefix + f.name, action=argparse.BooleanOptionalAction, default=None)
        else:
            default = f.default if f.default is not dataclasses.MISSING else None
            p.add_argument(flag, dest=prefix + f.name, type=tp, default=None, help=f"(default: {default})")


def add_common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--home", help="workspace folder (default: $LUMINA_HOME or ./lumina_home)")
    p.add_argument("--config", help="YAML file of this stage's options; flags override it")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override any option, e.g. --set options.max_tokens=256")


def config_from_args(cls: type, a: argparse.Namespace, extra: dict[str, Any] | None = None, prefix: str = "") -> Any:
    flags = {f.name: getattr(a, prefix + f.name) for f in dataclasses.fields(cls) if hasattr(a, prefix + f.name)}
    values = {**parse_assignments(getattr(a, "set", None)), **(extra or {}), **{k: v for k, v in flags.items() if v is not None}}
    return load_config(cls, getattr(a, "config", None), values)
