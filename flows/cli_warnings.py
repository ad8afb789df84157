"""The pipeline's own warnings on a command line: one line, as the commands' errors are. Python's
default showed `/…/modelzoo/config.py:105: UserWarning: patch_dim 96 …` and then that source line,
which reads as a crash report though the advice in it is for the user. Warnings from other
libraries keep Python's format: where they come from is what their reader needs."""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# the pipeline's own packages (pyproject.toml's packages): installed with `pip install .`, REPO is
# site-packages, where any library's package has an __init__.py too
PACKAGES = ("catalog", "contracts", "encoders", "evaluation", "flows", "modelzoo", "preprocess", "training")


def is_pipeline_file(filename: str) -> bool:
    """A file of one of the pipeline's own packages (not a library installed in a .venv inside the
    checkout, nor one installed beside them in site-packages)."""
    try:
        top = Path(filename).resolve().relative_to(REPO).parts[0]
    except (ValueError, IndexError, OSError):
        return False
    return top in PACKAGES and (REPO / top / "__init__.py").is_file()


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
