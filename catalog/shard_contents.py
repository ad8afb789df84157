"""Registered shards on disk against the catalog, byte for byte, for `lumina catalog check --shards`.

    shard_files_missing  a shard the catalog registers is not on disk (deleted, moved, a disk gone)
    shard_files_changed  it is there but not what was registered: another size, or the same size and
                         another sha256 (bit rot, a copy cut short and padded, a tool that wrote it
                         again in place)

The trainer checks the encoded shards' sizes before it starts (training/stream.py check_shards)
but never their content, which would cost a whole read of the corpus per run: flipped bytes inside
a float tensor load fine and train on wrong numbers. This check reads every byte once, on request
(sha256 runs at about 0.35 GB/s on one core here; the files are hashed on a few threads, as
hashlib releases the GIL while it hashes). Read-only: nothing is deleted or written.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field


MISSING = "shard_files_missing"
CHANGED = "shard_files_changed"
CHECKS = (MISSING, CHANGED)

# what writes each stage's shard anew (preprocess/encode.py check_curated_shards, training/stream.py REWRITE)
_REWRITE = {
    "curated": "run `lumina curate` on its source again, which writes it anew, then `lumina encode`",
    "encoded": "delete it and run `lumina encode` again, which writes it anew",
}


@dataclass(frozen=True)
class ShardFinding:
    check: str
    uri: str
    stage: str
    what: str  # what is wrong, in words

    @property
    def action(self) -> str:
        return _REWRITE.get(self.stage, _REWRITE["encoded"])


@dataclass
class ShardReport:
    findings: list[ShardFinding] = field(default_factory=list)
    shards: int = 0  # registered shards looked at
    bytes_read: int = 0
    outside: list[str] = field(default_factory=list)  # uris not under the catalog's workspace (copied or moved since)

    def counts(self) -> dict[str, int]:
        return {name: sum(f.check == name for f in self.findings) for name in CHECKS}


def _shard_rows(cat, manifest: str | None) -> list[tuple[str, str, int, str]]:
    """(uri, stage, bytes, sha256) of every registered shard, or of those a manifest's encodings are in
    (NAME, latest version, or NAME@vN: resolved as every manifest command resolves it, so an unknown
    name or version is refused naming what there is, not checked as zero shards)."""
    if manifest is None:
        _, rows = cat.sql("SELECT uri, stage, bytes, sha256 FROM shards ORDER BY uri")
        return rows
    head = cat.manifest_header(manifest)
    _, rows = cat.sql("SELECT DISTINCT s.uri, s.stage, s.bytes, s.sha256 FROM manifest_encodings me "
                      "JOIN shards s ON s.uri = me.shard_uri WHERE me.manifest = ? AND me.version = ? ORDER BY s.uri",
                      [head.name, head.version])
    return rows


def _look(row: tuple[str, str, int, str]) -> tuple[ShardFinding | None, int]:
    """The finding for one shard (None: as registered) and the bytes read."""
    uri, stage, size, sha256 = row
    try:
        found = os.stat(uri).st_size
    except FileNotFoundError:
        return ShardFinding(MISSING, uri, stage, "not on disk"), 0
    except OSError as e:
        return ShardFinding(MISSING, uri, stage, f"cannot be looked at ({e.strerror or e})"), 0
    if found != size:
        return ShardFinding(CHANGED, uri, stage, f"{found} bytes where the catalog records {size}"), 0
    try:
        with open(uri, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as e:  # a read error of the disk is what this check is for
        return ShardFinding(CHANGED, uri, stage, f"cannot be read ({e.strerror or e})"), 0
    if digest != sha256:
        return ShardFinding(CHANGED, uri, stage, f"its sha256 is {digest[:16]}..., the catalog records {sha256[:16]}... "
                                                 f"(same size: its bytes changed in place)"), size
    return None, size


def check_shard_contents(cat, manifest: str | None = None, threads: int | None = None,
                         progress: bool = True, home: str | os.PathLike | None = None) -> ShardReport:
    """Every shard ``cat`` registers (or ``manifest``'s: NAME or NAME@vN), stat'ed and hashed
    against its recorded size and sha256; findings in uri order. With ``home`` (the catalog's
    workspace), ``outside`` lists the recorded uris not under it: a copied workspace's catalog still
    names the original's shards, which are what this reads (and what training reads), not the copies."""
    rows = _shard_rows(cat, manifest)
    report = ShardReport(shards=len(rows))
    if home is not None:
        root = os.path.join(os.path.realpath(home), "")
        report.outside = [r[0] for r in rows if not os.path.realpath(r[0]).startswith(root)]
    threads = threads or min(4, os.cpu_count() or 1)
    bar = None
    if progress and rows:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(r[2] for r in rows), unit="B", unit_scale=True, unit_divisor=1024,
                   desc="hashing shards", leave=False)
    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for (finding, read), row in zip(pool.map(_look, rows), rows):  # map keeps the order of rows
                report.bytes_read += read
                if finding is not None:
                    report.findings.append(finding)
                if bar is not None:
                    bar.update(row[2])
    finally:
        if bar is not None:
            bar.close()
    return report
