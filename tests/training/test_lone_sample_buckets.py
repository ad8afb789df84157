"""Batches of one sample (buckets.pair_lone, the held-back full batch): a lone sample's gradient got
a whole optimizer step every epoch. The walkthrough's manifest of 20 images at 32x32 and one at
64x32 (272 and 528 tokens), at batch 16 under 8192 tokens, was planned [16, 1, 4] every epoch:
15 of 45 steps for 1 of 21 samples, their grad norm 1.80 against 1.17."""

from __future__ import annotations

import random

import pytest

from training.buckets import BatchBudget, token_budget_batches


def batches_of(lengths, **budget):
    return list(token_budget_batches(lengths, BatchBudget(**budget), lambda x: x))


def costs(batches):
    return sum(len(b) * max(b) for b in batches)


@pytest.mark.parametrize("seed", range(5))
def test_a_lone_image_size_gets_a_partner_at_the_fewest_padded_tokens(seed):
    lengths = [272] * 20 + [528]
    random.Random(seed).shuffle(lengths)
    batches = batches_of(lengths, max_tokens=8192, max_samples=16)
    assert sorted(x for b in batches for x in b) == sorted(lengths)
    assert sorted(map(len, batches)) == [2, 3, 16]  # not [1, 4, 16]: 528 beside a 272 (merged into the 4: 5 x 528)
    assert [b for b in batches if 528 in b] == [[272, 528]]
    assert costs(batches) == 19 * 272 + 2 * 528
    # no token budget, batch 64 (the walkthrough's second run): [20, 1] was the plan
    assert sorted(map(len, batches_of(lengths, max_samples=64))) == [2, 19]


def test_one_sample_past_a_multiple_of_the_batch_size_is_not_alone():
    """17 samples of one size at batch 16 were batches of 16 and 1: the 16 is held back until the
    epoch's end, and shares with the 17th, evenly at the same cost."""
    assert [len(b) for b in batches_of([5] * 17, max_samples=16)] == [8, 9]
    assert [len(b) for b in batches_of([5] * 65, max_samples=64)] == [32, 33]
    assert [len(b) for b in batches_of([5] * 33, max_samples=16)] == [16, 8, 9]  # only the last full one shares


def test_a_sample_no_partner_fits_beside_stays_alone_within_the_budget():
    """Two of a 60-token sample exceed a budget of 100: it trains alone (the trainer warns), and no
    repair puts two samples over the budget. Batch size 1 asks for batches of one."""
    batches = batches_of([60, 30, 60, 30, 61, 30], max_tokens=100)
    assert sorted(b for b in batches if len(b) == 1) == [[60], [60], [61]]
    assert all(len(b) * max(b) <= 100 for b in batches if len(b) > 1)
    assert all(len(b) == 1 for b in batches_of([5, 6, 7], max_samples=1))


def test_pair_lone_merges_where_that_is_cheapest_and_keeps_the_places():
    from training.buckets import pair_lone

    packs = [[10, 10], [30], [100, 100]]  # 30 beside the 10s: 3 x 30 = 90 padded; beside the 100s: 300
    assert pair_lone(packs, BatchBudget(max_samples=8), lambda x: x) == [[10, 10, 30], [100, 100]]
    assert pair_lone([[7], [7]], BatchBudget(max_samples=8), lambda x: x) == [[7, 7]]
    assert pair_lone([[7]], BatchBudget(max_samples=8), lambda x: x) == [[7]]  # nobody to pair with


def test_the_sample_cap_still_holds_when_a_lone_sample_is_merged():
    for n in range(2, 40):
        for b in batches_of([5] * n + [6], max_samples=4):
            assert 2 <= len(b) <= 4


def test_a_lone_sample_joins_the_side_that_adds_the_least_padding_not_the_smaller_pack():
    """Comparing the two sides' total padded tokens favoured the smaller neighbour: a lone 100 beside
    fifteen 100s and two 200s went to the 200s (100 [PAD] tokens) instead of the 100s (none)."""
    from training.buckets import BatchBudget, pair_lone

    packs = pair_lone([[100] * 15, [100], [200, 200]], BatchBudget(max_samples=16), lambda x: x)
    assert packs == [[100] * 16, [200, 200]]
