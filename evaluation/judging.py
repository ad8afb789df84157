"""What every judge shares: a small CNN classifier and its training loop.

Each modality's judge (``evaluation/<modality>/judge.py``) chooses its input, augmentation and
split; the network shape, the optimiser and the loop are the same for all of them, so a fix here
reaches every modality's scores alike.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import time
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from statistics import median
from typing import Callable, Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from evaluation.config import JUDGE_CACHE_ENV, judge_cache_limit

log = logging.getLogger(__name__)


class SmallCNN(nn.Module):
    """Three 3x3 convolution stages (16, 32, 32 channels, two 2x max-pools), an adaptive pool to
    ``head_grid`` and a linear head. ``stem``: a layer in front (e.g. pooling of mel pairs)."""

    def __init__(self, in_channels: int, num_classes: int, head_grid: tuple[int, int] = (4, 4), stem: nn.Module | None = None):
        super().__init__()
        self.net = nn.Sequential(
            *([stem] if stem is not None else []),
            nn.Conv2d(in_channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(head_grid),
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * head_grid[0] * head_grid[1], num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        self.eval()
        return self(x).argmax(-1)


def fit(judge: nn.Module, batch: Callable[[], tuple[torch.Tensor, torch.Tensor]], steps: int,
        lr: float = 3e-3, weight_decay: float = 1e-4) -> nn.Module:
    """``steps`` AdamW steps of cross-entropy on ``batch()`` -> (inputs, labels), drawn anew each step."""
    opt = torch.optim.AdamW(judge.parameters(), lr=lr, weight_decay=weight_decay)
    judge.train()
    for _ in range(steps):
        x, y = batch()
        loss = F.cross_entropy(judge(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return judge


MIN_JUDGED = 2  # a digit judge trains on some held-out examples and is tested on the others


def too_few_to_judge(n: int, what: str, metric: str) -> str | None:
    """The note for a held-out manifest with too few labelled examples to train and test a judge on
    (``lumina demo --num-digits 3`` holds out one digit: the judge's training batch was drawn from
    none, "random_ expects 'from' to be less than 'to'", and the whole evaluation failed); None when enough."""
    if n >= MIN_JUDGED:
        return None
    return (f"no {metric}: the judge trains on some held-out {what} and is tested on the others, and this evaluation "
            f"read {n} (at least {MIN_JUDGED}; a larger held-out manifest, or a larger --max-heldout); the held-out loss "
            f"and the samples are the measures here")


def holdout_split(n: int, test_fraction: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(test, train) indices of a random split by ``gen``; at least one test and one train example."""
    if n < MIN_JUDGED:
        raise ValueError(f"a judge needs at least {MIN_JUDGED} examples, one to train on and one to test, not {n}")
    n_test = min(max(1, int(n * test_fraction)), n - 1)
    perm = torch.randperm(n, generator=gen)
    return perm[:n_test], perm[n_test:]


def common_side(shapes) -> int | None:
    """The side of the square a judge reads samples of these [..., H, W] ``shapes`` at: None where
    they all share one H x W (read as they are: the demos' case), else the median over the samples
    of sqrt(H * W), at least 8 (two 2x pools). A judge batch is one size, and a held-out set of
    mixed sizes (a user's own images, 24x48 beside 48x32) ended in torch.stack's "stack expects each
    tensor to be equal size". A sample is scaled to the square whole, not cropped or padded: what is
    drawn to fill its frame still fills it (a digit of a 24x48 image is drawn 24x48)."""
    sizes = {tuple(s[-2:]) for s in shapes}
    if len(sizes) <= 1:
        return None
    return max(8, round(median(math.sqrt(s[-2] * s[-1]) for s in shapes)))


def at_side(x: torch.Tensor, side: int | None) -> torch.Tensor:
    """``x`` ([..., H, W]) scaled to side x side over its last two dimensions (bilinear, antialiased
    where it shrinks); ``side`` None, or already that size: ``x`` itself."""
    if side is None or tuple(x.shape[-2:]) == (side, side):
        return x
    lead = x.shape[:-2]
    flat = x.reshape(1, -1, *x.shape[-2:]).float()
    out = F.interpolate(flat, size=(side, side), mode="bilinear", align_corners=False, antialias=True)
    return out.reshape(*lead, side, side).to(x.dtype)


def stack_at(items, side: int | None) -> torch.Tensor:
    """One batch of ``items`` (tensors, or a batch tensor), each at ``side`` (``at_side``)."""
    return torch.stack([at_side(torch.as_tensor(x), side) for x in items])


# --------------------------------------------------------------------------- the judge cache
# A judge is trained from scratch on the real held-out examples by every evaluation (the image
# digit judge: 400 AdamW steps, ~14 s CPU), and ten evaluations of a run's checkpoints on one
# held-out manifest trained the same judge ten times. Its weights and report figures are kept
# under <workspace>/cache/judges/<key>.safetensors + <key>.json, keyed by a hash of everything that
# determines them (``judge_key``); a hit loads them without training.
#
# The cache is bounded: after each write, the judges used least recently (a hit touches its JSON) are
# removed until the folder holds at most $LUMINA_JUDGE_CACHE_MB MB (evaluation/config.judge_cache_limit:
# default 100, about 1200 judges of 70-90 KB; the judge just written always stays; 0: nothing is
# kept or read). Before, nothing was ever removed: the folder grew with every new held-out set, seed
# and judge version for as long as a team evaluated. Temporary files
# of a writer killed mid-write are removed once an hour old. A judge removed while another evaluation
# loads it fails that load with one warning, and that evaluation trains and writes it again.

FIT_VERSION = 1  # bump when SmallCNN or fit changes: every judge trained before is stale
CACHE_FORMAT = 1  # of the files below
_RNG = "__torch_rng_state__"  # the CPU generator's state after training, restored on a hit

_ENTRY = re.compile(r"^[0-9a-f]{32}\.(json|safetensors)$")  # what the cache writes; other files are left alone
_TMP = re.compile(r"^\.[0-9a-f]{32}\.(json|safetensors)\.\d+\.tmp$")
STALE_TMP_S = 3600.0  # a temporary file this old belongs to a writer that was killed

_cache_dir: ContextVar[Path | None] = ContextVar("judge_cache_dir", default=None)


@contextmanager
def judge_cache(cache_dir: str | os.PathLike | None) -> Iterator[None]:
    """Judges trained inside this block (``cached_fit``) are kept in, and loaded from, ``cache_dir``
    (None: trained every time, as a library call without a cache is)."""
    token = _cache_dir.set(Path(cache_dir) if cache_dir is not None else None)
    try:
        yield
    finally:
        _cache_dir.reset(token)


def _digest_into(h, value) -> None:
    """Feed ``value`` (tensors, lists/tuples of them, or JSON-able scalars) into hash ``h``, with
    its dtype and shape: the same bytes of another shape are another input."""
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes())
    elif isinstance(value, (list, tuple)):
        h.update(f"L{len(value)}".encode())
        for v in value:
            _digest_into(h, v)
    else:
        h.update(("S" + json.dumps(value, sort_keys=True)).encode())


def judge_key(judge: str, version, inputs: dict, args: dict) -> str:
    """The content hash a judge is cached under: the judge's qualified name and version (the
    caller's constants, bumped when its architecture or training changes), FIT_VERSION, torch's
    version and thread count (the same seed trains other weights at another thread count), every
    input tensor as the judge sees it and every argument (steps, seed, test_fraction, ...)."""
    h = hashlib.sha256()
    _digest_into(h, [judge, version, FIT_VERSION, CACHE_FORMAT, torch.__version__, torch.get_num_threads(),
                     sorted(args.items())])
    for name in sorted(inputs):
        h.update(name.encode())
        _digest_into(h, inputs[name])
    return h.hexdigest()[:32]


def cached_fit(judge: str, version, inputs: dict, args: dict, make: Callable[[], nn.Module],
               train: Callable[[], tuple[nn.Module, dict]], seed: int,
               cache_dir: str | os.PathLike | None = None) -> tuple[nn.Module, dict]:
    """``train()`` -> (trained judge, its report figures: JSON-able), or both from the cache.

    ``cache_dir``: where judges are kept (default: the ``judge_cache`` block's, else no cache:
    ``train()`` as ever). A hit builds ``make()``, loads the weights (the judge comes back in eval
    mode, as ``train()``'s does after its test predictions) and leaves torch's CPU generator as
    training left it, so what follows draws the same numbers. A miss trains and writes the weights,
    then the JSON, each by tmp + rename. A file that does not load, or whose key or judge differs,
    is ignored with one warning and written over. After a write, the least recently used judges go
    until the folder is within $LUMINA_JUDGE_CACHE_MB (``evict``); with 0 nothing is read or written."""
    cache = Path(cache_dir) if cache_dir is not None else _cache_dir.get()
    if cache is None or (limit := judge_cache_limit()) == 0:
        return train()
    key = judge_key(judge, version, inputs, args)
    weights, meta = cache / f"{key}.safetensors", cache / f"{key}.json"
    if meta.exists() or weights.exists():
        try:
            loaded = _load(weights, meta, key, judge, make)
        except Exception as e:  # noqa: BLE001 - a cut file, another judge's, a format of another version
            log.warning("judge cache: %s does not load (%s: %s): training the judge again and writing it over",
                        weights, type(e).__name__, (str(e).splitlines() or [""])[0])
        else:
            torch.manual_seed(seed)  # as train() seeds it (CUDA's generators too)
            torch.set_rng_state(loaded[2])
            try:
                os.utime(meta)  # used now: the last to be evicted
            except OSError:  # a read-only cache: still a hit
                pass
            log.info("judge: loaded from cache %s", weights)
            return loaded[0], loaded[1]
    model, figures = train()
    try:
        _save(model, figures, weights, meta, key, judge)
        log.info("judge: trained and cached in %s", weights)
    except OSError as e:  # a read-only workspace: the evaluation goes on without a cache
        log.warning("judge cache: could not write %s (%s): the judge is trained again next time", weights, e)
    else:
        evict(cache, limit, keep=key)
    return model, figures


def evict(cache: Path, limit: int, keep: str | None = None) -> int:
    """Remove the judges of ``cache`` used least recently (their files' newest mtime: written, or
    touched by a hit) until the judges there take at most ``limit`` bytes; ``keep`` (a key) stays
    whatever its size. Temporary files older than STALE_TMP_S go too; files the cache did not write
    are neither counted nor touched. Returns how many judges were removed."""
    now, entries = time.time(), {}
    try:
        names = os.listdir(cache)
    except OSError:
        return 0
    for name in names:
        path = cache / name
        try:
            st = path.stat()
        except OSError:  # removed meanwhile by another evaluation's eviction
            continue
        if _TMP.match(name):
            if now - st.st_mtime > STALE_TMP_S:
                path.unlink(missing_ok=True)
            continue
        if _ENTRY.match(name):
            used, size, paths = entries.get(path.stem, (0.0, 0, []))
            entries[path.stem] = (max(used, st.st_mtime), size + st.st_size, [*paths, path])
    total, removed = sum(size for _, size, _ in entries.values()), 0
    for stem, (_, size, paths) in sorted(entries.items(), key=lambda kv: kv[1][0]):
        if total <= limit:
            break
        if stem == keep:
            continue
        try:
            for path in paths:
                path.unlink(missing_ok=True)
        except OSError as e:  # a cache shared read-only: leave it as it is
            log.warning("judge cache: could not remove %s (%s): it holds %.1f MB, over %s=%g", path, e, total / 1e6,
                        JUDGE_CACHE_ENV, limit / 1e6)
            break
        total -= size
        removed += 1
    if removed:
        log.info("judge cache: removed the %d judge(s) used least recently, to stay within %s=%g MB (%s)", removed,
                 JUDGE_CACHE_ENV, limit / 1e6, cache)
    return removed


def _load(weights: Path, meta: Path, key: str, judge: str, make) -> tuple[nn.Module, dict, torch.Tensor]:
    from safetensors.torch import load_file

    info = json.loads(meta.read_text())
    if info.get("key") != key or info.get("judge") != judge or info.get("format") != CACHE_FORMAT:
        raise ValueError(f"it holds {info.get('judge')} under key {info.get('key')}, not {judge} under {key}")
    tensors = load_file(str(weights))
    rng = tensors.pop(_RNG)
    model = make()
    model.load_state_dict(tensors, strict=True)
    return model.eval(), info["figures"], rng


def _save(model: nn.Module, figures: dict, weights: Path, meta: Path, key: str, judge: str) -> None:
    from safetensors.torch import save_file

    from contracts.layout import readable_as_umask_allows

    weights.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors[_RNG] = torch.get_rng_state()
    for path, write in ((weights, lambda p: save_file(tensors, str(p))),
                        (meta, lambda p: p.write_text(json.dumps({"format": CACHE_FORMAT, "key": key, "judge": judge,
                                                                   "figures": figures}, indent=1)))):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            write(tmp)
            readable_as_umask_allows(tmp)  # safetensors writes 0600: a team's shared workspace reads it too
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
