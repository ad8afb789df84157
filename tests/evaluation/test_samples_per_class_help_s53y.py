"""`lumina evaluate --help` says what --samples-per-class does on each modality that uses it, and that
multi-view does not: a multi-view evaluation generates every held-out set (45 with
--samples-per-class 1 on the multiview demo), while the help promised 'generated per label' and
the catalog records the setting beside its figures."""

import dataclasses

from evaluation.config import EvalConfig


def test_the_help_says_multi_view_does_not_use_it():
    from flows.cli_config import field_comments

    [field] = [f for f in dataclasses.fields(EvalConfig) if f.name == "samples_per_class"]
    assert "multi-view: not used (every held-out set is generated)" in field_comments(EvalConfig)[field.name]


def test_a_multi_view_evaluation_does_not_read_it():
    import inspect

    import evaluation.multiview.metrics as metrics

    assert "samples_per_class" not in inspect.getsource(metrics)  # when it does, the help must say how
