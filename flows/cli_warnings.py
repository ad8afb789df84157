"""The pipeline's own warnings on a command line: one line, as the commands' errors are. Python's
default showed `/…/modelzoo/config.py:105: UserWarning: patch_dim 96 …` and then that source line,
which reads as a crash report though the advice in it is for the user. Warnings from other
libraries keep Python's format: where they come from is what their reader needs."""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def is_pipeline_file(filename: str) -> bool:
    """A file of one of the pipeline's own packages (not a library installed in a .venv inside the checkout)."""
    try:
        top = Path(filename).resolve().relative_to(REPO).parts[0]
    except (ValueError, IndexError, OSError):
        return False
    return not top.startswith((".", "tests")) and (REPO / top / "__init__.py").is_file()


def show_own_warnings_as_lines(command: str) -> None:
    """From now on in this process: a warning raised in the pipeline's code prints as
    ``lumina COMMAND: warning: MESSAGE`` on stderr."""
    python_format = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if category is UserWarning and is_pipeline_file(filename):
            print(f"lumina {command}: warning: {message}", file=file or sys.stderr)
        else:
            python_format(message, category, filename, lineno, file, line)

    warnings.showwarning = show
