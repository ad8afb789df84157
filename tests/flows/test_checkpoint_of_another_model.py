"""Commands that take a checkpoint folder, given a folder that is not one of ours: a VAE's folder
(a diffusers config.json) and a converted release (a Flag-DiT without training.json). `lumina
evaluate` failed on "[Errno 2] No such file or directory: '.../training.json'" for both, and
`lumina sample` advised `lumina train --init-from` a VAE; now each says what the folder is."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from flows.cli import main


def _folder(tmp_path, name: str, config: dict):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize("command", ["evaluate", "sample"])
def test_a_vae_folder_is_refused_as_what_it_is(tmp_path, capsys, command):
    vae = _folder(tmp_path, "vae", {"_class_name": "AutoencoderKL", "latent_channels": 4})
    extra = ["--manifest", "m"] if command == "evaluate" else ["--prompt", "a digit"]
    assert main([command, "--home", str(tmp_path / "home"), "--checkpoint", str(vae), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"lumina {command}: error: --checkpoint {vae} is not a Flag-DiT checkpoint: its config.json is an "
                   "AutoencoderKL's; give a checkpoint-N folder of a lumina train run, or a Lumina-T2X release converted "
                   "with lumina convert"), err


def test_evaluate_names_a_converted_release_without_training_json(tmp_path, capsys):
    release = _folder(tmp_path, "release", {"model_type": "flag-dit", "dim": 32})
    assert main(["evaluate", "--home", str(tmp_path / "home"), "--checkpoint", str(release), "--manifest", "m"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"lumina evaluate: error: {release} has no training.json: a model without recorded encoders"), err
    assert err.endswith(f"(lumina train --init-from {release})") and "Errno" not in err, err


def test_init_from_a_vae_folder_is_refused_naming_the_flag(tmp_path):
    from flows.steps import resolve_checkpoint

    vae = _folder(tmp_path, "vae", {"_class_name": "AutoencoderKL"})
    with pytest.raises(ValueError, match=f"^--init-from {vae} is not a Flag-DiT checkpoint: its config.json is an AutoencoderKL's"):
        resolve_checkpoint(tmp_path / "catalog.duckdb", str(vae), "--init-from")
    ours = _folder(tmp_path, "ours", {"model_type": "flag-dit"})
    assert resolve_checkpoint(tmp_path / "catalog.duckdb", str(ours)) == str(ours.resolve())


def test_output_piped_into_head_is_not_an_error():
    """`lumina train ... | head -1` ended in a BrokenPipeError traceback and exit 1 after a finished run."""
    code = ("import sys, flows.cli as cli\n"
            "cli.COMMANDS['train'] = ('train', lambda argv: [print('row ' * 50, flush=True) for _ in range(20000)] and 0)\n"
            "sys.exit(cli.main(['train']))\n")
    proc = subprocess.run(f"{sys.executable} -c \"$CODE\" | head -c 10 >/dev/null; echo \"${{PIPESTATUS[0]}}\"",
                          shell=True, executable="/bin/bash", env={**__import__('os').environ, "CODE": code},
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "0" and "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
