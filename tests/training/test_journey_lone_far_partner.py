"""A user's own multi-view corpus, stage 3 (2026-12-06 walkthrough): 16 sets of 8 views at 32 px
(584 tokens at patch 4), 11 of 6 views and 10 of 4 views at 48 px (942 and 628 tokens), trained at
--tokens-per-batch 2600. Every epoch ended on one 942-token set alone ("epoch 0: 13 batches, 2.8
samples per batch, 1 of one sample"), with no warning, although 942 is under half the budget: its
neighbours at the flush were a held full [942, 942] (three over the budget) and [628, 628] (too few
to re-split), and pair_lone looked no further. A full [628 x 4] could share: [628 x 3] + [628, 942]."""

from __future__ import annotations

import random

from training.buckets import BatchBudget, pair_lone, token_budget_batches
from training.stream import PLAN_VERSION


def test_a_lone_sample_finds_a_partner_beyond_its_neighbours():
    lengths = [584] * 16 + [942] * 11 + [628] * 10
    budget = BatchBudget(max_tokens=2600, max_samples=16)
    for seed in range(3):
        items = lengths[:]
        random.Random(seed).shuffle(items)
        batches = list(token_budget_batches(items, budget, lambda n: n))
        assert sorted(n for b in batches for n in b) == sorted(lengths)  # every sample once
        assert all(len(b) * max(b) <= 2600 for b in batches)
        assert [b for b in batches if len(b) == 1] == [], batches


def test_the_nearest_neighbour_still_wins_and_a_sample_no_partner_fits_stays_alone():
    budget = BatchBudget(max_tokens=2600, max_samples=16)
    # nearest: the [942, 942] is too full, [628, 628] too small: the 628 x 4 further out re-splits
    packs = [[584] * 4, [628] * 4, [628, 628], [942, 942], [942]]
    out = pair_lone(packs, budget, lambda n: n)
    assert sorted(map(sorted, out)) == sorted([[584] * 4, [628] * 3, [628, 942], [628, 628], [942, 942]]), out
    # where a neighbour takes it, the plan is plan 4's: the lone 942 joins [628, 628] (budget 3000)
    out = pair_lone([[584] * 4, [628, 628], [942]], BatchBudget(max_tokens=3000), lambda n: n)
    assert out == [[584] * 4, [628, 628, 942]], out
    # two of it over the budget: alone, whatever lies further out
    out = pair_lone([[100] * 3, [200, 200], [1400]], BatchBudget(max_tokens=2600), lambda n: n)
    assert out == [[100] * 3, [200, 200], [1400]], out
    assert PLAN_VERSION == 5  # a plan of version 4 resumes with the warning that its epoch is planned anew
