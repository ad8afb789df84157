"""Session 53 review (helper S). Multi-view views curated for another latent grid (--vae-factor 1, size
12) and encoded with an 8x VAE are refused saying how a multi-view curation sizes them: the message
told every modality '(or --resize square with a size that is a multiple of 8)', an image option that
lumina curate --modality multiview refuses ('unknown option(s) resize')."""

from __future__ import annotations

import json

import pytest

from preprocess.curate import CurateConfig, curate
from preprocess.encode import EncodeConfig, check_latent_grid
from tests.multiview.test_subfolder_views_s52 import _object


def test_views_off_the_vae_grid_are_told_to_set_the_size(tmp_path):
    _object(tmp_path / "src" / "obj", [f"{i:03d}.png" for i in range(4)])
    result = curate(str(tmp_path / "src"), tmp_path / "home",
                    CurateConfig(modality="multiview", options={"size": 12, "vae_factor": 1}), backend="local")
    assert result.counts["accepted"] == 1
    (tmp_path / "vae").mkdir()
    (tmp_path / "vae" / "config.json").write_text(json.dumps({"block_out_channels": [8, 8, 8, 8]}))  # 8x, config alone
    with pytest.raises(ValueError) as e:
        check_latent_grid(result.shard_uris, EncodeConfig(latent="sd15", vae=str(tmp_path / "vae")), "multiview")
    msg = str(e.value)
    assert "12x12" in msg and msg.endswith("curate the source again with --vae-factor 8 and options.size a multiple of 8 "
                                          "(--set options.size=N)")
    assert "--resize" not in msg
