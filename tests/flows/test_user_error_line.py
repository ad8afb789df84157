"""A user error prints one line; a bare KeyError (whose text is only the key, and usually a bug) says
what it is and how to see the traceback, which LUMINA_TRACEBACK=1 prints."""

from __future__ import annotations

import pytest


def _failing_command(exc):
    def run(argv):
        raise exc

    return ("fails", run)


@pytest.fixture
def lumina_with(monkeypatch):
    from flows import cli

    def install(exc):
        monkeypatch.setitem(cli.COMMANDS, "fails", _failing_command(exc))
        return cli.main

    return install


def test_a_bare_key_error_names_its_type_and_the_traceback_switch(lumina_with, capsys, monkeypatch):
    monkeypatch.delenv("LUMINA_TRACEBACK", raising=False)
    main = lumina_with(KeyError("latent_scale"))
    assert main(["fails"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["lumina fails: error: KeyError 'latent_scale' (set LUMINA_TRACEBACK=1 for the traceback)"]


def test_a_value_error_keeps_its_message_alone(lumina_with, capsys, monkeypatch):
    monkeypatch.delenv("LUMINA_TRACEBACK", raising=False)
    main = lumina_with(ValueError("--steps must be positive\nmore detail"))
    assert main(["fails"]) == 2
    assert capsys.readouterr().err.splitlines() == ["lumina fails: error: --steps must be positive"]


def test_lumina_traceback_prints_where_the_error_came_from(lumina_with, capsys, monkeypatch):
    monkeypatch.setenv("LUMINA_TRACEBACK", "1")
    main = lumina_with(ValueError("bad value"))
    assert main(["fails"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "in run" in err
    assert err.splitlines()[-1] == "lumina fails: error: bad value"


def test_the_training_module_prints_the_same_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LUMINA_TRACEBACK", raising=False)
    import flows.steps
    from training.train import main

    def boom(home, cfg):
        raise KeyError("vae_scale")

    monkeypatch.setattr(flows.steps, "train_step", boom)
    assert main(["--manifest", "m", "--home", str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "python -m training.train: error: KeyError 'vae_scale' (set LUMINA_TRACEBACK=1 for the traceback)"]
