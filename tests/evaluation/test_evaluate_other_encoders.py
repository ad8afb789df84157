"""`lumina evaluate` of a checkpoint trained on other encodings than the manifest's (the same samples,
captions encoded by another text encoder) first warned that the checkpoint trained on its members,
then refused. Now it refuses in one line that gives the command to run; with the checkpoint's own
encoders, evaluating on its training data still warns and goes on."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def trained(tiny_home, tmp_path_factory) -> tuple[Path, Path]:
    """A workspace with a copy of the tiny catalog and a one-step checkpoint trained on its train manifest."""
    from flows.steps import train_step
    from training.trainer import TrainConfig

    home = tmp_path_factory.mktemp("other_encoders")
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")
    out = train_step(str(home), TrainConfig(manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                                            model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4},
                                            steps=1, batch_size=4, progress=False, tensorboard=False))
    return home, Path(out["checkpoint"])


@pytest.fixture
def split_checks(monkeypatch) -> list:
    """Calls of evaluate_step's split check, which warns when the checkpoint trained on the manifest's
    members (recorded rather than read from the log: importing Prefect replaces the log handlers)."""
    import flows.steps

    calls = []
    real = flows.steps.evaluated_split
    monkeypatch.setattr(flows.steps, "evaluated_split", lambda *a: calls.append(a) or real(*a))
    return calls


@pytest.fixture
def other_text_encoder(trained, tmp_path) -> Path:
    """The checkpoint, as if its captions had been encoded by another text encoder."""
    _, ckpt = trained
    copy = shutil.copytree(ckpt, tmp_path / ckpt.name)
    info = json.loads((copy / "training.json").read_text())
    (copy / "training.json").write_text(json.dumps({**info, "encoders": {**info["encoders"], "text": "clip@1234"}}))
    return copy


def test_other_encoders_are_refused_in_one_line_without_the_warning_before(tiny_home, trained, other_text_encoder,
                                                                           split_checks, capsys, caplog):
    from flows.cli import main

    home, _ = trained
    with caplog.at_level(logging.WARNING):
        code = main(["evaluate", "--home", str(home), "--checkpoint", str(other_text_encoder),
                     "--manifest", tiny_home.train_manifest])
    assert code == 2 and not split_checks
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"lumina evaluate: error: manifest {tiny_home.train_manifest}@v1 was encoded by text "
                             f"all-MiniLM-L6-v2@")
    assert ", but checkpoint-0000001 was trained on text clip@1234: its metrics would mean nothing; evaluate it on" in err[0]
    assert "lumina catalog manifest create NAME --where \"" in err[0] and "--encoder clip@1234 (encode them" in err[0]
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]  # "... measure fit" came first


def test_the_evaluate_flow_refuses_the_same_way(tiny_home, trained, other_text_encoder, split_checks):
    from flows.evaluate import evaluate_flow

    home, _ = trained
    with pytest.raises(ValueError, match=r"--encoder clip@1234"):
        evaluate_flow.fn(str(other_text_encoder), tiny_home.train_manifest, home=str(home))
    assert not split_checks


def test_its_own_encoders_on_its_training_data_warn_and_go_on(tiny_home, trained, split_checks, monkeypatch, capsys):
    import evaluation.evaluate as ev
    from flows.cli import main

    home, ckpt = trained
    monkeypatch.setattr(ev, "evaluate", lambda cfg, **_: ev.EvalResult({"heldout_fm_loss": 0.5}))
    assert main(["evaluate", "--home", str(home), "--checkpoint", str(ckpt), "--manifest", tiny_home.train_manifest,
                 "--json"]) == 0
    assert len(split_checks) == 1  # which warns (tests/flows/test_evaluated_split.py), and the evaluation goes on
    out = json.loads(capsys.readouterr().out)
    assert out["split"] == "train" and out["metrics"] == {"heldout_fm_loss": 0.5}
