"""`lumina train --ray-address ADDR` without --launcher ray trained in this process and exited 0 without
a word: the address is for Ray Train workers only. It is refused now, before any probe or work; with
--launcher ray the address is still probed (one line when nothing listens, not Ray's minute of retries)."""
import os

import pytest

import contracts.ray_runtime
from flows.cli import main


class Probed(Exception):
    pass


@pytest.fixture
def probe(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    calls = []

    def check(address):
        calls.append(address)
        raise Probed(address)

    monkeypatch.setattr(contracts.ray_runtime, "check_ray_address", check)
    yield calls
    os.environ.pop("RAY_ADDRESS", None)  # main sets it for the process, as the flag means


def test_an_address_for_a_local_launcher_is_refused_naming_both_flags(tmp_path, probe, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", "--home", str(tmp_path), "--manifest", "mine-train", "--ray-address", "192.0.2.2:44455"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--ray-address 192.0.2.2:44455 is for --launcher ray" in err and "--launcher local trains in this process" in err, err
    assert probe == []


def test_with_launcher_ray_the_address_is_probed(tmp_path, probe):
    with pytest.raises(Probed):
        main(["train", "--home", str(tmp_path), "--manifest", "mine-train", "--launcher", "ray", "--ray-address=192.0.2.2:44455"])
    assert probe == ["192.0.2.2:44455"]


def test_a_demo_whose_config_runs_locally_refuses_the_address(tmp_path, probe, capsys):
    """configs/video-smoke.yaml sets `backend: local`: the address was probed, then never used."""
    config = tmp_path / "local.yaml"
    config.write_text("modality: video\nbackend: local\n")
    with pytest.raises(SystemExit) as stop:
        main(["demo", "--config", str(config), "--home", str(tmp_path / "home"), "--ray-address", "192.0.2.2:44455"])
    assert stop.value.code == 2
    assert "--ray-address 192.0.2.2:44455 and backend local exclude each other" in capsys.readouterr().err
    assert probe == []
    with pytest.raises(Probed):  # the flow's default backend, ray: probed before anything starts
        main(["demo", "--home", str(tmp_path / "home"), "--ray-address", "192.0.2.2:44455"])
    assert probe == ["192.0.2.2:44455"] and not (tmp_path / "home").exists()


def test_the_refusal_names_set_when_set_chose_the_local_backend(tmp_path, probe, capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--set", "backend=local", "--home", str(tmp_path / "home"), "--ray-address", "192.0.2.2:44455"])
    err = capsys.readouterr().err
    assert "(--set backend=local sets it)" in err and "--config" not in err, err
