"""`lumina sample --size 4096x4096` of a 32x32 model (4.2M tokens) ran for minutes to 9.7 GB with its
bar at 0. A sample of more than --max-size-factor (16) times the tokens of the longest training
sample, and over 16,384 tokens, is refused before any model loads, in one line naming the limit
and the flag that raises it."""

from __future__ import annotations

import pytest

import evaluation.evaluate as ev
from evaluation.sample import SampleConfig, check_sample_size, sample_to_files


@pytest.fixture
def no_model_load(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(ev, "load_checkpoint", refuse)


def test_an_absurd_size_is_refused_before_the_model_loads(tiny_checkpoint, tmp_path, no_model_load):
    # the tiny checkpoint: 32x32 identity latents, patch 4 with row separators: 8 x 9 = 72 tokens
    with pytest.raises(ValueError) as e:
        sample_to_files(SampleConfig(checkpoint=str(tiny_checkpoint), prompt="digit 3", out=str(tmp_path / "s.png"),
                                     size="4096x4096", steps=1))
    assert str(e.value) == ("4096x4096 is 1,049,600 tokens a sample, 14,578x the longest training sample's 72 (32x32), "
                            "above the limit of 16,384 (--max-size-factor 16 times that, at least 16,384; time and memory "
                            "grow with the square of the tokens): sample a smaller size, or raise --max-size-factor to "
                            "sample it anyway")
    assert not (tmp_path / "s.png").exists()


def test_the_limit_is_the_factor_times_the_training_tokens_or_the_floor(tiny_checkpoint):
    trained = [[3, 1, 32, 32]]  # 72 tokens
    check_sample_size(tiny_checkpoint, [3, 1, 480, 480], trained, 16.0)  # 120 x 121 = 14,520 tokens: under the floor
    with pytest.raises(ValueError, match="above the limit of 16,384"):
        check_sample_size(tiny_checkpoint, [3, 1, 512, 512], trained, 16.0)  # 128 x 129 = 16,512
    check_sample_size(tiny_checkpoint, [3, 1, 512, 512], trained, 300.0)  # raised: 21,600
    with pytest.raises(ValueError, match=r"above the limit of 21,600 \(--max-size-factor 300 times that"):
        check_sample_size(tiny_checkpoint, [3, 1, 600, 600], trained, 300.0)


def test_a_raised_factor_samples_it(tiny_checkpoint, tmp_path, monkeypatch):
    import evaluation.sample as sample

    monkeypatch.setattr(sample, "MIN_TOKEN_LIMIT", 100)  # the factor decides: 16 x 72 = 1,152 tokens
    cfg = dict(checkpoint=str(tiny_checkpoint), prompt="digit 3", out=str(tmp_path / "s.png"), size="64x544", steps=1)
    with pytest.raises(ValueError, match="64x544 is 2,192 tokens a sample"):  # 16 rows of 136 + 1
        sample_to_files(SampleConfig(**cfg))
    assert [p.name for p in sample_to_files(SampleConfig(**cfg, max_size_factor=40))] == ["s.png"]


@pytest.mark.parametrize("factor", [0, -1, float("nan")])
def test_a_factor_that_allows_nothing_is_refused(factor):
    with pytest.raises(ValueError, match="--max-size-factor must be above 0"):
        SampleConfig(checkpoint="c", prompt="p", max_size_factor=factor)
