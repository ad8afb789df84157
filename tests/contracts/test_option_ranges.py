"""Numeric options out of their range end in one line naming the option, before any work.

A NaN threshold compared false with every score, so it passed or failed every input without a word
(video min_motion NaN accepted every static clip); a negative or infinite one rejected everything
(multiview min_fill 2) or failed deep in a run (encode gpus_per_actor inf). NaN is refused for every
float option by the one config loader; each options class states its ranges with check_ranges.
"""

from __future__ import annotations

import dataclasses
import math
import typing

import pytest

from contracts.config import ConfigError, check_ranges, from_mapping, parse_assignments
from preprocess.encode import EncodeConfig
from preprocess.modality import get_plugin
from training.config import TrainConfig

OPTION_CLASSES = [get_plugin(m).options_cls for m in ("image", "video", "multiview", "speech")] + [EncodeConfig, TrainConfig]


def _float_fields(cls):
    hints = typing.get_type_hints(cls)
    return [f.name for f in dataclasses.fields(cls)
            if f.init and (hints[f.name] is float or float in typing.get_args(hints[f.name]))]


@pytest.mark.parametrize("cls", OPTION_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("nan", [math.nan, "nan", "--set .nan"])
def test_no_float_option_takes_nan(cls, nan):
    fields = _float_fields(cls)
    assert fields, cls  # the loop below checks something
    for name in fields:
        with pytest.raises(ConfigError, match=rf"\.{name}: expected a number, got"):
            from_mapping(cls, parse_assignments([f"{name}=.nan"]) if nan == "--set .nan" else {name: nan})


@pytest.mark.parametrize("modality, values, named", [
    ("image", {"max_aspect": 0.5}, "max_aspect must be >= 1, got 0.5"),
    ("image", {"colour_max_diff": -1}, "colour_max_diff must be >= 0"),
    ("image", {"max_tokens": 0}, "max_tokens must be >= 1"),
    ("image", {"quality": {"max_solid_fraction": 1.5}}, "max_solid_fraction must be between 0 and 1, got 1.5"),
    ("image", {"quality": {"min_sharpness": math.inf}}, "min_sharpness must be >= 0 and finite"),
    ("video", {"fps": math.inf}, "fps must be > 0 and finite, got inf"),
    ("video", {"min_motion": math.inf}, "min_motion must be >= 0 and finite"),
    ("video", {"scene_ratio": -2}, "scene_ratio must be >= 0"),
    ("multiview", {"min_fill": 2}, "min_fill must be between 0 and 1, got 2"),
    ("multiview", {"max_focal_spread": 0.9}, "max_focal_spread must be >= 1"),
    ("multiview", {"max_highlight_clip": -0.1}, "max_highlight_clip must be between 0 and 1"),
    ("multiview", {"min_views": 5, "max_views": 3}, r"min_views \(5\) must not exceed max_views \(3\)"),
    ("speech", {"max_clipping_ratio": 2}, "max_clipping_ratio must be between 0 and 1"),
    ("speech", {"target_lufs": -math.inf}, "target_lufs must be <= 0 and finite"),
    ("speech", {"min_snr_db": math.inf}, "min_snr_db must be finite"),
    ("speech", {"trim_top_db": 0}, "trim_top_db must be > 0"),
    ("speech", {"min_duration": 20}, r"min_duration \(20.0\) must not exceed max_duration \(15.0\)"),
    ("speech", {"min_phones_per_second": 40}, "min_phones_per_second .* must not exceed max_phones_per_second"),
])
def test_a_curation_option_out_of_range_is_named(modality, values, named):
    with pytest.raises(ConfigError, match=rf"^{modality} options(\.quality)?: .*{named}"):
        get_plugin(modality).options(values)


@pytest.mark.parametrize("cls, values, named", [
    (EncodeConfig, {"gpus_per_actor": math.inf}, "gpus_per_actor must be >= 0 and finite"),
    (EncodeConfig, {"batch_size": 0}, "batch_size must be >= 1"),
    # refused by the text encoder too, but on Ray only once Ray and the encoders had started (18.8 s)
    (EncodeConfig, {"max_tokens": 0}, "max_tokens must be >= 1"),
    (EncodeConfig, {"max_tokens": -3}, "max_tokens must be >= 1"),
    (TrainConfig, {"lr": math.inf}, "lr and weight_decay finite"),
    (TrainConfig, {"weight_decay": math.inf}, "lr and weight_decay finite"),
])
def test_an_encode_or_train_option_out_of_range_is_named(cls, values, named):
    with pytest.raises(ValueError, match=named):  # as the class raised it: the commands print its text
        from_mapping(cls, values)


@pytest.mark.parametrize("modality, values", [
    ("image", {"quality": {"max_solid_fraction": 1.0, "min_contrast": 0.0, "max_shadow_clip": 0}}),  # the ends: filters off
    ("image", {"max_aspect": 1, "max_pixels": 1, "phash_max_distance": 0, "colour_max_diff": math.inf}),
    ("video", {"max_seconds": math.inf, "scene_ratio": 0, "min_motion": 0}),  # no cap, every cut, no motion needed
    ("multiview", {"min_fill": 0, "min_views": 3, "max_views": 3, "same_pose_deg": 0}),
    ("speech", {"trim_top_db": math.inf, "silence_dbfs": -math.inf, "min_snr_db": -5, "min_duration": 1, "max_duration": 1}),
])
def test_the_ends_of_each_range_are_taken(modality, values):
    opts = get_plugin(modality).options(values)
    for name, value in values.items():
        got = getattr(opts, name)
        assert (dataclasses.asdict(got) | value == dataclasses.asdict(got)) if isinstance(value, dict) else got == value


def test_grad_clip_inf_is_no_clipping_and_taken():
    assert from_mapping(TrainConfig, {"grad_clip": math.inf}).grad_clip == math.inf


def test_every_default_is_in_range():
    for cls in OPTION_CLASSES:
        cls()  # raises if a default broke its own rule


def test_a_rule_check_ranges_cannot_read_is_a_programming_error():
    @dataclasses.dataclass
    class Opts:
        x: float = 1.0

    with pytest.raises(ValueError, match="unknown rule 'positive'"):
        check_ranges(Opts(), x="positive")
    check_ranges(Opts(), x="> 0 and finite")
    with pytest.raises(ValueError, match="x must be < 1, got 1.0"):
        check_ranges(Opts(), x="< 1")
