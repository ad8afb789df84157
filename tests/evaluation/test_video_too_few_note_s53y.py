"""A held-out manifest of one demo-form clip ('a 2 moving down'): the evaluation said both that one
clip is too few to judge and that "none of the 1 does" name a digit and its motion (e.g. 'a 2 moving
down'), the second note contradicting the first and its own example, in metrics.json and the log.
Found with `lumina evaluate --manifest m-one` (one held-out key) on a video demo checkpoint."""

from __future__ import annotations

from .fakes import fake_context
from .test_mixed_size_judges import _clip_examples


def test_one_labelled_clip_is_said_too_few_not_unlabelled(tmp_path):
    from evaluation.video.metrics import evaluate_video

    ctx = fake_context(_clip_examples()[:1], lambda prompts, seed: [e.latent for e in prompts], tmp_path, samples_per_class=1)
    evaluate_video(ctx)
    assert [n for n in ctx.notes if n.startswith("no digit or direction accuracy") and "read 1 (at least 2;" in n]
    assert not [n for n in ctx.notes if "none of the 1 does" in n], ctx.notes
