"""A package's INFO messages on stderr, for the command lines."""

from __future__ import annotations

import logging


def show_messages(logger_name: str) -> None:
    """Show ``logger_name``'s INFO messages on stderr, one plain line each; under a caller that
    configured logging (Prefect, pytest) its handlers decide. Without this a command line printed
    none of them: Python shows only WARNING and above by default."""
    logger = logging.getLogger(logger_name)
    if logging.getLogger().handlers or logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
