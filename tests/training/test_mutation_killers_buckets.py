"""Tests written from the surviving mutants of training/buckets.py (bench/mutation): what a user of
the token-budget batches would notice (a batch over its budget or its sample cap, a lost sample,
a batch held back, samples of very different lengths padded together)."""

import pytest

from training.buckets import BatchBudget, padding_fraction, token_budget_batches


def batches_of(lengths, **budget):
    return list(token_budget_batches(lengths, BatchBudget(**budget), lambda x: x))


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
    BatchBudget(max_samples=8, bucket_ratio=1.0001)  # just above 1 is fine


def test_the_shortest_lengths_keep_the_bucket_ratio():
    """One and two tokens are a ratio of 2: they are not batched together (50% [PAD] for the short one)."""
    assert batches_of([1, 2, 1, 2], max_samples=2) == [[1, 1], [2, 2]]


def test_an_empty_batch_has_no_padding():
    assert padding_fraction([]) == 0.0
    assert padding_fraction([3, 3]) == 0.0 and padding_fraction([1, 3]) == pytest.approx(1 / 3)
