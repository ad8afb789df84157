"""`lumina sample --text-path DIR` with a folder that holds no encoder: the line named `--text minilm`,
`lumina encode`'s flag, while in `lumina sample` `--text` is speech's prompt (helper J's journey)."""

from __future__ import annotations

import pytest


def test_a_wrong_text_path_is_named_as_text_path(tiny_checkpoint, tmp_path):
    from evaluation.sample import SampleConfig, sample_to_files

    empty = tmp_path / "not_an_encoder"
    empty.mkdir()
    cfg = SampleConfig(checkpoint=str(tiny_checkpoint), prompt="a digit", out=str(tmp_path / "a.png"), steps=1,
                       text_path=str(empty))
    with pytest.raises(ValueError) as caught:
        sample_to_files(cfg)
    assert str(caught.value) == (f"--text-path (minilm text encoder): {empty} has no config.json (expected a folder "
                                 "written by save_pretrained)")
