"""LUMINA_CATALOG_TIMEOUT_S that is no number of seconds is one line naming the variable: a word ended
in "could not convert string to float: 'abc'", and nan waited for a busy catalog forever (helper D)."""

from __future__ import annotations

import pytest

from catalog import Catalog
from catalog.errors import CatalogError


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "-1"])
def test_a_timeout_that_is_no_number_of_seconds_is_refused_naming_the_variable(tmp_path, monkeypatch, value):
    monkeypatch.setenv("LUMINA_CATALOG_TIMEOUT_S", value)
    with pytest.raises(CatalogError, match=rf"LUMINA_CATALOG_TIMEOUT_S='{value}': must be a finite number of seconds"):
        Catalog.open(tmp_path / "catalog.duckdb")


@pytest.mark.parametrize("value, seconds", [("0", 0.0), ("2.5", 2.5), ("", 30.0)])
def test_a_timeout_in_seconds_is_taken(tmp_path, monkeypatch, value, seconds):
    monkeypatch.setenv("LUMINA_CATALOG_TIMEOUT_S", value)
    with Catalog.open(tmp_path / "catalog.duckdb") as cat:
        assert cat.busy_timeout_s == seconds
