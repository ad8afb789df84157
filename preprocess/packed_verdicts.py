"""A candidate's verdicts, packed: what the curate driver holds for each input until its batch is written.

An image's ten VerdictRecords, the list and their scores were ~1.1 KB an input of Python heap in the
driver, which holds every candidate to the end of a run. Packed, the filter names, versions,
thresholds and passes are one tuple shared by every candidate with the same ones (most of a run's),
the scores one bytes object of float64s, and the key one reference: ~0.2 KB. It reads as the list it
replaces (iteration, len, indexing, ==, append, insert), each VerdictRecord made when read: every
value comes back as it went in, of the same type (an int score stays an int, -0.0 stays -0.0), so
the batch files and catalog rows are the same bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from contracts.records import VerdictRecord

SHARED_SHAPES_MAX = 1 << 14  # distinct shapes kept for sharing (per-input thresholds would fill it; then each keeps its own)
_shapes: dict[tuple, tuple] = {}


def _exact(x: Any) -> Any:
    """A dict key that tells apart what == does not: 1 from 1.0 and True, 0.0 from -0.0."""
    return struct.pack("<d", x) if type(x) is float else (type(x), x)


def _shared(shape: tuple) -> tuple:
    try:
        key = tuple((f, ver, _exact(t), _exact(p)) for f, ver, t, p in shape)
        got = _shapes.get(key)
    except TypeError:  # an unhashable threshold: its own
        return shape
    if got is None:
        if len(_shapes) < SHARED_SHAPES_MAX:
            _shapes[key] = shape
        return shape
    return got


class PackedVerdicts(Sequence):
    """VerdictRecords of one key, packed; or, where they are not all of one key, the records as they are."""

    __slots__ = ("key", "shape", "scores")

    def __init__(self, verdicts: Iterable[VerdictRecord] = ()):
        self._pack(list(verdicts))

    def _pack(self, verdicts: list[VerdictRecord]) -> None:
        key = verdicts[0].key if verdicts else None
        if any(type(v) is not VerdictRecord or v.key != key for v in verdicts):
            self.key, self.shape, self.scores = None, None, tuple(verdicts)
            return
        self.key = key
        self.shape = _shared(tuple((v.filter, v.version, v.threshold, v.passed) for v in verdicts))
        scores = [v.score for v in verdicts]
        # float64 bits keep every float (nan, -0.0); anything else (an int, None) stays as it is
        self.scores = struct.pack(f"<{len(scores)}d", *scores) if all(type(s) is float for s in scores) else tuple(scores)

    def _scores(self) -> tuple:
        s = self.scores
        return struct.unpack(f"<{len(s) // 8}d", s) if type(s) is bytes else s

    def __iter__(self) -> Iterator[VerdictRecord]:
        if self.shape is None:
            yield from self.scores
            return
        for (f, ver, t, p), s in zip(self.shape, self._scores()):
            yield VerdictRecord(self.key, f, ver, s, t, p)

    def __len__(self) -> int:
        return len(self.shape if self.shape is not None else self.scores)

    def __getitem__(self, i):
        items = list(self)
        return items[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple, PackedVerdicts)):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return repr(list(self))

    def __reduce__(self) -> tuple:
        return PackedVerdicts, (list(self),)

    def append(self, v: VerdictRecord) -> None:
        if self.shape is not None and type(v) is VerdictRecord and v.key == self.key \
                and type(self.scores) is bytes and type(v.score) is float:  # near-duplicate search's, on every candidate
            self.shape = _shared(self.shape + ((v.filter, v.version, v.threshold, v.passed),))
            self.scores += struct.pack("<d", v.score)
            return
        self._pack([*self, v])

    def insert(self, i: int, v: VerdictRecord) -> None:
        items = list(self)
        items.insert(i, v)
        self._pack(items)

    def extend(self, vs: Iterable[VerdictRecord]) -> None:
        self._pack([*self, *vs])


def pack_verdicts(cands: Iterable[Any]) -> None:
    """Each candidate's verdicts packed, in place (those packed already are left as they are)."""
    for c in cands:
        if type(c.verdicts) is list:
            c.verdicts = PackedVerdicts(c.verdicts)
