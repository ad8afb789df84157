"""--model-overrides of a field the manifest's data sizes is refused in one line before any run:
'{"cap_dim": 64}' ended in get_config()'s "got multiple values for keyword argument" traceback."""

from __future__ import annotations

import pytest

from training.trainer import TrainConfig


@pytest.mark.parametrize("overrides, said", [
    ({"cap_dim": 64}, "model_overrides cannot set cap_dim: cap_dim comes from the manifest's caption features"),
    ({"in_channels": 8, "dim": 64}, "model_overrides cannot set in_channels: in_channels comes from the manifest's latents"),
])
def test_a_data_sized_field_is_refused(overrides, said):
    with pytest.raises(ValueError) as e:
        TrainConfig(manifest="m", model_overrides=overrides)
    assert str(e.value).startswith(said)


def test_other_overrides_stay_allowed():
    assert TrainConfig(manifest="m", model_overrides={"dim": 64, "n_layers": 2, "n_heads": 2}).model_overrides["dim"] == 64
