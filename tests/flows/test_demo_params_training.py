"""data_to_model's training parameters are checked with the others, before a flow starts: a negative
lr, a negative time cap or a model override that makes no model failed only at the train step,
after the corpus, curation and encoding (`lumina demo --set lr=-1`: 29 s of work on the image
demo, then a traceback in the flow's log and the one line)."""

from __future__ import annotations

import pytest

from flows.demo_params import check_params


@pytest.mark.parametrize("params, said", [
    ({"lr": -1.0}, "lr and grad_clip must be positive"),
    ({"lr": float("inf")}, "lr and weight_decay finite"),
    ({"train_max_seconds": -5.0}, "max_seconds must be positive"),
    ({"model_overrides": {"n_layers": 0}}, "n_layers"),
    ({"model": "flag-dit-nonesuch"}, "flag-dit-nonesuch"),
    ({"modality": "speech", "batch_size": -2}, "batch_size must be at least 1"),
    # a 0 was taken as "not given" and silently replaced by the demo's value (800 steps, lr 1e-3, batch 64)
    ({"train_steps": 0}, "steps must be at least 1"),
    ({"lr": 0.0}, "lr and grad_clip must be positive"),
    ({"batch_size": 0}, "batch_size must be at least 1"),
])
def test_a_training_parameter_no_run_could_use_is_refused_up_front(params, said):
    with pytest.raises(ValueError, match=said):
        check_params(params)


@pytest.mark.parametrize("params", [{}, {"lr": 1e-4, "train_steps": 5, "train_max_seconds": 30.0},
                                    {"modality": "video"}, {"modality": "speech"}, {"modality": "multiview"}])
def test_the_demos_own_training_settings_and_sensible_ones_pass(params):
    check_params(params)
