"""On the command line the pipeline's own warnings are one line, `lumina train: warning: ...`, as its
errors are: Python's format gave the file path, line number and source line, which read as a crash.
Other libraries' warnings keep Python's format."""
import warnings

from flows.cli_warnings import show_own_warnings_as_lines
from modelzoo.config import FlagDiTConfig


def test_a_pipeline_warning_is_one_line_naming_the_command(capsys):
    with warnings.catch_warnings():  # restores showwarning after the test
        warnings.simplefilter("always")
        passed_on = []
        warnings.showwarning = lambda message, category, filename, lineno, *rest: passed_on.append((filename, lineno))
        show_own_warnings_as_lines("train")
        FlagDiTConfig(in_channels=8, patch_size=4, dim=32, n_layers=1, n_heads=2)  # patch_dim 128 > dim 32
        warnings.warn_explicit("from elsewhere", UserWarning, "/usr/lib/python3/dist-packages/lib.py", 7)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("lumina train: warning: patch_dim 128 (4 x 4 patch x 8 channels) is larger than dim 32"), err
    assert len(err) == 1, err
    assert passed_on == [("/usr/lib/python3/dist-packages/lib.py", 7)]  # to Python's format, as before


def test_a_library_installed_beside_the_pipeline_keeps_pythons_format(tmp_path, monkeypatch):
    """Installed with `pip install .`, the pipeline's packages sit in site-packages beside every library:
    a package there with an __init__.py was taken for the pipeline's, and its warnings lost their origin."""
    import flows.cli_warnings as cli_warnings

    for package in ("flows", "torch"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    monkeypatch.setattr(cli_warnings, "REPO", tmp_path)  # site-packages, as a wheel installs the pipeline
    assert cli_warnings.is_pipeline_file(str(tmp_path / "flows" / "cli.py"))
    assert not cli_warnings.is_pipeline_file(str(tmp_path / "torch" / "functional.py"))


def test_the_named_packages_are_those_pyproject_installs():
    import re

    from flows.cli_warnings import PACKAGES, REPO

    include = re.search(r"include = \[([^\]]*)\]", (REPO / "pyproject.toml").read_text()).group(1)
    assert sorted(re.findall(r'"(\w+)\*"', include)) == sorted(PACKAGES)
