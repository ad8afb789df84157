"""Token-budget batches: samples of similar sequence length, filled up to a token budget.

The model pads every sample of a batch to the longest one with [PAD], so a batch costs
``len(batch) * max(tokens)``. Samples go into buckets whose lengths differ by at most a ratio
(1.02: at most ~2% of a batch is [PAD]); a bucket leaves as a batch when one more sample would
exceed the budget. At the end of an epoch the leftovers are sorted by length and packed up to the
budget, a pack closing early only where the next sample would bring its [PAD] share above
FLUSH_MAX_PADDING. A small corpus, whose ratio buckets never fill, is all leftovers: packed within
the ratio, its batches held 1.3 samples of the speech demo's 8 (6 of 32 on the full demo corpus).

A pack of one sample is then given a partner where the budget allows (``pair_lone``): one
sample's gradient got a whole optimizer step, every epoch (the walkthrough's one 64x32 image among
20 of 32x32 at batch 16 took 15 of 45 steps alone). Each bucket's latest full batch is held back
until its next one fills, so that an epoch's last one can give a sample to a lone leftover (17
samples of one size at batch 16 were batches of 16 and 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")

# The [PAD] share an end-of-epoch pack may reach. Measured on three corpora: the speech smoke
# corpus (14 samples of 40-151 frames, batch 8): packs of 7, 6 and 1 samples (before: 1.3 on
# average); the full speech demo (305 samples, batch 32): full batches at a few % [PAD]; three
# image sizes of 10 samples each (272, 500 and 1568 tokens, batch 64): three packs of one size
# each, where one pack of all would be 64% [PAD].
FLUSH_MAX_PADDING = 0.2


@dataclass(frozen=True)
class BatchBudget:
    max_tokens: int | None = None  # padded tokens per global batch (len * max length); None: count samples
    max_samples: int | None = None  # samples per global batch; None: no cap besides the tokens
    bucket_ratio: float | None = 1.02  # longest / shortest length in a bucket; None: one bucket (no bucketing)
    min_samples: int = 1  # smaller leftover batches are dropped (the trainer keeps all: a rank without one runs a stand-in)

    def __post_init__(self) -> None:
        if self.max_tokens is None and self.max_samples is None:
            raise ValueError("a batch budget needs max_tokens or max_samples")
        if self.bucket_ratio is not None and not self.bucket_ratio > 1.0:  # nan too
            raise ValueError(f"bucket_ratio must be > 1 (or None for no bucketing), got {self.bucket_ratio}")

    def fits(self, n: int, longest: int) -> bool:
        """May a batch hold n samples whose longest has `longest` tokens?"""
        if self.max_samples is not None and n > self.max_samples:
            return False
        return self.max_tokens is None or n * longest <= self.max_tokens or n == 1


def padding_fraction(lengths: list[int]) -> float:
    """Share of a padded batch's tokens that are [PAD]."""
    return 1.0 - sum(lengths) / (len(lengths) * max(lengths)) if lengths else 0.0


class TokenBudgetBatcher(Generic[T]):
    """Feed items one at a time (``add``), then ``flush`` at the end of the stream.

    Deterministic: the same items in the same order give the same batches.
    """

    def __init__(self, budget: BatchBudget, length: Callable[[T], int]):
        self.budget, self.length = budget, length
        self.buckets: dict[int, list[T]] = {}
        self.longest: dict[int, int] = {}
        # each bucket's latest full batch, held back until the bucket's next one fills (then it
        # leaves) or the flush (where it may give a sample to a pack of one); in the order held
        self.held: dict[int, list[T]] = {}

    def bucket_of(self, n_tokens: int) -> int:
        ratio = self.budget.bucket_ratio
        return 0 if ratio is None else int(math.log(max(1, n_tokens)) / math.log(ratio))

    def add(self, item: T) -> list[list[T]]:
        n = self.length(item)
        b = self.bucket_of(n)
        bucket = self.buckets.setdefault(b, [])
        longest = max(self.longest.get(b, 0), n)
        out = []
        if bucket and not self.budget.fits(len(bucket) + 1, longest):
            out.append(bucket)
            bucket = self.buckets[b] = []
            longest = n
        bucket.append(item)
        self.longest[b] = longest
        if self.budget.max_samples is not None and len(bucket) == self.budget.max_samples:
            out.append(bucket)
            self.buckets[b], self.longest[b] = [], 0
        return [left for batch in out if (left := self._hold(b, batch)) is not None]

    def _hold(self, b: int, batch: list[T]) -> list[T] | None:
        """Hold `batch` (bucket b's newest full one); the one it replaces leaves."""
        left = self.held.pop(b, None)
        self.held[b] = batch
        return left

    def flush(self) -> list[list[T]]:
        """The held full batches (in the order they filled), then the leftovers sorted by length and
        packed up to the budget; with buckets, a pack also closes where the next sample would make
        more than FLUSH_MAX_PADDING of it [PAD] (sorted, the next one is the longest). A pack of
        one is then given a partner where the budget allows (``pair_lone``). Too-small packs are
        dropped."""
        rest = sorted((item for b in sorted(self.buckets) for item in self.buckets[b]), key=self.length)
        held = list(self.held.values())
        self.buckets, self.longest, self.held = {}, {}, {}
        bucketed = self.budget.bucket_ratio is not None
        packs: list[list[T]] = []
        tokens = 0  # real tokens in the open pack
        for item in rest:
            n = self.length(item)
            k = len(packs[-1]) + 1 if packs else 0
            if packs and self.budget.fits(k, n) and (not bucketed or 1 - (tokens + n) / (k * n) <= FLUSH_MAX_PADDING):
                packs[-1].append(item)
                tokens += n
            else:
                packs.append([item])
                tokens = n
        return [p for p in pair_lone(held + packs, self.budget, self.length) if len(p) >= self.budget.min_samples]


def pair_lone(packs: list[list[T]], budget: BatchBudget, length: Callable[[T], int]) -> list[list[T]]:
    """`packs` with each pack of one sample joined to a neighbour (the packs just shorter and just
    longer than it): merged into it, or re-split with it into two packs of two or more, whichever
    adds the fewest [PAD] tokens (``len * longest`` less the samples' own) within the budget, past
    FLUSH_MAX_PADDING if need be (an equal cost: the fewest packs, then the most even); where
    neither neighbour can, the packs next to those, and so on outwards. A sample no partner fits beside
    (two of it are over max_tokens, or max_samples is 1) stays alone. Packs keep their places in
    the list; one merged away is left out."""
    if budget.max_samples == 1:
        return packs

    def cost(parts: list[list[T]]) -> int:
        return sum(len(p) * length(p[-1]) for p in parts)  # each part sorted by length

    order = sorted(range(len(packs)), key=lambda i: (min(map(length, packs[i])), max(map(length, packs[i])), i))
    place = {i: at for at, i in enumerate(order)}
    packs = [list(p) for p in packs]
    for at, i in enumerate(order):
        if len(packs[i]) != 1 or not budget.fits(2, length(packs[i][0])):  # no partner ever fits beside it
            continue
        best = None  # ([PAD] tokens, -smallest part, side, split), slots, parts
        below, above = [j for j in order[at - 1::-1] if packs[j]] if at else [], [j for j in order[at + 1:] if packs[j]]
        # the nearest pack on each side first; where neither can take it (a full pack of the next
        # length beside it, a pack too short to re-split: plan 4 left a 942-token view set alone
        # at 2600 tokens beside [628, 628] and [942, 942], though [628 x 4] could share), each
        # pack further out, nearest first, until one can (plan 5)
        for depth in range(max(len(below), len(above))):
            for side, ahead in ((0, below), (1, above)):
                if depth >= len(ahead):
                    continue
                j = ahead[depth]
                both = sorted(packs[j] + packs[i], key=length)
                real = sum(map(length, both))  # padding, not the total: the two sides' packs differ in size
                cuts = [[both]] + [[both[:c], both[c:]] for c in range(2, len(both) - 1)]
                for c, parts in enumerate(cuts):
                    if all(budget.fits(len(p), length(p[-1])) for p in parts):
                        key = (cost(parts) - real, -min(map(len, parts)), side, c)
                        if best is None or key < best[0]:
                            best = key, (min(i, j, key=place.get), max(i, j, key=place.get)), parts
            if best is not None:
                break
        if best is not None:
            (low, high), parts = best[1], best[2]
            packs[low], packs[high] = (parts[0], []) if len(parts) == 1 else parts
    return [p for p in packs if p]


def token_budget_batches(items: Iterable[T], budget: BatchBudget, length: Callable[[T], int]) -> Iterator[list[T]]:
    batcher = TokenBudgetBatcher(budget, length)
    for item in items:
        for batch in batcher.add(item):
            if len(batch) >= budget.min_samples:
                yield batch
    yield from batcher.flush()
