"""What is wrong with a .safetensors file that does not load, read from its header alone.

safetensors' own error is one line for a file too short and one too long alike ('incomplete metadata,
file not fully covered') and names no file: a checkpoint check (training/state.py), `lumina sample
--weights raw` and `lumina convert` say instead which it is, so a file with bytes after its data is
not called cut short. Plain Python: it imports no torch."""

from __future__ import annotations

import json
import os
from pathlib import Path

MAX_SAFETENSORS_HEADER = 100_000_000  # bytes: safetensors' own limit (MAX_HEADER_SIZE); it refuses longer headers


def safetensors_problem(path: str | os.PathLike) -> str | None:
    """Why a safetensors file cannot be loaded (missing, cut short, bytes after its data, a header that
    is not one), or None. Reads only the header: the file's size must be what the header describes,
    as the loader requires."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                return f"{size} bytes, shorter than a safetensors header"
            n = int.from_bytes(head, "little")
            if n > MAX_SAFETENSORS_HEADER:  # random bytes or another format: "cut short" misled there
                return f"not a safetensors file (its first 8 bytes give a header of {n} bytes, more than safetensors allows)"
            if 8 + n > size:
                return f"cut short: {size} bytes, but its header alone says {8 + n}"
            header = json.loads(f.read(n))
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError) as e:  # unreadable, or a header that is not JSON
        return f"not a safetensors file ({type(e).__name__}: {_first_line(e)})"
    if not isinstance(header, dict):
        return "not a safetensors file (its header is not a table)"
    try:
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except (TypeError, KeyError, IndexError, ValueError):
        return "not a safetensors file (its header has no data offsets)"
    return _size_problem(size, 8 + n + end)


def _size_problem(size: int, described: int) -> str | None:
    if size < described:
        return f"cut short: {size} bytes where its header describes {described}"
    if size > described:  # appended to, or written over a longer file without truncating it
        extra = size - described
        return (f"{extra} extra byte{'s' if extra > 1 else ''} after its data: {size} bytes where its header "
                f"describes {described} (appended to, or written over a longer file?)")
    return None


def load_failure(path: str | os.PathLike, error: BaseException) -> str:
    """Why safetensors could not load ``path``, for a message naming it: what its header shows when
    that says (`safetensors_problem`), else safetensors' own error."""
    if found := safetensors_problem(path):
        return found
    return f"{type(error).__name__}: {_first_line(error)}" if str(error) else type(error).__name__  # not "E: E"


def _first_line(e: BaseException) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__
