"""Tests written from the surviving mutants of training/buckets.py (bench/mutation): what a user of
the token-budget batches would notice (a batch over its budget or its sample cap, a lost sample,
a batch held back, samples of very different lengths padded together)."""

import pytest

from collections import Counter

from training.buckets import BatchBudget, padding_fraction, pair_lone, token_budget_batches


def batches_of(lengths, **budget):
    return list(token_budget_batches(lengths, BatchBudget(**budget), lambda x: x))


def paired(packs, **budget):
    """pair_lone over packs of lengths, checked for what every plan keeps: each sample once, in budget."""
    b = BatchBudget(**budget)
    out = pair_lone([list(p) for p in packs], b, lambda x: x)
    assert Counter(x for p in out for x in p) == Counter(x for p in packs for x in p), out
    assert all(b.fits(len(p), max(p)) for p in out), out
    return out


def test_a_full_batch_holds_exactly_max_samples():
    assert batches_of([7] * 8, max_samples=4) == [[7] * 4, [7] * 4]
    assert batches_of([7] * 10, max_samples=4, bucket_ratio=None) == [[7] * 4, [7] * 4, [7] * 2]
    # a ninth sample is not left alone: the last full batch gives it a partner (pair_lone)
    assert batches_of([7] * 9, max_samples=4, bucket_ratio=None) == [[7] * 4, [7] * 2, [7] * 3]


def test_an_epochs_leftover_packs_hold_no_more_than_max_samples():
    """Lengths 100..109 are spread over 1.02 buckets none of which fills: all reach the end-of-epoch
    flush, close enough in length that only the sample cap closes a pack."""
    lengths = list(range(100, 110))
    batches = batches_of(lengths, max_samples=4)
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(x for b in batches for x in b) == lengths


def test_two_samples_over_the_token_budget_are_never_one_batch():
    """Only a single sample may exceed max_tokens (it cannot be split); two of 60 tokens under a
    budget of 100 go in two batches, as they arrive and as leftovers."""
    assert batches_of([60, 60], max_tokens=100) == [[60], [60]]
    assert batches_of([60, 61], max_tokens=100, bucket_ratio=None) == [[60], [61]]
    for b in batches_of([60, 60, 60, 30, 30, 30, 61], max_tokens=100):
        assert len(b) * max(b) <= 100 or len(b) == 1


def test_a_batch_leaves_as_soon_as_its_buckets_next_one_is_full():
    """The stream hands a full batch on once its bucket's next one fills (the latest is held back,
    so that the epoch's last can give a sample to a lone leftover), in the order batches fill: not
    when the next sample of its bucket happens to arrive, nor at the end of the epoch re-sorted by length."""
    assert batches_of([9, 9, 5, 5], max_samples=2) == [[9, 9], [5, 5]]
    read = []

    def source():
        for i in range(10):
            read.append(i)
            yield 5

    it = token_budget_batches(source(), BatchBudget(max_samples=3), lambda x: x)
    assert next(it) == [5, 5, 5] and len(read) == 6


def test_batches_of_exactly_min_samples_are_kept():
    """min_samples drops smaller batches only: full batches of exactly that size are trained on."""
    assert batches_of([5] * 4, max_samples=2, min_samples=2) == [[5, 5], [5, 5]]
    assert batches_of([5] * 5, max_samples=2, min_samples=2) == [[5, 5], [5, 5]]  # the odd one out is dropped


def test_a_bucket_ratio_of_one_is_refused_when_the_budget_is_made():
    """No two lengths would share a bucket of ratio 1 (and log(1) = 0 divides): a config error, said up front."""
    with pytest.raises(ValueError, match="bucket_ratio must be > 1"):
        BatchBudget(max_samples=8, bucket_ratio=1.0)
    with pytest.raises(ValueError, match="bucket_ratio must be > 1"):  # nan passed "<= 1" and failed at int(nan)
        BatchBudget(max_samples=8, bucket_ratio=float("nan"))
    BatchBudget(max_samples=8, bucket_ratio=1.0001)  # just above 1 is fine


def test_the_shortest_lengths_keep_the_bucket_ratio():
    """One and two tokens are a ratio of 2: they are not batched together (50% [PAD] for the short one)."""
    assert batches_of([1, 2, 1, 2], max_samples=2) == [[1, 1], [2, 2]]


def test_an_empty_batch_has_no_padding():
    assert padding_fraction([]) == 0.0
    assert padding_fraction([3, 3]) == 0.0 and padding_fraction([1, 3]) == pytest.approx(1 / 3)


# pair_lone (batch plan 5): which pack a lone sample joins at the end of an epoch. The plan is
# versioned (training/stream.py PLAN_VERSION): a resumed run replays it, so each choice below is
# part of the plan, ties included.


def test_each_bucket_holds_back_its_own_latest_full_batch():
    """A full batch of 5s must not push the 9s' held batch out: the epoch's last 9 re-splits with
    its own length, no [PAD] anywhere (one shared hold would pair it with the 5s instead)."""
    batches = batches_of([9, 9, 9, 5, 5, 5, 9], max_samples=3)
    assert batches == [[9, 9], [5, 5, 5], [9, 9]]
    assert all(padding_fraction(b) == 0.0 for b in batches)


def test_a_lone_sample_joins_the_pack_nearest_in_length_not_in_the_list():
    """The held full batches come first in the flush's list, in the order they filled: the lone 11
    re-splits with the 10s (1 [PAD] token), not with the 50s next to it in the list (39)."""
    assert batches_of([10, 10, 10, 50, 50, 50, 11], max_samples=3) == [[10, 10], [50, 50, 50], [10, 11]]


def test_the_shortest_sample_alone_is_kept_once():
    """A corpus of one sample is one batch of it; the shortest sample, beside a full pack that cannot
    take it, stays alone, once (it has no shorter neighbour: never paired with itself)."""
    assert batches_of([6], max_samples=4) == [[6]]
    assert batches_of([9, 9, 5], max_samples=2) == [[9, 9], [5]]
    assert paired([[6]], max_tokens=16) == [[6]]


def test_the_shortest_lone_sample_joins_the_pack_above_it():
    """[5] and [9, 9] are flushed apart (22% [PAD] together); the lone 5 then joins the 9s."""
    assert batches_of([5, 9, 9], max_samples=4) == [[5, 9, 9]]
    assert paired([[3], [3, 3, 3]], max_samples=8) == [[3, 3, 3, 3]]


def test_at_batch_size_two_two_lone_samples_share_a_batch():
    """Only max_samples 1 keeps every sample alone; at 2, a 5 and a 10 flushed apart are one batch."""
    assert batches_of([5, 10], max_samples=2) == [[5, 10]]
    assert batches_of([5, 10], max_samples=1) == [[5], [10]]


def test_a_lone_sample_never_makes_a_batch_over_the_token_budget():
    """[1, 2, 8] would be 3 x 8 = 24 padded tokens over a budget of 20: the 8 stays alone (its
    budget is its longest sample's, not the middle one's)."""
    batches = batches_of([1, 2, 8], max_tokens=20)
    assert batches == [[1, 2], [8]]
    assert all(len(b) * max(b) <= 20 for b in batches)


def test_the_nearest_workable_pack_above_wins():
    """The lone 5 joins [6, 6] just above it (1 [PAD]), not [50, 50] further out (90)."""
    assert paired([[5], [6, 6], [50, 50]], max_samples=3) == [[5, 6, 6], [50, 50]]


def test_the_neighbour_adding_the_fewest_pad_tokens_wins():
    """[1, 1, 10] would be the fewer padded tokens in all (30 against 33) but 18 of them [PAD];
    [10, 11, 11] adds 1."""
    assert paired([[1, 1], [10], [11, 11]], max_samples=3) == [[1, 1], [10, 11, 11]]


def test_at_equal_pad_the_fewest_packs_then_the_most_even():
    """Four 3s: one pack, not two of two. Six 7s at batch 5: three and three, not two and four."""
    assert paired([[3, 3, 3], [3]], max_samples=8) == [[3, 3, 3, 3]]
    assert paired([[7] * 5, [7]], max_samples=5) == [[7, 7, 7], [7, 7, 7]]


def test_a_re_split_puts_each_part_in_the_place_of_one_of_the_two_packs():
    """The lone 5 (listed after the held [9, 9, 9]) re-splits it: the shorter part takes the 5's
    place, the longer the held batch's; no sample lost or given twice."""
    batches = batches_of([9, 9, 9, 5], max_samples=3)
    assert batches == [[9, 9], [5, 9]]
    assert sorted(x for b in batches for x in b) == [5, 9, 9, 9]
    assert paired([[9, 9, 9], [5]], max_samples=3) == [[9, 9], [5, 9]]
    assert paired([[8], [1]], max_samples=3) == [[1, 8]]


def test_at_equal_pad_and_evenness_the_shorter_neighbour_takes_a_lone_sample():
    """The lone 3 between [2, 2, 2, 3] and [3, 5, 5]: both re-splits ([2, 2, 2] + [3, 3], or
    [3, 3] + [5, 5]) add no [PAD] and leave packs of two or more; the shorter neighbour's wins."""
    assert paired([[3], [2, 2, 2, 3], [3, 5, 5]], max_tokens=20, max_samples=5) == [[3, 3], [2, 2, 2], [3, 5, 5]]
