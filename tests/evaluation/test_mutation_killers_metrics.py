"""evaluate_image's bookkeeping against a judge and a generator whose answers we know, so no judge
is trained: which prompts are scored, against which labels, with which seeds, and what the grid
shows (the survivors of a mutation run over evaluation/image/metrics.py, bench/mutation/REPORT.md)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

import evaluation.image.metrics as metrics
from evaluation.image.judge import JudgeReport
from training.data import Example

from .fakes import fake_context


def _example(i: int, caption: str, value: float) -> Example:
    latent = torch.full((3, 2, 4, 4), value)
    latent[:, 1] = -value  # frame 1 differs: the grid shows frame 0
    return Example(f"k{i:03d}", latent, torch.zeros(2, 4), torch.ones(2, dtype=torch.bool), caption, "holdout")


class _ReadsTheDigit:
    """A judge that reads the digit a fake sample encodes as its first pixel, d / 10."""

    @staticmethod
    def predict(x: torch.Tensor) -> torch.Tensor:
        return (x[:, 0, 0, 0, 0] * 10).round().long()


def _run(examples, monkeypatch, tmp_path, answer=lambda d: d, as_list=False, grid_size=4, seed=5):
    """evaluate_image with a fake judge; the generator draws digit answer(d) for a prompt of digit d
    and a constant image (0.1 * position) for the grid."""
    seen = SimpleNamespace(train=None, generate=[])

    def fake_train_judge(images, labels, seed):
        seen.train = (images.clone(), labels.clone(), seed)
        return JudgeReport(_ReadsTheDigit(), 0.75, len(labels) - 1, 1)

    def generate(prompts, seed):
        seen.generate.append(([p.caption for p in prompts], seed))
        if len(seen.generate) == 1:  # the scored samples
            out = [torch.full((3, 2, 4, 4), answer(int(p.caption.split()[-1])) / 10) for p in prompts]
        else:  # the grid: sample i is 0.1 * i in frame 0, 0.9 in frame 1
            out = [torch.cat([torch.full((3, 1, 4, 4), 0.1 * i), torch.full((3, 1, 4, 4), 0.9)], 1)
                   for i in range(len(prompts))]
        return out if as_list else torch.stack(out)

    monkeypatch.setattr(metrics, "train_judge", fake_train_judge)
    ctx = fake_context(examples, generate, tmp_path, seed=seed, samples_per_class=2, grid_size=grid_size)
    scores, renders = metrics.evaluate_image(ctx)
    return scores, renders, seen


def _mixed() -> list[Example]:
    """Digits 2, 0, 1, two of each, among two captions that are not about a digit."""
    caps = ["a handwritten digit 2", "a red circle", "a handwritten digit 0", "a handwritten digit 1",
            "a blue square", "a handwritten digit 2", "a handwritten digit 0", "a handwritten digit 1"]
    return [_example(i, c, 0.05 * i) for i, c in enumerate(caps)]


@pytest.mark.parametrize("as_list", [False, True])
def test_accuracy_is_the_share_of_samples_judged_as_the_requested_digit(monkeypatch, tmp_path, as_list):
    # digits 0 and 1 drawn right, digit 2 drawn as a 3: 4 of 6 samples correct
    scores, _, seen = _run(_mixed(), monkeypatch, tmp_path, answer=lambda d: d + (d == 2), as_list=as_list)
    assert scores["class_accuracy"] == pytest.approx(4 / 6)
    assert scores["num_generated"] == 6.0  # 2 per class present
    assert scores["chance_accuracy"] == pytest.approx(1 / 3)  # three classes in the held-out set
    assert scores["judge_test_accuracy"] == 0.75  # the judge's own report, passed through
    assert set(scores) == {"class_accuracy", "num_generated", "chance_accuracy", "judge_test_accuracy"}


def test_a_faithful_generator_scores_one_and_an_unfaithful_one_zero(monkeypatch, tmp_path):
    assert _run(_mixed(), monkeypatch, tmp_path)[0]["class_accuracy"] == 1.0
    assert _run(_mixed(), monkeypatch, tmp_path, answer=lambda d: (d + 1) % 10)[0]["class_accuracy"] == 0.0


def test_the_judge_learns_the_digit_examples_with_their_labels_and_the_run_seed(monkeypatch, tmp_path):
    examples = _mixed()
    _, _, seen = _run(examples, monkeypatch, tmp_path, seed=11)
    images, labels, seed = seen.train
    assert labels.tolist() == [2, 0, 1, 2, 0, 1] and seed == 11
    digits = [e for e in examples if "digit" in e.caption]
    torch.testing.assert_close(images, torch.stack([e.latent for e in digits]))


def test_scored_prompts_cover_every_class_and_each_draw_has_its_own_seed(monkeypatch, tmp_path):
    _, _, seen = _run(_mixed(), monkeypatch, tmp_path, seed=5)
    (scored, scored_seed), (grid, grid_seed) = seen.generate
    assert scored == ["a handwritten digit 0"] * 2 + ["a handwritten digit 1"] * 2 + ["a handwritten digit 2"] * 2
    assert (scored_seed, grid_seed) == (6, 7)  # seed + 1 for the scores, seed + 2 for the grid
    # the grid: half digits, half other captions, in the held-out order
    assert grid == ["a handwritten digit 2", "a handwritten digit 0", "a red circle", "a blue square"]


def test_the_grid_shows_frame_0_of_each_sample_with_its_caption(monkeypatch, tmp_path):
    _, renders, _ = _run(_mixed(), monkeypatch, tmp_path)
    assert (renders["grid"], renders["grid_captions"]) == (str(tmp_path / "samples.png"), str(tmp_path / "samples.txt"))
    lines = open(renders["grid_captions"]).read().splitlines()
    assert lines == ["0,0: a handwritten digit 2", "0,1: a handwritten digit 0", "0,2: a red circle", "0,3: a blue square"]
    img = np.asarray(Image.open(renders["grid"]))
    assert img.shape == (6 * 4, 4 * 6 * 4, 3)  # one row of four 4x4 tiles (1-pixel border), upscaled 4x
    centres = [int(img[12, (6 * i + 3) * 4, 0]) for i in range(4)]
    assert centres == [round((0.1 * i + 1) * 127.5) for i in range(4)]  # frame 0 (0.1 i), not frame 1 (0.9)


def test_without_digit_captions_there_is_no_score_but_still_a_grid(monkeypatch, tmp_path):
    shapes = [_example(i, f"a shape number {i}", 0.0) for i in range(5)]
    scores, renders, seen = _run(shapes, monkeypatch, tmp_path)
    assert scores == {} and seen.train is None
    assert [c for c, _ in seen.generate] == [[f"a shape number {i}" for i in range(4)]]  # a full grid of others
    scores, renders, seen = _run(shapes, monkeypatch, tmp_path, grid_size=1)  # a grid of one: the first example
    assert [c for c, _ in seen.generate] == [["a shape number 0"]]
    assert open(renders["grid_captions"]).read() == "0,0: a shape number 0\n"
