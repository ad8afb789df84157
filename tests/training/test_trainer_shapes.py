"""A checkpoint records the latent shapes it trained on; the most common is what sample draws."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image


def test_the_checkpoints_latent_shape_is_the_most_common_trained_on(tmp_path):
    """It was the first sample's: on a corpus of mixed sizes, lumina sample drew whichever came first."""
    from catalog import Catalog
    from contracts.layout import Workspace
    from preprocess.curate import CurateConfig, curate
    from preprocess.encode import EncodeConfig, encode
    from training.trainer import TrainConfig, train

    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    rng = np.random.default_rng(0)
    sizes = [(32, 32)] * 3 + [(48, 64)] * 6  # (height, width): the wide one is the most common
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(src / f"img{i}.png")
        (src / f"img{i}.txt").write_text(f"random texture number {i}")
    options = {"vae_factor": 1, "max_tokens": 4096}
    curated = curate(str(src), home, CurateConfig(holdout_percent=0, options=options), backend="local")
    encoded = encode(home, "image", EncodeConfig(), backend="local")
    with Catalog.open(home / "catalog.duckdb") as cat:
        run = cat.start_run("test", {})
        cat.register_batches([*curated.batch_paths, *encoded.batch_paths], run)
        cat.finish_run(run)
        cat.create_manifest("mixed", "modality = 'image'")
    null = Workspace.at(home).null_caption(encoded.text_encoder)
    cfg = TrainConfig(catalog=str(home / "catalog.duckdb"), manifest="mixed", out_dir=str(tmp_path / "run"),
                      null_caption=str(null), model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2}, steps=2,
                      batch_size=8, progress=False, tensorboard=False)
    result = train(cfg)  # one epoch: a batch of each size (the sizes do not share a bucket)
    info = json.loads((Path(result.checkpoint) / "training.json").read_text())
    assert info["latent_shapes"] == [[[3, 1, 48, 64], 6], [[3, 1, 32, 32], 3]]
    assert info["latent_shape"] == [3, 1, 48, 64]
