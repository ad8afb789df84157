"""`--backend local` (as a config's `backend: local`) is the same as `--local` for the stage commands:
the work runs in this process, without starting Ray; the two flags may not contradict each other."""

from __future__ import annotations

import pytest

from flows.cli import main


@pytest.fixture
def no_ray(monkeypatch):
    """Starting Ray fails the test: a local run must not reach it."""
    import contracts.ray_runtime as ray_runtime

    def refuse(*a, **k):
        raise AssertionError("Ray was started")

    monkeypatch.setattr(ray_runtime, "ensure_ray", refuse)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    from preprocess.image.demo_corpus import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("src"), num_digits=12, num_shapes=0).root / "digits"


@pytest.mark.parametrize("command", ["curate", "refresh"])
def test_backend_local_runs_without_ray(command, digits, tmp_path, no_ray, capsys):
    rc = main([command, str(digits), "--modality", "image", "--home", str(tmp_path / "home"), "--vae-factor", "1",
               "--backend", "local", "--json"])
    assert rc == 0, capsys.readouterr().err
    assert '"accepted": 12' in capsys.readouterr().out


def test_encode_backend_local_runs_without_ray(digits, tmp_path, no_ray, capsys):
    home = str(tmp_path / "home")
    assert main(["curate", str(digits), "--home", home, "--vae-factor", "1", "--local"]) == 0
    assert main(["encode", "--home", home, "--text", "phone", "--backend", "local", "--json"]) == 0
    assert '"encoded_now": 1,' in capsys.readouterr().out  # shards


def test_local_and_backend_ray_contradict(digits, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["curate", str(digits), "--home", str(tmp_path / "home"), "--local", "--backend", "ray"])
    assert e.value.code == 2
    assert "--local and --backend ray contradict each other" in capsys.readouterr().err
