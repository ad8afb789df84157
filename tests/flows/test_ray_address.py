"""`--ray-address`: listed in the --help of every command that takes it; nothing listening there is
one line and exit 2 at once (Ray retried for over 90 s); a loopback address stays loopback (Ray
swapped 127.0.0.1 for this host's address, where a cluster started on 127.0.0.1 does not listen)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LUMINA = str(Path(sys.executable).parent / "lumina")


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("command", ["curate", "encode", "train", "demo", "refresh"])
def test_every_ray_command_lists_ray_address_in_its_help(command, capsys):
    from flows.cli import RAY_COMMANDS, main

    assert command in RAY_COMMANDS
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    assert "--ray-address" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["evaluate", "sample"])
def test_commands_without_ray_refuse_it_rather_than_ignore_it(command, capsys):
    from flows.cli import main

    with pytest.raises(SystemExit) as e:
        main([command, "--ray-address", "127.0.0.1:6379"])
    assert e.value.code == 2
    assert "unrecognized arguments: --ray-address" in capsys.readouterr().err


def test_no_cluster_at_the_address_is_one_line_and_exit_2_at_once(tmp_path):
    from PIL import Image

    src = tmp_path / "src"
    src.mkdir()
    Image.new("RGB", (64, 64), "red").save(src / "a.png")  # an input: curation would start Ray for it
    (src / "a.txt").write_text("a red square")
    address = f"127.0.0.1:{_unused_port()}"
    env = {**{k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}, "LUMINA_RAY_CONNECT_WAIT_S": "1"}
    t = time.time()
    proc = subprocess.run([LUMINA, "curate", str(src), "--home", str(tmp_path / "home"), "--ray-address", address],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert time.time() - t < 30  # Ray's own retries took over 90 s
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"lumina curate: error: no Ray cluster at {address}"), proc.stderr
    port = address.rsplit(":", 1)[1]  # the hint keeps a loopback cluster loopback (Ray's GCS would listen on every interface)
    assert f"`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 ray start --head --node-ip-address 127.0.0.1 --port {port}`" in lines[0]
    assert not (tmp_path / "home").exists()


def test_ensure_ray_checks_an_address_from_the_environment_before_ray_init(monkeypatch):
    import ray

    from contracts import ray_runtime

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: pytest.fail("ray.init called for an address where nothing listens"))
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{_unused_port()}")
    monkeypatch.setattr(ray_runtime, "GCS_WAIT_S", 1.0)
    t = time.time()
    with pytest.raises(ray_runtime.NoRayCluster, match="no Ray cluster at 127.0.0.1:") as e:
        ray_runtime.ensure_ray()
    assert time.time() - t < 10
    assert str(e.value).endswith("or drop --ray-address / RAY_ADDRESS (a flow run: its ray_address parameter)")  # deployments too


def test_a_loopback_address_is_kept_loopback(monkeypatch):
    """Ray (2.x, Linux) resolves 127.0.0.1 in a cluster address to this host's address unless its
    loopback mode is on; ensure_ray turns it on for a loopback address (checked with Ray's own
    resolution, against a listening socket standing in for the GCS)."""
    import ray
    from ray._private import ray_constants, services

    from contracts import ray_runtime

    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", True)  # Linux's default
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "1")  # restored after the test
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    seen = {}
    monkeypatch.setattr(ray, "init", lambda address, **kw: seen.update(gcs=services.canonicalize_bootstrap_address(address)))
    with socket.socket() as gcs:
        gcs.bind(("127.0.0.1", 0))
        gcs.listen()
        address = f"127.0.0.1:{gcs.getsockname()[1]}"
        ray_runtime.ensure_ray(address)
    assert seen["gcs"] == address
    assert os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"  # and for any process Ray starts


def test_a_cluster_that_starts_listening_within_the_wait_is_found():
    """A script that starts a head and runs lumina at once finds it: the address is tried again
    while it is refused (the cluster test failed when the check gave up on the first refusal)."""
    import socket
    import threading

    from contracts.ray_runtime import NoRayCluster, check_ray_address

    port = _unused_port()
    with pytest.raises(NoRayCluster, match="connection refused"):
        check_ray_address(f"127.0.0.1:{port}", wait=0)
    server = socket.socket()

    def listen_later():
        time.sleep(1.0)
        server.bind(("127.0.0.1", port))
        server.listen()

    threading.Thread(target=listen_later, daemon=True).start()
    try:
        t = time.time()
        assert check_ray_address(f"127.0.0.1:{port}", wait=10) == "127.0.0.1"
        assert 0.9 < time.time() - t < 5
    finally:
        server.close()


@pytest.mark.parametrize("address", ["auto", "local", "ray://127.0.0.1:1", "127.0.0.1"])
def test_addresses_ray_resolves_itself_are_not_checked(address):
    from contracts.ray_runtime import check_ray_address

    assert check_ray_address(address, wait=0) is None  # no TCP check, no error: Ray resolves them


def test_localhost_is_loopback():
    from contracts.ray_runtime import _is_loopback

    assert _is_loopback("localhost") and _is_loopback("127.0.0.1") and _is_loopback("::1")
    assert not _is_loopback("10.0.0.5") and not _is_loopback("head-node") and not _is_loopback(None)


def test_help_with_an_unreachable_address_shows_the_help(capsys, monkeypatch):
    """--help is read without a cluster: the address is checked only when the command runs."""
    from flows.cli import main

    monkeypatch.setenv("RAY_ADDRESS", "")  # main sets it for the command: recorded here, so undone after the test
    monkeypatch.delenv("RAY_ADDRESS")

    with pytest.raises(SystemExit) as e:
        main(["curate", "--ray-address", f"127.0.0.1:{_unused_port()}", "--help"])
    assert e.value.code == 0 and "--ray-address" in capsys.readouterr().out
