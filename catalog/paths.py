"""Default paths live on the ground floor (contracts/layout.py); re-exported for catalog users."""

from contracts.layout import default_catalog_path, default_home  # noqa: F401
