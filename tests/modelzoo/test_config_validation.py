"""FlagDiTConfig refuses sizes that build no model, and get_config's errors read as one line."""

import pytest

from modelzoo.config import FlagDiTConfig, get_config


@pytest.mark.parametrize("field, value", [("n_layers", 0), ("dim", 0), ("n_heads", 0), ("in_channels", 0),
                                          ("multiple_of", 0), ("n_kv_heads", 0), ("n_layers", -1), ("dim", 64.0),
                                          ("cap_dim", -1), ("frame_cond_dim", -2), ("num_classes", -1)])
def test_sizes_that_build_no_model_are_refused(field, value):
    """n_layers 0 trained and published a model without blocks; n_heads 0 divided by zero."""
    with pytest.raises(ValueError, match=f"{field} must be a"):
        get_config("flag-dit-tiny", **{field: value})


def test_an_unknown_preset_reads_without_quotes_and_is_still_a_key_error():
    with pytest.raises(KeyError) as e:
        get_config("flag-dit-xx")
    assert isinstance(e.value, ValueError)  # the command lines print ValueErrors as one line
    assert str(e.value).startswith("unknown model 'flag-dit-xx'") and "flag-dit-tiny" in str(e.value)


def test_an_unknown_field_names_the_closest_and_every_field():
    with pytest.raises(TypeError) as e:  # as before: an unknown keyword
        get_config("flag-dit-tiny", dims=32, zzz=1)
    assert isinstance(e.value, ValueError)
    msg = str(e.value)
    assert msg.startswith("unknown FlagDiTConfig fields 'dims' (did you mean 'dim'?), 'zzz'; the fields: in_channels, ")
    assert "frame_cond_dim" in msg


def test_zero_where_zero_means_none_is_fine():
    cfg = get_config("flag-dit-tiny", cap_dim=0, num_classes=0, frame_cond_dim=0, n_kv_heads=None)
    assert FlagDiTConfig.from_dict(cfg.to_dict()) == cfg
