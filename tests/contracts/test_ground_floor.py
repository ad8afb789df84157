"""The ground floor: contracts import nothing of ours, and the Modality enum matches the catalog."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from contracts.records import MODALITIES, Modality, SampleRecord

REPO = Path(__file__).resolve().parents[2]
OUR_PACKAGES = {"catalog", "preprocess", "training", "evaluation", "modelzoo", "flows", "encoders"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_contracts_import_none_of_our_packages():
    for path in (REPO / "contracts").glob("*.py"):
        assert not (_imports(path) & OUR_PACKAGES), path


def test_training_and_evaluation_never_import_preprocess():
    for pkg in ("training", "evaluation"):
        for path in (REPO / pkg).rglob("*.py"):
            assert "preprocess" not in _imports(path), path


def test_no_module_outside_its_modality_package_names_a_media_format():
    pattern = re.compile(r"""["']\.?(png|jpe?g|webp|bmp|gif|tiff?|wav|flac|mp3|ogg|mp4|webm|mkv|avi|mov)["']""", re.IGNORECASE)
    # each modality's own packages may name the formats it reads and writes (multi-view views are PNGs too)
    allowed = {REPO / pkg / m for pkg in ("preprocess", "evaluation") for m in MODALITIES}
    allowed |= {REPO / "tests", REPO / "bench"}
    offenders = []
    for pkg in ("contracts", "preprocess", "training", "evaluation", "catalog", "flows", "encoders", "modelzoo"):
        for path in (REPO / pkg).rglob("*.py"):
            if any(a in path.parents for a in allowed):
                continue
            if pattern.search(path.read_text()):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_modality_enum_matches_the_catalog_check_constraint():
    """The constraint as the newest migration that (re)defines samples.modality leaves it."""
    found = None
    for path in sorted((REPO / "catalog" / "migrations").glob("*.sql")):
        for m in re.finditer(r"modality\s+VARCHAR NOT NULL CHECK \(modality IN \(([^)]*)\)\)", path.read_text()):
            found = (path.name, {v.strip().strip("'") for v in m.group(1).split(",")})
    assert found, "the samples.modality CHECK constraint moved: update this test"
    assert found[1] == set(MODALITIES) == {m.value for m in Modality}, found


def test_every_modality_has_its_plugin_evaluator_and_sample_writer():
    """A modality missing from one of the registries failed late with a bare KeyError ('depth')."""
    import importlib

    from evaluation.evaluate import MODALITY_EVALUATORS, modality_hook
    from evaluation.sample import SAMPLE_WRITERS
    from preprocess.modality import get_plugin

    for m in Modality:
        assert get_plugin(m).modality is m
        assert callable(modality_hook(MODALITY_EVALUATORS, m.value, "MODALITY_EVALUATORS"))
        assert callable(modality_hook(SAMPLE_WRITERS, m.value, "SAMPLE_WRITERS"))
        assert importlib.import_module(SAMPLE_WRITERS[m.value].partition(":")[0]).OUT_SUFFIXES
    with pytest.raises(ValueError, match=r"no MODALITY_EVALUATORS entry for modality 'depth' \(it has image, multiview, "):
        modality_hook(MODALITY_EVALUATORS, "depth", "MODALITY_EVALUATORS")


def test_unknown_modality_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown modality 'audio'.*speech"):
        SampleRecord(key="k" * 32, modality="audio", source_uri="x", status="accepted")


def test_every_modalitys_declared_flags_fit_the_generic_commands(capsys):
    """A modality's own flags (its sample options and aliases, its curate flags) are options it has,
    and never clash with a generic flag or another modality's."""
    import dataclasses
    import inspect

    from evaluation.evaluate import modality_hook
    from evaluation.sample import SAMPLE_WRITERS, SampleConfig, registered_samplings
    from flows.cli import main
    from preprocess.curate import CurateConfig
    from preprocess.modality import get_plugin

    generic = {f.name for f in dataclasses.fields(SampleConfig)}
    seen: set[str] = set()
    for modality, sampling in registered_samplings().items():
        own = {f.name for f in dataclasses.fields(sampling.options)} if sampling.options else set()
        assert not own & (generic | seen), (modality, own & (generic | seen))
        seen |= own
        assert set(sampling.aliases.values()) <= generic, modality
        writer = modality_hook(SAMPLE_WRITERS, modality, "SAMPLE_WRITERS")
        assert ("prompts" in inspect.signature(writer).parameters) == sampling.writer_takes_prompts, modality
    curating = {f.name for f in dataclasses.fields(CurateConfig)}
    for m in Modality:
        plugin = get_plugin(m)
        assert set(plugin.curate_flags) <= {f.name for f in dataclasses.fields(plugin.options_cls)} - curating, m
    for command in ("sample", "curate", "refresh"):  # argparse refuses a flag defined twice
        with pytest.raises(SystemExit) as e:
            main([command, "--help"])
        assert e.value.code == 0, command
    capsys.readouterr()
