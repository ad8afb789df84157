"""lumina encode --text-layer -7 with no --text is refused before a run is recorded (encode_step
checks the modality's default text encoder's layers with the paths)."""

import pytest


def test_encode_step_refuses_the_default_encoders_layer_before_a_catalog_exists(tmp_path):
    from flows.steps import encode_step
    from preprocess.encode import EncodeConfig

    with pytest.raises(ValueError, match="^--text-layer -7: the all-MiniLM-L6-v2 text encoder has 6 layer"):
        encode_step(str(tmp_path / "home"), "image", EncodeConfig(text_layer=-7), backend="local")
    assert not (tmp_path / "home" / "catalog.duckdb").exists()
