"""`none` unsets an optional option in --set and config files, as it does on a flag."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from contracts.config import ConfigError, from_mapping, parse_assignments


@dataclass
class Options:
    max_seconds: float | None = 600.0
    steps: int = 10
    manifest: str = ""
    label: str | None = "x"


def test_none_unsets_an_optional_number_given_by_set():
    got = from_mapping(Options, parse_assignments(["max_seconds=none"]), where="train")
    assert got.max_seconds is None
    assert from_mapping(Options, {"max_seconds": "None"}, where="train").max_seconds is None


def test_none_does_not_unset_a_required_option():
    with pytest.raises(ConfigError, match="expected int, got 'none'"):
        from_mapping(Options, {"steps": "none"}, where="train")
    assert from_mapping(Options, {"manifest": "none"}, where="train").manifest == "none"  # a required text stays text


def test_none_unsets_an_optional_text_option_as_the_help_says():
    """`--set init_from=none` (a stage's YAML holding init_from, resumed): --help says KEY=none (or null)
    unsets an optional option, and the flag --init-from none does; it used to become the folder "none"."""
    assert from_mapping(Options, parse_assignments(["label=none"]), where="train").label is None
    assert from_mapping(Options, parse_assignments(["label=None"]), where="train").label is None
    assert from_mapping(Options, parse_assignments(["label=null"]), where="train").label is None
    assert from_mapping(Options, parse_assignments(["label=nonesuch"]), where="train").label == "nonesuch"


def test_an_option_with_an_empty_default_is_shown_as_required():
    from flows.cli_config import add_config_args

    p = argparse.ArgumentParser()
    add_config_args(p, Options)
    helps = {a.dest: a.help for a in p._actions}
    assert "(required)" in helps["manifest"] and "default: )" not in helps["manifest"]
    assert "default: 10" in helps["steps"]
