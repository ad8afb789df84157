"""`--help` and every refusal of a flag or a value come before torch (and Ray, Prefect, transformers,
DuckDB) is imported: `lumina train --help` took 2 s of CPU importing torch, as did `lumina sample
--solver heun` before it refused the solver. The config dataclasses and what their flags need live in
torch-free modules (training/config.py, evaluation/config.py); the commands import the trainer, the
evaluation and the sampler only once the arguments are checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "ray", "prefect", "duckdb", "pyarrow")


def samplers() -> list[str]:
    """The modalities' samplers (SAMPLE_HOOKS' modules): lumina sample --help listed their flags by
    importing every one (numpy, the cameras' helpers); evaluation/sample_flags.py describes them."""
    from evaluation.config import SAMPLE_HOOKS

    return [spec.partition(":")[0] for spec in SAMPLE_HOOKS.values()]


# (arguments of lumina, the exit code): each refusal is one a user meets before anything runs
CASES = [
    ("train --help", 0), ("train --bogus", 2), ("train --steps 10", 2),  # no --manifest
    ("train --manifest m --set bogus=1", 2), ("train --manifest m --steps 0", 2), ("train --manifest m --precision bf-16", 2),
    ("train --manifest m --model-overrides {dim", 2), ("train --manifest m --model nope", 2),
    ('train --manifest m --model-overrides {"n_layers":0}', 2), ("train --home HOME --manifest m", 2),  # no catalog there
    ("evaluate --help", 0), ("evaluate --bogus", 2), ("evaluate --checkpoint c", 2),  # no --manifest
    ("evaluate --manifest m --checkpoint c --solver heun", 2), ("evaluate --manifest m --checkpoint c --set bogus=1", 2),
    ("evaluate --manifest m --checkpoint c --seed -1", 2), ("evaluate --manifest m --checkpoint c --cfg-scale nan", 2),
    ("evaluate --home HOME --manifest m --checkpoint c", 2),  # no such checkpoint (tests/cli/test_evaluate_refusals_before_torch.py)
    ("sample --help", 0), ("sample --bogus", 2), ("sample --prompt hi", 2), ("sample --checkpoint c", 2),  # no --checkpoint, no --prompt
    ("sample --checkpoint c --prompt hi --solver heun", 2), ("sample --checkpoint c --prompt hi --extrapolation bad", 2),
    ("sample --checkpoint c --prompt hi --set bogus=1", 2), ("sample --checkpoint c --prompt hi --steps 0", 2),
    ("sample --checkpoint c --prompt hi --views x", 2), ("sample --home HOME --checkpoint c --prompt hi", 2),  # no such checkpoint
    ("sample --checkpoint c --prompt hi --elevation x", 2), ("sample --checkpoint c --text hi --radius x", 2),
    ("demo --help", 0), ("demo --bogus", 2), ("demo --model-overrides {dim", 2),
    # data_to_model's parameters, checked before Prefect (flows/demo_params.py): 3.6 s of CPU went on imports first
    ("demo --set bogus=1", 2), ("demo --set train_steps=ten", 2), ("demo --set modality=bogus", 2),
    ("demo --set corpus_options.voices=1", 2), ("demo --modality speech --set curate_options.bogus=1", 2),
    ("demo --set eval_options.bogus=1", 2), ("demo --set eval_options.steps=0", 2), ("demo --set encode_options.bogus=1", 2),
    # flows/refresh_cli.py: the parser and the checks before flows/refresh.py (Prefect, the catalog): --help took 2 s of CPU
    ("refresh --help", 0), ("refresh --bogus", 2), ("refresh", 2), ("refresh src --live bad", 2),
    ("refresh src --live-encoder vae:x", 2), ("refresh src --local --backend ray", 2), ("refresh src --set bogus=1", 2),
    ("refresh src --modality bogus", 2), ("refresh src --max-tokens x", 2),
    # encode_step's refusal of a modality, taken before EncodeConfig's checks import torch (1.9 s of CPU)
    ("encode --help", 0), ("encode --bogus", 2), ("encode --modality bogus", 2), ("encode --modality bogus --text phone", 2),
    # EncodeConfig's encoder names (encoders/names.py), not encoders.latent's and encoders.text's (torch): 2.3 s of CPU
    ("encode --latent nope", 2), ("encode --text nope", 2), ("demo --set encode_options.latent=nope", 2),
    ("demo --set encode_options.text=nope", 2),
    # the CLIP path check (encoders/clip.py imports torch only to run the model): 2 s of CPU
    ("curate src --clip HOME", 2), ("curate src --set options.clip.path=HOME", 2), ("refresh src --clip HOME", 2),
    ("encode --text clip --text-path HOME", 2),
    # the VAE's, the LLM's and MiniLM's path checks (encoders/path_checks.py, not encoders.latent's and
    # encoders.text's packages, which import torch): 1.9-2.5 s of CPU
    ("encode --latent sd15 --vae HOME", 2), ("encode --latent sdxl --vae HOME", 2), ("encode --text llama --text-path HOME", 2),
    ("encode --text minilm --text-path HOME", 2), ("encode --latent sd15 --vae CLIP", 2), ("encode --text minilm --text-path CLIP", 2),
    # lumina demo's and lumina refresh's encoder paths, checked before the flow (they were found by the
    # encode step only, after the corpus and the curation)
    ("demo --set encode_options.latent=sd15 --set encode_options.vae=HOME", 2),
    ("demo --set encode_options.text=minilm --set encode_options.text_path=HOME", 2), ("refresh src --encode-config VAECFG", 2),
    ("convert --help", 0), ("convert --bogus", 2), ("convert", 2), ("convert src HOME --dtype fp16", 2),
]

# runs each case's main() in one fresh process, and says which of the modules given (HEAVY, the
# samplers) each left imported
PROBE = """
import contextlib, io, json, sys
from flows.cli import main
out = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code
    out.append([argv, code, err.getvalue(), [m for m in json.loads(sys.argv[2]) if m in sys.modules]])
print(json.dumps(out))
"""


def test_help_and_refusals_import_no_heavy_library(tmp_path):
    clip = tmp_path / "clip"  # a model of another kind: its config.json is all the checks read
    clip.mkdir()
    (clip / "config.json").write_text(json.dumps({"model_type": "clip"}))
    vae_cfg = tmp_path / "encode.yaml"  # a VAE that is not there
    vae_cfg.write_text(f"latent: sd15\nvae: {tmp_path / 'nothing'}\n")
    paths = {"HOME": str(tmp_path / "nothing"), "CLIP": str(clip), "VAECFG": str(vae_cfg)}
    cases = [[paths.get(w, w) for w in c.split()] for c, _ in CASES]
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(cases), json.dumps([*HEAVY, *samplers()])],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for (argv, code, err, heavy), (case, expected) in zip(json.loads(done.stdout), CASES):
        assert code == expected, (case, code, err)
        if expected:  # a refusal: one line saying what is wrong
            assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err, (case, err)
        assert heavy == [], f"lumina {case} imported {heavy} (the first case that did)"


def test_the_torch_free_copies_agree_with_the_modules_they_stand_for():
    """evaluation/config.py spells out what modelzoo defines next to torch: the --extrapolation
    choices, the default guidance scale, the solvers and Solver's refusal."""
    import pytest

    from evaluation.config import DEFAULT_CFG_SCALE, EXTRAPOLATION_CHOICES, SOLVERS, check_sampler
    from modelzoo.rope import RopeScaling
    from modelzoo.transport.inference import DEFAULT_CFG_SCALE as MODEL_CFG_SCALE
    from modelzoo.transport.samplers import Solver

    assert EXTRAPOLATION_CHOICES == ("auto", *(s.value for s in RopeScaling))
    assert DEFAULT_CFG_SCALE == MODEL_CFG_SCALE
    assert SOLVERS == tuple(s.value for s in Solver)
    with pytest.raises(ValueError) as theirs:
        Solver("heun")
    with pytest.raises(ValueError, match="^--solver: ") as ours:
        check_sampler("heun", 0)
    assert str(ours.value) == f"--solver: {theirs.value}"
    for solver in Solver:
        check_sampler(solver, 0)  # the enum's members, as the library passes them


def test_python_m_training_train_parses_before_torch():
    """The torchrun entry point: its --help and refusals (each a line said once per run) need no torch."""
    env = {k: v for k, v in os.environ.items() if k != "TORCHELASTIC_RUN_ID"}  # not a torchrun rank: no 10 s wait
    for args, expected in ((["--help"], 0), (["--bogus"], 2), ([], 2), (["--manifest", "m", "--set", "bogus=1"], 2),
                           (["--manifest", "m", "--steps", "0"], 2)):
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "training.train", *args], cwd=REPO,
                              capture_output=True, text=True, timeout=60, env=env)
        imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
        said = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
        assert done.returncode == expected, (args, said)
        assert not imported & set(HEAVY), (args, sorted(imported & set(HEAVY)))


def test_the_demo_parameters_check_knows_the_flows_parameters():
    """flows/demo_params.DataToModelParameters spells out data_to_model's signature (Prefect's flow,
    which lumina demo imports only once the parameters are checked): the same names in the same
    order, with the same types and defaults."""
    import dataclasses
    import inspect
    import typing

    from flows.data_to_model import data_to_model
    from flows.demo_params import DataToModelParameters

    flow_params = inspect.signature(data_to_model.fn).parameters
    hints = typing.get_type_hints(data_to_model.fn)
    ours = dataclasses.fields(DataToModelParameters)
    our_hints = typing.get_type_hints(DataToModelParameters)
    assert [f.name for f in ours] == list(flow_params)
    assert {f.name: f.default for f in ours} == {n: p.default for n, p in flow_params.items()}
    assert {f.name: our_hints[f.name] for f in ours} == {n: hints[n] for n in flow_params}


def test_the_sample_flags_described_agree_with_the_samplers():
    """evaluation/<m>/sample_flags.py describes what the modality's sampler adds to lumina sample's
    flags, so that --help needs no sampler: the same options (names, order, types, defaults and the
    comments --help shows) and aliases, and the flag names, owners and spellings derived from them
    (evaluation/sample_flags.py's) are those the samplers' own give.
    (Multi-view's and speech's samplers take their options and aliases from their descriptions, so
    for them this checks the lookup; a sampler that keeps its own copy is compared here.)"""
    import dataclasses
    import typing

    from evaluation import config
    from evaluation.sample_flags import declared_sample_flags, flag_names, option_owners, spelled
    from flows.cli_config import field_comments

    def described(cls):
        if cls is None:
            return None
        hints = typing.get_type_hints(cls)
        return [(f.name, hints[f.name], f.default, f.metadata.get("help"), field_comments(cls).get(f.name))
                for f in dataclasses.fields(cls) if f.init]

    flags, samplings = declared_sample_flags(), config.registered_samplings()
    assert list(flags) == list(samplings)
    for modality, sampling in samplings.items():
        assert flags[modality].aliases == sampling.aliases, modality
        assert described(flags[modality].options) == described(sampling.options), modality
    # what the samplers' own options and aliases give
    owners = {f.name: m for m, s in samplings.items() if s.options for f in dataclasses.fields(s.options)}
    assert option_owners() == owners
    for name in (f.name for f in dataclasses.fields(config.SampleConfig)):
        names = [f"--{name.replace('_', '-')}", *(a for s in samplings.values() for a, f in s.aliases.items() if f == name)]
        first, *others = names
        assert flag_names(name) == names, name
        assert spelled(name) == (f"{first} (or {', '.join(others)})" if others else first), name


# a sample's steps before its model loads (evaluation/sample.sample_to_files): image's, then multi-view's
REAL_SAMPLE = """
import json, sys
from evaluation import sample
from evaluation.config import SAMPLE_HOOKS
samplers = [spec.partition(":")[0] for spec in SAMPLE_HOOKS.values()]
seen = []
for modality, options in (("image", {}), ("multiview", {"elevation": 30.0})):
    sample.sampling_of(modality)
    sample.modality_options(modality, options)
    sample.spelled("frames"), sample.spelled("prompt")
    try:
        sample.modality_options(modality, {"bogus": 1})
    except ValueError:
        pass
    seen.append([m for m in samplers if m in sys.modules])
print(json.dumps(seen))
"""


def test_a_sample_imports_its_checkpoints_sampler_only():
    """A real lumina sample imported every modality's sampler (the names of the modalities' flags in
    its messages and checks came from all of them): an image sample now imports none, a multi-view
    sample multi-view's alone."""
    done = subprocess.run([sys.executable, "-c", REAL_SAMPLE], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[], ["evaluation.multiview.sample"]]
