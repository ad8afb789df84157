"""A batch is one [B, ...] tensor or a list of B tensors of different shapes.

The solvers work on one flat vector; these helpers go there and back.
"""

from __future__ import annotations

from typing import Callable, Union

import torch

Batch = Union[torch.Tensor, list[torch.Tensor]]


def tree_map(fn: Callable[..., torch.Tensor], *batches: Batch) -> Batch:
    if isinstance(batches[0], torch.Tensor):
        return fn(*batches)
    return [fn(*items) for items in zip(*batches)]


def batch_size(x: Batch) -> int:
    return x.shape[0] if isinstance(x, torch.Tensor) else len(x)


def flatten(x: Batch) -> tuple[torch.Tensor, Callable[[torch.Tensor], Batch]]:
    """x -> (flat vector, unflatten)."""
    if isinstance(x, torch.Tensor):
        shape = x.shape
        return x.reshape(-1), lambda flat: flat.view(shape)
    shapes = [item.shape for item in x]
    sizes = [item.numel() for item in x]
    flat = torch.cat([item.reshape(-1) for item in x])
    return flat, lambda v: [part.view(s) for part, s in zip(v.split(sizes), shapes)]
