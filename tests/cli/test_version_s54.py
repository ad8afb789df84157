"""`lumina --version` printed the usage and `unknown command '--version'` (exit 2): a bug report had
no way to say which code it ran. It prints the release and the catalog's code_version for it."""
from importlib.metadata import version

import pytest

from catalog.db import code_version
from flows.cli import main


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_prints_the_release_and_the_code_version_runs_record(flag, capsys, monkeypatch):
    monkeypatch.setenv("LUMINA_CODE_VERSION", "registry.example/lumina:2026-12")
    assert main([flag]) == 0
    out, err = capsys.readouterr()
    assert out == f"lumina-pipeline {version('lumina-pipeline')} (code_version registry.example/lumina:2026-12)\n" and err == ""
    monkeypatch.delenv("LUMINA_CODE_VERSION")
    assert main([flag]) == 0
    assert capsys.readouterr().out == f"lumina-pipeline {version('lumina-pipeline')} (code_version {code_version()})\n"
