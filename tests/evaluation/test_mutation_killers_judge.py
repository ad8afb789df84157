"""The digit judge's parts, each on inputs small enough to train in a second: caption parsing, the
grey conversion, the architecture's documented sizes, the random shift, the seeded split and the
held-out accuracy (the survivors of a mutation run over evaluation/image/judge.py)."""

from __future__ import annotations

import pytest
import torch

from evaluation.image.judge import DigitJudge, _shift, digit_label, to_grey, train_judge


@pytest.mark.parametrize("caption,label", [
    ("a handwritten digit 0", 0), ("digit 9, bold", 9), ("a digit 12", None), ("the digits 3", None),
    ("", None), (None, None), ("a red circle", None),
])
def test_digit_label_reads_one_whole_digit_after_the_word(caption, label):
    assert digit_label(caption) == label


def test_grey_is_the_channel_mean_of_the_first_frame():
    x = torch.zeros(2, 3, 2, 1, 1)
    x[:, :, 0, 0, 0] = torch.tensor([0.3, 0.6, 0.9])  # frame 0
    x[:, :, 1] = 5.0  # frame 1 must not count
    grey = to_grey(x)
    assert grey.shape == (2, 1, 1, 1)
    torch.testing.assert_close(grey.flatten(), torch.full((2,), 0.6))
    torch.testing.assert_close(to_grey(x[:, :, 1]), torch.full((2, 1, 1, 1), 5.0))  # 4-D: no frame axis


def test_judge_keeps_the_documented_feature_sizes():
    """'Same' convolutions, each pooling halves: 32 -> 16 -> 8 -> 4 (channel counts may change)."""
    judge = DigitJudge(num_classes=7)
    sizes = []
    for i in (1, 2, 4, 5, 7, 8):  # after each convolution (its ReLU) and each pooling
        judge.net[i].register_forward_hook(lambda mod, args, out: sizes.append(tuple(out.shape[-2:])))
    out = judge(torch.zeros(3, 3, 1, 32, 32))
    assert sizes == [(32, 32), (16, 16), (16, 16), (8, 8), (8, 8), (4, 4)]
    assert out.shape == (3, 7)
    assert DigitJudge()(torch.zeros(1, 1, 32, 32)).shape == (1, 10)  # ten digits by default


def test_judge_uses_dropout_in_training_only():
    torch.manual_seed(0)
    judge = DigitJudge()
    x = torch.randn(8, 1, 16, 16)
    with torch.no_grad():
        judge.train()
        assert not torch.equal(judge(x), judge(x))
        judge.eval()
        assert torch.equal(judge(x), judge(x))


def test_predict_is_the_argmax_in_eval_mode_whatever_the_mode_before():
    torch.manual_seed(0)
    judge = DigitJudge().train()  # dropout on: predict must switch it off
    x = torch.randn(16, 1, 16, 16)
    first = judge.predict(x)
    judge.train()
    assert torch.equal(judge.predict(x), first) and not judge.training
    with torch.no_grad():
        assert torch.equal(first, judge(x).argmax(-1))


def test_shift_rolls_by_up_to_two_pixels_on_each_axis_independently():
    img = torch.zeros(1, 1, 9, 9)
    img[0, 0, 4, 4] = 1.0
    gen = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(400):
        out = _shift(img, gen)
        assert out.sum() == 1.0 and out.max() == 1.0  # a roll: nothing lost, nothing added
        r, c = divmod(int(out.flatten().argmax()), 9)
        seen.add((r - 4, c - 4))
    assert seen == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}
    video = torch.zeros(1, 1, 1, 9, 9)  # [B, C, T, H, W]: rows and columns move, not frames
    video[..., 4, 4] = 1.0
    moved = {divmod(int(_shift(video, gen).flatten().argmax()), 9) for _ in range(200)}
    assert {r for r, _ in moved} == set(range(2, 7)) and {c for _, c in moved} == set(range(2, 7))
    # the draws come from the generator given, not the global RNG
    torch.manual_seed(1)
    a = [_shift(img, torch.Generator().manual_seed(9)) for _ in range(5)]
    torch.manual_seed(2)
    b = [_shift(img, torch.Generator().manual_seed(9)) for _ in range(5)]
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    wide = _shift(torch.arange(25.0).view(1, 1, 5, 5), torch.Generator().manual_seed(1), max_shift=0)
    assert torch.equal(wide, torch.arange(25.0).view(1, 1, 5, 5))  # max_shift 0: no move


def _bars(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """8 x 8 [-1, 1] images: class 3 a horizontal bar, class 8 a vertical one, a little noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.tensor([3, 8] * (n // 2))
    x = torch.full((n, 3, 1, 8, 8), -1.0) + 0.1 * torch.randn(n, 3, 1, 8, 8, generator=g)
    x[labels == 3, :, :, 3:5, :] = 1.0
    x[labels == 8, :, :, :, 3:5] = 1.0
    return x, labels


def test_judge_scores_only_the_held_out_quarter():
    x, labels = _bars(40)
    report = train_judge(x, labels, steps=15, seed=3)
    assert (report.num_train, report.num_test) == (30, 10)
    assert report.test_accuracy == 1.0
    # the seed's split: relabel exactly its held-out quarter wrongly and the score falls to zero,
    # so the score is measured on those examples and the judge learnt from the others
    test_idx = torch.randperm(40, generator=torch.Generator().manual_seed(3))[:10]
    wrong = labels.clone()
    wrong[test_idx] = 11 - wrong[test_idx]  # 3 <-> 8
    assert train_judge(x, wrong, steps=15, seed=3).test_accuracy == 0.0


def test_small_sets_keep_one_held_out_example_and_fractions_are_honoured():
    x, labels = _bars(4)
    assert train_judge(x, labels, steps=1).num_test == 1  # int(4 * 0.25) = 1
    x, labels = _bars(6)
    report = train_judge(x, labels, steps=1)
    assert (report.num_train, report.num_test) == (5, 1)  # int(1.5) = 1
    report = train_judge(x, labels, test_fraction=0.1, steps=1)
    assert (report.num_train, report.num_test) == (5, 1)  # int(0.6) = 0: at least one
    report = train_judge(x, labels, test_fraction=0.5, steps=1)
    assert (report.num_train, report.num_test) == (3, 3)


def test_training_is_reproducible_from_the_seed():
    x, labels = _bars(12)

    def weights(seed: int) -> torch.Tensor:
        judge = train_judge(x, labels, steps=3, seed=seed).judge
        return torch.cat([p.detach().flatten() for p in judge.parameters()])

    torch.manual_seed(123)
    a = weights(4)
    torch.manual_seed(456)  # the global RNG state before the call must not matter
    assert torch.equal(weights(4), a)
    assert not torch.equal(weights(5), a)
    default = torch.cat([p.detach().flatten() for p in train_judge(x, labels, steps=3).judge.parameters()])
    assert torch.equal(default, weights(0))  # the default seed is 0


def test_training_takes_the_given_number_of_steps_on_batches_of_64(monkeypatch):
    x, labels = _bars(8)
    calls = []
    real = DigitJudge.forward
    monkeypatch.setattr(DigitJudge, "forward", lambda self, inp: calls.append(len(inp)) or real(self, inp))
    train_judge(x, labels, steps=3)
    assert calls == [64, 64, 64, 2]  # three training batches, then the held-out pair


def test_default_training_is_400_steps(monkeypatch):
    x, labels = _bars(8)
    calls = []

    def cheap_forward(self, inp):  # the real loop and optimiser around a forward that costs nothing
        calls.append(len(inp))
        return self.net[-1](torch.zeros(len(inp), self.net[-1].in_features))

    monkeypatch.setattr(DigitJudge, "forward", cheap_forward)
    train_judge(x, labels)
    assert len(calls) == 400 + 1  # the steps, then the held-out predictions
