"""The workspace layout: one folder (LUMINA_HOME) holding sources, shards, runs and the catalog.

Every stage finds its inputs and outputs here, so nothing passes internal paths around:

    <home>/catalog.duckdb
    <home>/curated/<modality>/curated-*.tar (+ .batch.json)     curate
    <home>/encoded/<modality>/encoded-*.tar (+ .batch.json)     encode
    <home>/encoders/<fingerprint>/encoder.json                  how to reload the encoder (also in the catalog)
    <home>/encoders/<fingerprint>/null_caption.npz              the text encoder's output for ""
    <home>/quarantine/<key>/                                    quarantined inputs and error.txt
    <home>/journal/analyse/<source and settings>/               an unfinished curation's analysed chunks (resume)
    <home>/runs/<run id>/checkpoint-NNNNNNN/                    train, evaluate
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path


def printable_path(path: str) -> str:
    """A path as valid UTF-8 text, as sources name entries and the catalog holds them: bytes that are
    not UTF-8 (which Python holds as lone surrogates) become \\xNN escapes. A path that is text
    already comes back as the same object."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return path


def _umask() -> int:
    """This process's umask, read without setting it (os.umask sets it, racing other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def readable_as_umask_allows(path: str | os.PathLike) -> None:
    """Folders and files under ``path`` (and itself) get the modes the umask gives new ones:
    tempfile.mkdtemp (0700) and safetensors (0600) keep what they write private, and a team's
    checkpoints on shared storage must be readable by the team."""
    mask = _umask()
    root = Path(path)
    if root.is_file():
        os.chmod(root, 0o666 & ~mask)
        return
    os.chmod(root, 0o777 & ~mask)
    for folder, dirs, files in os.walk(root):
        for d in dirs:
            os.chmod(os.path.join(folder, d), 0o777 & ~mask)
        for f in files:
            os.chmod(os.path.join(folder, f), 0o666 & ~mask)


def from_last_runs(path: str | os.PathLike) -> tuple[str, ...] | None:
    """('runs', '<run>', ...): the end of a recorded run or checkpoint folder from its last ``runs``
    part, or None. The catalog records absolute folders; a workspace moved or copied since holds the
    same end under its own home, which is where the disk check, resume and evaluate look first."""
    parts = Path(path).parts
    if "runs" not in parts:
        return None
    return parts[len(parts) - 1 - parts[::-1].index("runs"):]


def default_home() -> Path:
    return Path(os.environ.get("LUMINA_HOME", "lumina_home")).resolve()


def default_catalog_path() -> Path:
    env = os.environ.get("LUMINA_CATALOG")
    return Path(env).resolve() if env else default_home() / "catalog.duckdb"


_catalog_env_noted = False


def catalog_not_found_message(path: Path) -> str:
    """What the stage commands say for a catalog file that is not there (catalog.db raises it).
    Not "set LUMINA_CATALOG": they ignore it (note_catalog_env_ignored), and they choose their
    workspace by --home or LUMINA_HOME; `lumina catalog` says more (catalog/cli.py)."""
    return (f"no catalog at {path} (check --home DIR or LUMINA_HOME, or give --catalog FILE; or run lumina curate or "
            f"lumina demo into that workspace first)")


def missing_catalog(home: str | os.PathLike | None, catalog: str | os.PathLike | None) -> str | None:
    """The refusal a training command meets first when the catalog it opens is not there, said
    before its heavy imports (torch, DuckDB); None when the file is there. The path resolves as
    train_step and Catalog.open resolve it: ``catalog``, else <home>/catalog.duckdb."""
    path = Path(catalog or Workspace.at(home).catalog).expanduser().resolve()
    return None if path.exists() else catalog_not_found_message(path)


def note_catalog_env_ignored(used: Path) -> None:
    """Say once per process, on stderr, that $LUMINA_CATALOG names another file than ``used``, the
    workspace's catalog: only `lumina catalog` (and --catalog options) read LUMINA_CATALOG; the stage
    commands record into the workspace they work in, beside its shards, encoders and quarantine."""
    global _catalog_env_noted
    env = os.environ.get("LUMINA_CATALOG")
    if not env or _catalog_env_noted or Path(env).expanduser().resolve() == used.resolve():
        return
    _catalog_env_noted = True
    print(f"lumina: warning: LUMINA_CATALOG={env} is set but ignored here: the stage commands (curate, encode, "
          f"refresh, train, evaluate, sample, demo) use the workspace's catalog {used}; only `lumina catalog` without "
          f"--home reads LUMINA_CATALOG (unset it, or point LUMINA_HOME at that catalog's folder)", file=sys.stderr)


def safe_name(fingerprint: str) -> str:
    return fingerprint.replace("/", "_").replace("@", "_at_")


@dataclass(frozen=True)
class Workspace:
    home: Path

    @classmethod
    def at(cls, home: str | os.PathLike | None = None) -> "Workspace":
        return cls(Path(home).expanduser().resolve() if home else default_home())

    @property
    def catalog(self) -> Path:
        """<home>/catalog.duckdb, always: $LUMINA_CATALOG is `lumina catalog`'s default only (a warning
        says so once when it names another file)."""
        path = self.home / "catalog.duckdb"
        note_catalog_env_ignored(path)
        return path

    def curated(self, modality: str) -> Path:
        return self.home / "curated" / modality

    def encoded(self, modality: str) -> Path:
        return self.home / "encoded" / modality

    @property
    def quarantine(self) -> Path:
        return self.home / "quarantine"

    def encoder_dir(self, fingerprint: str) -> Path:
        return self.home / "encoders" / safe_name(fingerprint)

    def null_caption(self, fingerprint: str) -> Path:
        return self.encoder_dir(fingerprint) / "null_caption.npz"

    def encoder_info(self, fingerprint: str) -> Path:
        return self.encoder_dir(fingerprint) / "encoder.json"

    def run_dir(self, run_id: str) -> Path:
        return self.home / "runs" / run_id
