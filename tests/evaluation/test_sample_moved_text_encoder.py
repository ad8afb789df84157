"""`lumina sample --text-path`: a checkpoint trained on CLIP captions samples after its CLIP folder
moved, with the fingerprint still checked; without the flag, the error names it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from tests.encoders.tiny_models import save_hf_clip_text, save_llama


@pytest.fixture(scope="module")
def clip_checkpoint(tmp_path_factory):
    from catalog import Catalog
    from flows.steps import train_step
    from preprocess.curate import CurateConfig, curate
    from preprocess.encode import EncodeConfig, encode
    from training.trainer import TrainConfig

    root = tmp_path_factory.mktemp("moved_text")
    clip = save_hf_clip_text(root / "clip")
    src, home = root / "src", root / "home"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(src / f"img{i}.png")
        (src / f"img{i}.txt").write_text(f"random texture number {i}")
    curated = curate(str(src), home, CurateConfig(options={"vae_factor": 1, "max_tokens": 256}), backend="local")
    encoded = encode(home, "image", EncodeConfig(text="clip", text_path=str(clip)), backend="local")
    with Catalog.open(home / "catalog.duckdb") as cat:
        run = cat.start_run("test", {})
        cat.register_batches([*curated.batch_paths, *encoded.batch_paths], run)
        cat.finish_run(run)
        cat.create_manifest("all", "modality = 'image'")
    out = train_step(str(home), TrainConfig(manifest="all", model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4},
                                            steps=1, batch_size=4, progress=False, tensorboard=False))
    return root, clip, out["checkpoint"]


def test_a_moved_clip_folder_is_given_with_text_path(clip_checkpoint):
    from evaluation.sample import SampleConfig, sample_to_files

    root, clip, ckpt = clip_checkpoint
    moved = root / "moved_clip"
    shutil.move(str(clip), moved)
    try:
        cfg = SampleConfig(checkpoint=ckpt, prompt="random texture number 1", out=str(root / "a"), steps=2)
        with pytest.raises(FileNotFoundError, match="the checkpoint records its clip text encoder there; moved\\? "
                                                    "give its new place with --text-path PATH"):
            sample_to_files(cfg)
        cfg.text_path = str(moved)
        files = sample_to_files(cfg)
        assert len(files) == 1 and Image.open(files[0]).size == (32, 32)
    finally:
        shutil.move(str(moved), clip)


def test_text_path_to_other_weights_is_refused(clip_checkpoint):
    from evaluation.sample import SampleConfig, sample_to_files

    root, _, ckpt = clip_checkpoint
    other = save_hf_clip_text(root / "other_clip", seed=1)
    cfg = SampleConfig(checkpoint=ckpt, prompt="x", out=str(root / "b"), steps=2, text_path=str(other))
    with pytest.raises(ValueError, match=f"text encoder at {other} is clip@.*, which the checkpoint's captions were "
                                         "encoded by: give --text-path the folder of that encoder"):
        sample_to_files(cfg)  # the folder given, not the recorded one


def test_text_path_to_another_kind_of_model_is_refused(clip_checkpoint):
    from evaluation.sample import SampleConfig, sample_to_files

    root, _, ckpt = clip_checkpoint
    llama = save_llama(root / "llama")
    cfg = SampleConfig(checkpoint=ckpt, prompt="x", out=str(root / "c"), steps=2, text_path=str(llama))
    with pytest.raises(ValueError, match="not a CLIP"):
        sample_to_files(cfg)
