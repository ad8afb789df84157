"""--text-layer out of range with no --text: the modality's default text encoder (MiniLM, the phones
for speech) has its layers checked before a run, Ray or the model starts. The check looked only at
an explicit --text, so `lumina encode --text-layer -7` loaded Ray and MiniLM (7 s) and recorded a
failed encode run before the actors refused it."""

from __future__ import annotations

import pytest

from preprocess.encode import EncodeConfig, encode


@pytest.mark.parametrize("modality, layer, said", [
    ("image", -7, "the all-MiniLM-L6-v2 text encoder has 6 layer(s)"),
    ("image", 0, "the all-MiniLM-L6-v2 text encoder has 6 layer(s)"),
    ("speech", -2, "the phone encoder has no layers"),
])
def test_the_default_encoders_layers_are_checked_with_the_paths(modality, layer, said):
    with pytest.raises(ValueError, match=f"^--text-layer {layer}: ") as e:
        EncodeConfig(text_layer=layer).check_paths(modality)
    assert said in str(e.value)
    EncodeConfig(text_layer=-6).check_paths("image")  # in range


def test_encode_refuses_it_before_looking_for_shards_or_starting_ray(tmp_path):
    with pytest.raises(ValueError, match="^--text-layer -7: the all-MiniLM-L6-v2 text encoder has 6 layer"):
        encode(tmp_path / "home", "image", EncodeConfig(text_layer=-7), backend="ray")
