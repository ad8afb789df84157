"""Ctrl-C while a command starts (importing torch, before training's own handler is in place) printed
a 30-45 line KeyboardInterrupt traceback; it is one line and the shell's exit code for SIGINT."""

from __future__ import annotations

import flows.cli as cli


def _interrupted(argv):
    raise KeyboardInterrupt


def test_ctrl_c_before_training_starts_is_one_line_and_exit_130(monkeypatch, capsys):
    monkeypatch.setitem(cli.COMMANDS, "train", ("train", _interrupted))
    monkeypatch.delenv(cli.TRACEBACK_ENV, raising=False)
    assert cli.main(["train", "--manifest", "m"]) == 130
    assert capsys.readouterr().err == "lumina train: interrupted\n"


def test_with_lumina_traceback_the_traceback_comes_first(monkeypatch, capsys):
    monkeypatch.setitem(cli.COMMANDS, "train", ("train", _interrupted))
    monkeypatch.setenv(cli.TRACEBACK_ENV, "1")
    assert cli.main(["train"]) == 130
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "KeyboardInterrupt" in err and err.endswith("lumina train: interrupted\n")
