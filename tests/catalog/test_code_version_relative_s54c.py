"""code_version(cwd=".") asks the tree the process is in now: its answer is cached per process by the
folder, and a relative one was the key as written, so after an os.chdir to another repository "." gave
the first repository's commit."""

from __future__ import annotations

import subprocess


def _repository(path) -> str:
    path.mkdir()
    git = lambda *a: subprocess.run(["git", *a], cwd=path, check=True, capture_output=True, text=True)  # noqa: E731
    git("init", "-q")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", path.name)
    return git("rev-parse", "HEAD").stdout.strip()


def test_a_relative_folder_is_the_one_the_process_is_in_at_each_call(tmp_path, monkeypatch):
    from catalog.db import code_version

    monkeypatch.delenv("LUMINA_CODE_VERSION", raising=False)
    first, second = _repository(tmp_path / "first"), _repository(tmp_path / "second")
    monkeypatch.chdir(tmp_path / "first")
    assert code_version(".") == first
    monkeypatch.chdir(tmp_path / "second")
    assert code_version(".") == second
    monkeypatch.chdir(tmp_path)
    assert code_version("first") == first
