"""What an interrupted curation had analysed, so running it again resumes instead of decoding every
input a second time (hours at millions of inputs).

Each chunk of inputs the analysis stage finishes is written to one file, named by the chunk's
inputs (names, sizes, modification times or content) and the curation settings: a chunk whose files
changed since, or a run with other options, finds no file and is analysed afresh. The journal is
deleted when a curation of the source completes (with those of its interrupted runs under other
settings); it is for resuming, not a cache across runs (`lumina refresh` is the incremental tool).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Any

from preprocess.sources import Entry, RawInput


def _entry_signature(e: Entry) -> str | None:
    """What says an entry still holds the bytes it held: size and mtime of its file (of its tar, with
    its offset), the hash of inline bytes. None when it cannot be told (the chunk is not journaled)."""
    how = e.loc[0] if e.loc else None
    if how in ("file", "tar"):
        try:
            st = os.stat(e.loc[1], follow_symlinks=False)
        except OSError:
            return None
        where = f"{e.loc[2]}@{e.loc[3]}+{e.loc[4]}" if how == "tar" else ""
        return f"{how}:{e.loc[1]}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:{where}"
    if how == "bytes":
        return "bytes:" + hashlib.sha256(e.loc[1]).hexdigest()
    return f"none:{e.kind}:{e.detail}"


def chunk_signature(items: list[RawInput]) -> str | None:
    h = hashlib.sha256()
    for item in items:
        h.update(f"\0input:{item.name}:{item.uri}".encode("utf-8", "surrogateescape"))
        for e in item.entries:
            sig = _entry_signature(e)
            if sig is None:
                return None
            text = e.text if e.text is not None else ""
            h.update(f"\0{e.name}:{e.size}:{sig}:{len(text)}:".encode("utf-8", "surrogateescape"))
            h.update(text.encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:32]


class AnalysisJournal:
    """A folder of pickled analysis results, one file per chunk signature."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = str(folder)

    def chunks_kept(self) -> int:
        try:
            return sum(1 for n in os.listdir(self.folder) if n.endswith(".pkl"))
        except OSError:
            return 0

    def load(self, key: str, expected: int) -> list[Any] | None:
        """The results of a chunk of `expected` inputs, or None (never written, unreadable, another shape)."""
        try:
            with open(os.path.join(self.folder, key + ".pkl"), "rb") as f:
                results = pickle.load(f)
        except Exception:  # noqa: BLE001 - a damaged journal file only costs analysing that chunk again
            return None
        return results if isinstance(results, list) and len(results) == expected else None

    def save(self, key: str, results: list[Any]) -> None:
        """Atomically: a run killed while writing leaves no half file that would load."""
        os.makedirs(self.folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(results, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, os.path.join(self.folder, key + ".pkl"))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
