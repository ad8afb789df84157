"""One configuration mechanism: typed dataclasses, loaded from YAML or dicts, overridden by flags.

Unknown keys and wrong types end in a ``ConfigError`` that names the key, so a typo never silently
falls back to a default.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import operator
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    pass


class OutOfRange(ValueError):
    """A number outside its option's range (check_ranges, or a pair such as min > max)."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line on stderr and exit status 2, as every other user
    error of our commands (argparse prints the whole usage block first)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (--help for usage)\n")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if value is None and tp is not Any and not (origin in (typing.Union, types.UnionType)
                                                 and type(None) in typing.get_args(tp)):
        raise ConfigError(f"{where}: cannot be null (only optional options can be unset)")
    if tp is Any or value is None:
        return value
    if origin in (typing.Union, types.UnionType):
        if isinstance(value, str) and value.strip().lower() == "none" and type(None) in typing.get_args(tp):
            return None  # --set max_seconds=none (or init_from=none) unsets it, as the flag --max-seconds none does
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:  # an optional option: its own type's message (NaN for a float | None)
            return _coerce(value, args[0], where)
        for a in args:
            try:
                return _coerce(value, a, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} is not a valid {tp}")
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return from_mapping(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return origin(value)
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp in (int, float, str):
        try:
            if tp is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            out = tp(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}") from None
        if tp is float and math.isnan(out):
            # NaN compares false with everything: a threshold of NaN passed or failed every input without a word
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return out
    if isinstance(tp, type) and issubclass(tp, Path):
        return Path(value)
    return value


def from_mapping(cls: type[T], values: dict[str, Any], where: str | None = None) -> T:
    """Build dataclass ``cls`` from a mapping, checking keys and types. A ``where`` given ("image
    options") also leads the class's range refusals (OutOfRange) as a ConfigError; without one, and
    for the class's other checks, the error comes as raised (a ValueError the commands print)."""
    named, where = where is not None, where or cls.__name__
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - names)
    if unknown:
        import difflib

        shown = sorted(f.name for f in dataclasses.fields(cls) if f.init and not f.metadata.get("internal"))
        near = [f"{u}: did you mean {m[0]}?" for u in unknown if (m := difflib.get_close_matches(u, shown, n=1))]
        hint = f"; {'; '.join(near)}" if near else ""
        raise ConfigError(f"{where}: unknown option(s) {', '.join(unknown)}{hint} (known: {', '.join(shown)})")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in values.items()}
    try:
        return cls(**kwargs)
    except TypeError as e:  # a missing option
        raise ConfigError(f"{where}: {e}") from None
    except OutOfRange as e:
        if named:
            raise ConfigError(f"{where}: {e}") from None
        raise


_COMPARE = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
_BOUND = re.compile(r"(>=|>|<=|<) *(-?[0-9.]+)|(-?[0-9.]+)\.\.(-?[0-9.]+)|(finite)")


def check_ranges(options: Any, **rules: str) -> None:
    """Each named option obeys its rule, else an OutOfRange naming the first that does not: ``">= 0"``,
    ``"> 0"``, ``"<= 0"``, ``"< 1"``, ``"0..1"`` (both ends included), with ``" and finite"`` to refuse
    infinities too. Called from an options class's ``__post_init__``: a number out of range rejected
    every input, or failed deep in a run, instead of one line before any work."""
    for name, rule in rules.items():
        value = getattr(options, name)
        if not all(_obeys(value, part.strip()) for part in rule.split(" and ")):
            said = re.sub(r"(-?[0-9.]+)[.][.](-?[0-9.]+)", r"between \1 and \2", rule)
            raise OutOfRange(f"{name} must be {said}, got {value!r}")


def _obeys(value: float, part: str) -> bool:
    m = _BOUND.fullmatch(part)
    if m is None:
        raise ValueError(f"check_ranges: unknown rule {part!r}")
    op, bound, low, high, finite = m.groups()
    if finite:
        return math.isfinite(value)
    if low is not None:
        return float(low) <= value <= float(high)
    return _COMPARE[op](value, float(bound))


def load_config(cls: type[T], path: str | Path | None = None, overrides: dict[str, Any] | None = None,
                assignments: dict[str, Any] | None = None) -> T:
    """YAML file (optional) first, then ``assignments`` (``--set``: a null there unsets a field, as
    in YAML), then the overrides that are not None (command-line flags: None is "not given")."""
    return from_mapping(cls, config_values(path, overrides, assignments))


def config_values(path: str | Path | None = None, overrides: dict[str, Any] | None = None,
                  assignments: dict[str, Any] | None = None) -> dict[str, Any]:
    """The options ``load_config`` builds its config from, merged in its order: every key given."""
    import yaml

    values: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        loaded = yaml.safe_load(p.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p}: expected a mapping of options")
        values.update(loaded)
    values = _merged(values, assignments or {})  # --set options.x=1 keeps the file's other options
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return values


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on ``base``, mappings merged key by key at every depth."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def parse_assignments(pairs: list[str] | None) -> dict[str, Any]:
    """``["a=1", "b.c=x"]`` from ``--set`` flags -> nested dict, values parsed as YAML scalars."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"--set expects KEY=VALUE, got {pair!r}")
        key, _, raw = pair.partition("=")
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(raw)
    return out
