"""Errors the catalog raises on purpose; each has a one-line message meant for a person, not a trace."""

from __future__ import annotations


class CatalogError(Exception):
    """Base class for catalog errors that the CLI prints as one line (exit code 2)."""


class CatalogBusyError(CatalogError):
    """Another process holds the DuckDB file lock and did not let go within ``busy_timeout_s``."""


class CatalogNotFoundError(CatalogError, FileNotFoundError):
    """A read-only open of a catalog file that does not exist."""


class SchemaVersionError(CatalogError):
    """The file's schema is newer than this code, or older and opened read-only."""
