"""lumina sample's check that the checkpoint's encoders are still where it recorded them: an open_clip
CLIP is recorded as ARCH:FILE (text_encoder.json "path": "ViT-B-32:/models/clip.pt"), which is no
path, and every sample of such a checkpoint was refused 'no such file or folder: ViT-B-32:/... moved?'
though the loader reads that spec (encoders.clip.split_arch_spec)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _checkpoint(folder: Path, text_path: str) -> Path:
    ckpt = folder / "checkpoint-0000001"
    ckpt.mkdir(parents=True)
    (ckpt / "latent_encoder.json").write_text(json.dumps({"name": "identity", "path": None}))
    (ckpt / "text_encoder.json").write_text(json.dumps({"name": "clip", "path": text_path}))
    return ckpt


def test_an_open_clip_arch_file_text_encoder_whose_file_is_there_is_not_moved(tmp_path):
    from evaluation.checks import check_moved_encoder_flags

    (tmp_path / "clip.pt").write_bytes(b"weights")
    check_moved_encoder_flags(_checkpoint(tmp_path, f"ViT-B-32:{tmp_path / 'clip.pt'}"), text_too=True)


def test_an_open_clip_arch_file_text_encoder_whose_file_is_gone_is_said_moved(tmp_path):
    from evaluation.checks import check_moved_encoder_flags

    spec = f"ViT-B-32:{tmp_path / 'clip.pt'}"
    with pytest.raises(FileNotFoundError, match="moved\\? give its new place with --text-path"):
        check_moved_encoder_flags(_checkpoint(tmp_path, spec), text_too=True)
