"""Generic code names no modality: what a modality adds is declared in its own packages and found
through the registries, so a new one edits no generic module. The string literals of the generic
modules are checked (docstrings and comments may name a modality as an example)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from contracts.records import MODALITIES

REPO = Path(__file__).resolve().parents[2]
NAMES = re.compile(r"\b(?:image|video|multiview|multi-view|speech)\b", re.IGNORECASE)

# the registries: a modality's one line in each
REGISTRIES = {"PLUGINS", "MODALITY_EVALUATORS", "SAMPLE_WRITERS", "SAMPLE_HOOKS"}

# image is the default modality: of the flags and flows, and of checkpoints and demos made before a
# modality was recorded (training.json without one; the image demo's manifests are "demo-*"). These
# files may hold the string "image" itself.
DEFAULT_MODALITY_FILES = {"flows/cli.py", "flows/curate.py", "flows/encode.py", "flows/refresh.py", "flows/data_to_model.py",
                          "flows/steps.py", "evaluation/evaluate.py", "preprocess/curate.py", "preprocess/encode.py"}

# the other exceptions that stay, each with why: (file, a part of the string)
ALLOWED = {
    ("flows/cli.py", "(default: image)"), ("flows/cli.py", "else image)"),  # help naming the default
    # usage examples in help texts, not a list of the modalities
    ("flows/cli.py", "--modality image"), ("catalog/cli.py", "accepted training images"),
    ("catalog/cli.py", "s.modality = 'image'"), ("catalog/sandbox.py", "modality = 'image'"),
    # CLIP's own vocabulary: its image tower and caption-image similarity
    ("flows/cli_config.py", "its image tower"), ("flows/cli_config.py", "caption-image cosine"),
}


def _allowed(file: str, value: str) -> bool:
    if value == "image" and file in DEFAULT_MODALITY_FILES:
        return True
    return any(file == f and part in value for f, part in ALLOWED)


def _generic_modules() -> list[Path]:
    paths = [*(REPO / "flows").rglob("*.py"), *(REPO / "training").rglob("*.py"), *(REPO / "catalog").rglob("*.py"),
             *(REPO / "evaluation").glob("*.py"), *(REPO / "preprocess").glob("*.py"),
             *(REPO / "preprocess" / "filters").rglob("*.py"), *(REPO / "contracts").glob("*.py")]
    return sorted(paths)


def _docstrings(tree: ast.AST) -> set[int]:
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {id(node.body[0].value) for node in ast.walk(tree) if isinstance(node, kinds) and node.body
            and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}


def _declarations(tree: ast.AST) -> set[int]:
    """The string literals of the registries and of the Modality enum itself."""
    nodes: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in REGISTRIES for t in node.targets):
            nodes.append(node.value)
        elif isinstance(node, ast.ClassDef) and node.name == "Modality":
            nodes.append(node)
    return {id(n) for top in nodes for n in ast.walk(top)}


def modality_names_in(source: str) -> list[str]:
    tree = ast.parse(source)
    skip = _docstrings(tree) | _declarations(tree)
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in skip and NAMES.search(node.value)]


def test_generic_modules_name_no_modality():
    offenders = []
    for path in _generic_modules():
        rel = path.relative_to(REPO).as_posix()
        for value in modality_names_in(path.read_text()):
            if not _allowed(rel, value):
                offenders.append(f"{rel}: {value[:100]!r}")
    assert offenders == [], "\n".join(offenders)


def test_the_scan_sees_a_modality_name_and_the_checked_names_are_the_enums():
    """The check would pass on nothing if the pattern missed: it finds a comparison by name."""
    assert {m for m in MODALITIES if NAMES.fullmatch(m)} == set(MODALITIES)
    source = 'def f(m):\n    """speech is fine here"""\n    return m == "multiview"  # and here: speech\n'
    assert modality_names_in(source) == ["multiview"]
