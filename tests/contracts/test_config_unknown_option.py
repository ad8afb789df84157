"""An unknown option in a config file names the option meant, as --model-overrides does."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from contracts.config import ConfigError, from_mapping


@dataclass
class Options:
    checkpoint_every: int = 0
    keep_last: int = 3


def test_a_misspelt_option_names_the_one_meant():
    with pytest.raises(ConfigError) as e:
        from_mapping(Options, {"checkpoint_evry": 5}, where="train")
    assert str(e.value) == ("train: unknown option(s) checkpoint_evry; checkpoint_evry: did you mean checkpoint_every? "
                            "(known: checkpoint_every, keep_last)")


def test_an_option_like_none_gets_no_guess():
    with pytest.raises(ConfigError) as e:
        from_mapping(Options, {"bogus": 1}, where="train")
    assert str(e.value) == "train: unknown option(s) bogus (known: checkpoint_every, keep_last)"
