"""--vae and --text-path for a checkpoint whose encoders read no file are refused before any model
loads: `lumina sample --vae X` on an identity-latent checkpoint used to run and ignore the flag."""

from __future__ import annotations

import json

import pytest


def _checkpoint(folder, latent: dict, text: dict):
    folder.mkdir()
    (folder / "training.json").write_text(json.dumps({"latent_shape": [3, 1, 8, 8], "modality": "image"}))
    (folder / "latent_encoder.json").write_text(json.dumps({"downsample": 1, **latent}))
    (folder / "text_encoder.json").write_text(json.dumps(text))
    return folder  # no model.safetensors: a check that came after loading the model would fail otherwise


IDENTITY = {"name": "identity", "path": None}
MINILM = {"name": "all-MiniLM-L6-v2", "path": None}


def test_a_vae_for_identity_latents_and_a_text_path_for_phones_are_refused_before_the_model_loads(tmp_path):
    from evaluation.sample import SampleConfig, sample_to_files

    ckpt = _checkpoint(tmp_path / "identity", IDENTITY, MINILM)
    with pytest.raises(ValueError, match="--vae /vae: identity was trained on identity latents, which decode without a VAE"):
        sample_to_files(SampleConfig(checkpoint=str(ckpt), prompt="a seven", vae="/vae", out=str(tmp_path / "s")))
    speech = _checkpoint(tmp_path / "speech", IDENTITY, {"name": "phone", "path": None})
    with pytest.raises(ValueError, match="--text-path /t: speech was trained on the phone encoder, which reads no weights"):
        sample_to_files(SampleConfig(checkpoint=str(speech), prompt="one", text_path="/t", out=str(tmp_path / "s")))


def test_a_vae_checkpoint_takes_vae_and_a_clip_checkpoint_takes_text_path(tmp_path):
    from evaluation.evaluate import check_moved_encoder_flags

    ckpt = _checkpoint(tmp_path / "sd15", {"name": "sd15", "path": "/old/vae"}, {"name": "clip", "path": "/old/clip"})
    moved = tmp_path / "vae.safetensors"
    moved.write_bytes(b"")  # the path check reads no weights
    check_moved_encoder_flags(ckpt, vae=str(moved), text_path="/new/clip")  # what the flags are for


def test_a_vae_typo_or_a_vae_moved_away_is_said_before_any_sampling(tmp_path):
    """Decoding comes last: a typo in --vae was said after every sampling step (or a whole held-out
    loss), a VAE moved away likewise."""
    from evaluation.sample import SampleConfig, sample_to_files

    gone = tmp_path / "vae-gone"
    ckpt = _checkpoint(tmp_path / "sd15", {"name": "sd15", "path": str(gone)}, MINILM)
    with pytest.raises(FileNotFoundError, match=f"--vae: no such file or folder: {tmp_path}/nope"):
        sample_to_files(SampleConfig(checkpoint=str(ckpt), prompt="a seven", vae=str(tmp_path / "nope"), out=str(tmp_path / "s")))
    with pytest.raises(FileNotFoundError, match=r"records its sd15 VAE there; moved\? give its new place with --vae PATH"):
        sample_to_files(SampleConfig(checkpoint=str(ckpt), prompt="a seven", out=str(tmp_path / "s")))


def test_a_vae_and_a_text_encoder_both_moved_are_said_in_one_line(tmp_path):
    from evaluation.sample import SampleConfig, sample_to_files

    ckpt = _checkpoint(tmp_path / "sd15", {"name": "sd15", "path": str(tmp_path / "vae")},
                       {"name": "clip", "path": str(tmp_path / "clip")})
    with pytest.raises(FileNotFoundError) as e:
        sample_to_files(SampleConfig(checkpoint=str(ckpt), prompt="a seven", out=str(tmp_path / "s")))
    assert str(e.value) == (
        f"no such file or folder: {tmp_path / 'vae'}: the checkpoint records its sd15 VAE there; moved? give its new "
        f"place with --vae PATH; and no such file or folder: {tmp_path / 'clip'}: the checkpoint records its clip text "
        "encoder there; moved? give its new place with --text-path PATH")


def test_lumina_evaluate_refuses_a_vae_for_identity_latents_in_one_line(tiny_home, tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from training.trainer import TrainConfig, train

    catalog = str(shutil.copy(tiny_home.catalog, tmp_path / "catalog.duckdb"))  # the shared one stays untouched
    out = train(TrainConfig(catalog=catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                            out_dir=str(tmp_path / "run"), steps=1, batch_size=4, progress=False, tensorboard=False,
                            model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "multiple_of": 16}))
    proc = subprocess.run([str(Path(sys.executable).parent / "lumina"), "evaluate", "--catalog", catalog,
                           "--manifest", tiny_home.holdout_manifest, "--checkpoint", str(out.checkpoint), "--vae", "/vae"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].endswith("which decode without a VAE"), proc.stderr[-2000:]
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    from catalog import Catalog

    with Catalog.open(catalog, read_only=True) as cat:  # refused before a run is recorded (it left a failed one)
        assert cat.sql("SELECT count(*) FROM runs WHERE flow_name = 'evaluate'")[1] == [(0,)]
