"""A negative classifier-free guidance scale was accepted: `lumina sample --cfg -1` wrote a sample
steered away from its prompt (u + w (c - u) with w < 0) and exited 0, and `lumina evaluate
--cfg-scale -2` scored one. Both are refused in one line naming the flag and the accepted range; 0
(the null caption's prediction alone) and 0 < w < 1 stay accepted."""

from __future__ import annotations

import pytest

from evaluation.config import EvalConfig, SampleConfig


@pytest.mark.parametrize("value", [-1.0, -0.5])
def test_sample_refuses_a_negative_guidance_scale(value):
    with pytest.raises(ValueError, match=rf"^--cfg must be a finite number, 0 or more \(0: as if no prompt were given; "
                                         rf"1: the prompt without guidance.*\); got {value}$") as e:
        SampleConfig(checkpoint="x", prompt="p", cfg=value)
    assert "\n" not in str(e.value)


def test_sample_refuses_it_given_as_cfg_scale_too():
    """cfg_scale: in --config or --set is sample's cfg: the refusal names --cfg, the flag it becomes."""
    with pytest.raises(ValueError, match=r"^--cfg must be a finite number, 0 or more"):
        SampleConfig(checkpoint="x", prompt="p", cfg_scale=-3.0)


def test_evaluate_refuses_it_naming_its_own_flag():
    with pytest.raises(ValueError, match=r"^--cfg-scale must be a finite number, 0 or more .*--cfg-scale 4 is the default"):
        EvalConfig(manifest="m", checkpoint="c", cfg_scale=-2.0)


@pytest.mark.parametrize("value", [0.0, 0.5, 1.0, 6.0])
def test_scales_of_0_and_more_pass(value):
    assert SampleConfig(checkpoint="x", prompt="p", cfg=value).cfg == value
    assert EvalConfig(manifest="m", checkpoint="c", cfg_scale=value).cfg_scale == value
