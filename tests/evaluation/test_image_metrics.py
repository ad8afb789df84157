"""The headline number: class accuracy of generated digits, checked against generators whose
answers we know."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from evaluation.context import EvalContext
from evaluation.image.metrics import evaluate_image
from training.data import Example


def _digit_examples(n: int = 500) -> list[Example]:
    from sklearn.datasets import load_digits

    from preprocess.image.demo_corpus import _upscale_digit

    d = load_digits()
    out = []
    for i in range(n):
        img = np.asarray(_upscale_digit(d.images[i]), dtype=np.float32) / 127.5 - 1
        latent = torch.from_numpy(img)[None, None].repeat(3, 1, 1, 1)  # [3, 1, 32, 32]
        y = int(d.target[i])
        out.append(Example(f"k{i:05d}", latent, torch.zeros(4, 8), torch.ones(4, dtype=torch.bool), f"a handwritten digit {y}", "holdout"))
    return out


class _Identity:
    @staticmethod
    def decode(z):
        return z


def _context(examples, generate, tmp_path):
    cfg = SimpleNamespace(seed=0, samples_per_class=5, grid_size=4, out_dir=str(tmp_path))
    ctx = EvalContext(model=None, null=None, examples=examples, cfg=cfg, decoder=_Identity())
    ctx.generate = generate  # a fake generator with known outputs
    return ctx


def test_accuracy_is_scored_against_the_requested_digits(tmp_path):
    examples = _digit_examples()
    by_label = {}
    for e in examples:
        by_label.setdefault(int(e.caption.split()[-1]), []).append(e)

    def faithful(prompts, seed):  # returns a real digit of the requested class, not the prompt's own image
        return torch.stack([by_label[int(p.caption.split()[-1])][-1].latent for p in prompts])

    def off_by_one(prompts, seed):  # always the next digit
        return torch.stack([by_label[(int(p.caption.split()[-1]) + 1) % 10][-1].latent for p in prompts])

    good, renders = evaluate_image(_context(examples, faithful, tmp_path))
    bad, _ = evaluate_image(_context(examples, off_by_one, tmp_path))
    assert good["judge_test_accuracy"] > 0.85
    assert good["class_accuracy"] >= 0.8  # the judge recognises real digits of the asked class
    assert bad["class_accuracy"] <= 0.2  # and refuses the wrong ones
    assert good["num_generated"] == 50 and good["chance_accuracy"] == 0.1
    assert (tmp_path / "samples.png").exists() and renders["grid"].endswith("samples.png")
