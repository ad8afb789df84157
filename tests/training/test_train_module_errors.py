"""`python -m training.train` (and torchrun) says what a user got wrong in one line, as `lumina train`
does: a missing catalog, a refused --resume or a damaged checkpoint printed a traceback."""

from __future__ import annotations


def test_a_user_error_is_one_line_and_exit_2(tmp_path, capsys):
    from training.train import main

    assert main(["--manifest", "nope", "--home", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"python -m training.train: error: no catalog at {tmp_path / 'catalog.duckdb'} (set --catalog or "
                   f"LUMINA_CATALOG, or run a flow first)"]
