"""A refresh whose encoder paths hold no model is refused before it lists or curates anything
(the deployment's flow and `lumina refresh` both go through refresh_source)."""

from __future__ import annotations

import pytest

from flows.refresh import refresh_source
from preprocess.encode import EncodeConfig


def test_a_refresh_with_a_missing_vae_is_refused_before_it_curates(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.txt").write_text("a caption without its image")
    home = tmp_path / "home"
    with pytest.raises(FileNotFoundError, match=r"^--vae: no such file or folder: .*nothing$"):
        refresh_source(str(source), home, encode_cfg=EncodeConfig(latent="sd15", vae=str(tmp_path / "nothing")), backend="local")
    assert not home.exists()  # no catalog, no lock, no listing written
