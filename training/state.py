"""Resumable training state beside the published weights of a checkpoint folder.

    checkpoint-0000200/
      config.json, model.safetensors    the EMA weights (FlagDiT.save_pretrained): what evaluation loads
      null_caption.npz, training.json, latent_encoder.json, text_encoder.json
      train_state.safetensors           raw weights (model.*), optimizer tensors (optim.<i>.<name>), RNG states (rng.*)
      train_state.json                  step, data position, scheduler, optimizer groups, loss log, training seconds, shape counts,
                                        the log windows' catalog rows handed over with this checkpoint (`CATALOG_ROWS`),
                                        and the checksums of model.safetensors and train_state.safetensors (`CHECKSUMS`)
      train_state/                      instead of train_state.safetensors in an FSDP2 run: each rank's
                                        shards, a file per block (training/sharded_state.py)

Folders are written under a temporary name and renamed, so a crash never leaves half a checkpoint.
A file damaged later keeps its size when overwritten in place (a disk error, a stray `dd`): the header
check (`safetensors_problem`) passes it, and a resume from NaN weights diverged. So train_state.safetensors
is hashed once written (`save_tensors`, on the async writer's thread too) and --resume and
--init-from compare (`checkpoint_problems(content=True)`, in one process: other ranks and Ray
workers check headers). An FSDP2 run records its shard files' checksums too, each hashed by the rank
that wrote it (`sharded_state.shard_record`); a checkpoint written before has no checksums and is
only header-checked.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch

from contracts import parent_only_fds
from modelzoo.weights_file import MAX_SAFETENSORS_HEADER, load_failure, safetensors_problem  # noqa: F401 (imported from here too)
from training.stopping import shell_word

STATE_TENSORS = "train_state.safetensors"
STATE_JSON = "train_state.json"
CHECKSUMS = "checksums"  # train_state.json: file name -> "<algorithm>:<hex digest>" of its content as written
# train_state.json: the log windows' summaries (trainer._summary) the catalog gets with this checkpoint; a
# --resume registers those a kill between publishing the folder and registering it lost (catalog_hook)
CATALOG_ROWS = "catalog_rows"
WEIGHTS = "model.safetensors"
_CKPT = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_dir(out_dir: str | os.PathLike, step: int) -> Path:
    return Path(out_dir) / f"checkpoint-{step:07d}"


def checkpoints(out_dir: str | os.PathLike) -> list[Path]:
    """The published checkpoint folders of a run, oldest first: every ``checkpoint-<step>`` folder.
    Publishing is a rename of a whole folder (`publish`), so one under that name was complete when
    written; a file lost since (config.json too) is for `checkpoint_problems` to name. Listing only
    folders with a config.json passed over a newest one that had lost it: --resume went back to the
    one before and wrote over it."""
    out = Path(out_dir)
    found = [p for p in out.iterdir() if _CKPT.match(p.name) and p.is_dir()] if out.is_dir() else []
    return sorted(found, key=lambda p: int(_CKPT.match(p.name).group(1)))


class DamagedCheckpoint(ValueError):
    """A checkpoint file that cannot be read (cut short, overwritten, not what its name says). A
    ValueError, so the command lines print it as one line."""


def json_problem(path: str | os.PathLike) -> str | None:
    """Why a JSON file of a checkpoint cannot be read (missing, cut short), or None."""
    try:
        json.loads(Path(path).read_text())
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return f"not valid JSON, cut short? ({_first_line(e)})"
    return None


def _first_line(e: BaseException) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def checkpoint_problems(ckpt: str | os.PathLike, resume: bool = True, content: bool = False) -> list[str]:
    """``file: what is wrong`` for each file of a published checkpoint that would not load: the
    weights and their config (what --init-from, evaluation and sampling read) and, with ``resume``,
    the resume state and training.json (the run's own settings, which a resume continues with; a
    converted release, which --init-from reads, has none). An FSDP2 run's shard files: each one
    train_state.json records (`sharded_state.SHARD_FILES`; checkpoints written before that record
    have only the files present checked). Headers only, cheap for any model size; with ``content``
    also the checksums train_state.json records (`CHECKSUMS`) of the files checked, shard files
    included: each file read once (xxh3: about 0.1 s per GB from the page cache), and only where
    ``content`` is asked for: the entry point, rank 0, a Ray Train run's driver (`trainer.verified_once`)."""
    ckpt = Path(ckpt)
    problems = [(ckpt / "config.json", json_problem(ckpt / "config.json")),
                (ckpt / WEIGHTS, safetensors_problem(ckpt / WEIGHTS))]
    if resume or (ckpt / "training.json").exists():
        problems.append((ckpt / "training.json", json_problem(ckpt / "training.json")))
    state_problem = json_problem(ckpt / STATE_JSON)
    info = _json_table(ckpt / STATE_JSON) if state_problem is None else {}
    if resume:
        problems.append((ckpt / STATE_JSON, state_problem))
        shards = ckpt / "train_state"
        if shards.is_dir() or info.get("sharded"):  # an FSDP2 run's (sharded_state.py): every rank's files
            problems += _shard_problems(shards, info)
        else:
            problems.append((ckpt / STATE_TENSORS, safetensors_problem(ckpt / STATE_TENSORS)))
    if content:
        problems = [(path, why or _content_problem(path, ckpt, info)) for path, why in problems]
    return [f"{path}: {why}" for path, why in problems if why]


def _content_problem(path: Path, ckpt: Path, info: dict) -> str | None:
    """Why a file whose header is intact is still damaged: its content is not what was written, by the
    checksum train_state.json records for it, under its path in the checkpoint (``model.safetensors``,
    ``train_state/<shard file>``; none recorded, or by an algorithm not available here: None)."""
    sums = info.get(CHECKSUMS)
    recorded = sums.get(path.relative_to(ckpt).as_posix()) if isinstance(sums, dict) else None
    algorithm = recorded.partition(":")[0] if isinstance(recorded, str) else None
    if algorithm is None or _hash(algorithm) is None or not path.is_file():
        return None
    try:
        found = file_digest(path, algorithm)
    except OSError as e:
        return f"unreadable ({_first_line(e)})"
    if found == recorded:
        return None
    return (f"its content changed after it was written (overwritten or corrupted: its {algorithm} checksum is "
            f"{found.partition(':')[2]}, {STATE_JSON} records {recorded.partition(':')[2]})")


def _hash(algorithm: str):
    """The constructor of a `CHECKSUMS` algorithm's hash object; None when it is not available here
    (xxh3 without the xxhash package: such a checksum is not compared, as none recorded)."""
    import hashlib

    if algorithm == "sha256":
        return hashlib.sha256
    if algorithm == "xxh3_64":
        try:
            import xxhash  # a dependency (pyproject.toml), and of datasets
        except ImportError:
            return None
        return xxhash.xxh3_64
    return None


def _checksum_algorithm() -> str:
    """xxh3 (3.6 GB/s on one core here, where sha256 managed 0.35), else sha256."""
    return "xxh3_64" if _hash("xxh3_64") is not None else "sha256"


_DIGESTS: dict[tuple, str] = {}  # (path, inode, size, mtime, algorithm) -> digest: a file is read once per process


def file_digest(path: str | os.PathLike, algorithm: str) -> str:
    """``algorithm:hexdigest`` of a file's content (hashlib.file_digest). Remembered for the file as
    it is (size, mtime, inode): --resume checks the newest checkpoint from the entry point and again
    from the trainer. Only the process that verifies a checkpoint reads it (`checkpoint_problems`'
    ``content``): other ranks and Ray workers check headers only."""
    import hashlib

    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_ino, st.st_size, st.st_mtime_ns, algorithm)
    if (known := _DIGESTS.get(key)) is not None:
        return known
    with open(path, "rb") as f:
        h = hashlib.file_digest(f, _hash(algorithm))
    _DIGESTS[key] = digest = f"{algorithm}:{h.hexdigest()}"
    return digest


def _json_table(path: Path) -> dict:
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else {}


def _shard_problems(shards: Path, info: dict) -> list[tuple[Path, str | None]]:
    """Each shard file of a sharded checkpoint, those on disk and those its train_state.json lists
    as written, with what is wrong with it: a rank's file lost (a node-local disk, a partial copy)
    left DCP's load failing with ``CheckpointException ranks:dict_keys([0])``, naming nothing."""
    from training.sharded_state import SHARD_FILES

    recorded = info.get(SHARD_FILES)
    names = {n for n in recorded if isinstance(n, str)} if isinstance(recorded, list) else set()
    present = {p.name for p in shards.glob("*.safetensors")} if shards.is_dir() else set()
    if not names and not present:
        return [(shards, "missing" if not shards.is_dir() else "holds no shard file")]
    return [(shards / n, safetensors_problem(shards / n)) for n in sorted(names | present)]


def check_weights(ckpt: str | os.PathLike, flag: str = "--init-from", content: bool = True) -> None:
    """Raise DamagedCheckpoint naming the file when a checkpoint's weights or config would not load,
    or (``content``) differ from the checksums its train_state.json records. Weights replaced on
    purpose (fine-tuned elsewhere, converted) differ too: the refusal says how to accept them, as
    --resume does not (its state belongs to the weights it recorded)."""
    if problems := checkpoint_problems(ckpt, resume=False, content=content):
        changed = any("its content changed after it was written" in p for p in problems)
        way = (f"; if you replaced it on purpose, remove its entry under {CHECKSUMS} in {Path(ckpt) / STATE_JSON}"
               if changed else "")
        raise DamagedCheckpoint(f"{flag} {ckpt}: damaged checkpoint, {'; '.join(problems)} (pick another checkpoint "
                                f"of the run, e.g. the one before it{way})")


def latest_resumable(out_dir: str | os.PathLike, content: bool = True) -> Path | None:
    """The checkpoint --resume continues: the newest of the run folder, None when it has none.
    ``content``: its files' checksums are compared too (`checkpoint_problems`); False in a process
    whose checkpoint another has verified (a rank other than 0, a Ray Train worker), or where only
    its name is wanted.

    Raises DamagedCheckpoint when the newest cannot be resumed, rather than going back to an older
    one on its own: that would train the steps in between again and overwrite the newer folder,
    whose catalog row would then describe other weights. The message names the damaged file, the
    newest intact earlier checkpoint, and how to continue from it (move the damaged folder aside)."""
    found = checkpoints(out_dir)
    if not found:
        return None
    newest = found[-1]
    resumable = (newest / STATE_JSON).exists() or is_sharded_dir(newest)
    problems = checkpoint_problems(newest, content=content) if resumable else None
    if problems is None:
        what = f"has no {STATE_JSON} (no resume state: deleted, or copied without it)"
    elif problems:
        what = f"is damaged: {'; '.join(problems)}"
    else:
        return newest
    earlier = next((p for p in reversed(found[:-1])
                    if (p / STATE_JSON).exists() and not checkpoint_problems(p, content=content)), None)
    aside = newest.with_name(f"damaged-{newest.name}")
    weights_intact = not checkpoint_problems(newest, resume=False, content=content)
    if earlier is None:
        way = ("no earlier checkpoint of this run is intact: start anew in another --out-dir"
               + (f", or --init-from {shell_word(newest)} to keep its weights" if weights_intact else ""))
    else:
        way = (f"to continue from {earlier.name} (the newest intact one; steps after it are trained again), move the "
               f"damaged one out of the run folder first: mv {shell_word(newest)} {shell_word(aside)}"
               + (f"; or --init-from {shell_word(newest)} starts a new stage from its weights" if weights_intact else ""))
    raise DamagedCheckpoint(f"--resume: the newest checkpoint, {newest}, {what}; {way}")


class CheckpointWriteFailed(OSError, ValueError):
    """A checkpoint that could not be written (disk full, a file size limit): one line naming the
    folder, the error, the newest intact checkpoint and how to go on. An OSError, and a ValueError
    so the command lines print it as one line rather than a traceback from the writer."""


# what a failed checkpoint write raises: the OS's errors, and safetensors' own wrapping of them
WRITE_ERRORS: tuple[type[BaseException], ...] = (OSError,)
try:
    from safetensors import SafetensorError

    WRITE_ERRORS += (SafetensorError,)
except ImportError:  # older safetensors: its errors are OSErrors
    pass


def write_failed(out_dir: str | os.PathLike, final: Path, tmp: Path, error: BaseException) -> CheckpointWriteFailed:
    """The error for a checkpoint write that failed: its half-written folder is deleted (on a full
    disk it holds the space the next try needs); the message names the newest published checkpoint."""
    shutil.rmtree(tmp, ignore_errors=True)
    newest = next((c for c in reversed(checkpoints(out_dir)) if c != final), None)
    reason = _first_line(error) or type(error).__name__
    way = (f"the newest intact checkpoint is {newest}: free space (or raise the file size limit), then continue "
           f"with --resume --out-dir {shell_word(out_dir)}" if newest is not None
           else "no checkpoint of this run was written: free space (or raise the file size limit) and start it again")
    return CheckpointWriteFailed(f"checkpoint {final} could not be written ({reason}); {way}")


def is_sharded_dir(ckpt: Path) -> bool:
    return (ckpt / "train_state").is_dir()


def state_tensors(model_state: dict[str, torch.Tensor], opt: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict]:
    """Flatten model + optimizer state (an optimizer's state_dict, whole tensors keyed by parameter
    index) into named tensors and a JSON part."""
    tensors = {f"model.{k}": v for k, v in model_state.items()}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in opt["state"].items():
        for name, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"optim.{pid}.{name}"] = v
            else:
                scalars.setdefault(str(pid), {})[name] = v
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    return tensors, {"param_groups": opt["param_groups"], "optim_scalars": scalars}


def write_state(ckpt: Path, tensors: dict[str, torch.Tensor], info: dict, checksums: dict[str, str] | None = None) -> None:
    """train_state.safetensors and its checksum, then train_state.json with the checksums:
    that file's, ``checksums`` given (model.safetensors', from `save_tensors`), and, when not given,
    model.safetensors' read back (just written: from the page cache)."""
    sums = dict(checksums or {})
    sums[STATE_TENSORS] = save_tensors(tensors, ckpt / STATE_TENSORS)
    if WEIGHTS not in sums and (ckpt / WEIGHTS).is_file():
        sums[WEIGHTS] = file_digest(ckpt / WEIGHTS, sums[STATE_TENSORS].partition(":")[0])
    (ckpt / STATE_JSON).write_text(json.dumps({**info, CHECKSUMS: sums}, indent=1, default=str))


def save_tensors(tensors: dict[str, torch.Tensor], path: str | os.PathLike, metadata: dict[str, str] | None = None) -> str:
    """safetensors' save_file, then ``algorithm:hexdigest`` of the file it wrote, for `CHECKSUMS`: read
    back at once, from the page cache the write left it in (0.1-0.2 s for 300 MB here)."""
    from safetensors.torch import save_file

    save_file({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, str(path), metadata=metadata)
    return file_digest(path, _checksum_algorithm())


def read_state(ckpt: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    return load_tensors(Path(ckpt) / STATE_TENSORS), read_json(Path(ckpt) / STATE_JSON)


def load_tensors(path: str | os.PathLike, device: str = "cpu") -> dict[str, torch.Tensor]:
    """safetensors' load_file; a file it cannot read is a DamagedCheckpoint naming it (safetensors'
    own error names no file, and is no error type the command lines print as one line)."""
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device=device)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - SafetensorError, OSError, ...: all mean this file does not load
        raise DamagedCheckpoint(f"{path} does not load ({load_failure(path, e)})") from None


def read_json(path: str | os.PathLike) -> Any:
    """A checkpoint's JSON file; one that does not parse is a DamagedCheckpoint naming it."""
    text = Path(path).read_text()
    try:
        return json.loads(text)
    except ValueError as e:
        raise DamagedCheckpoint(f"{path} is not valid JSON, cut short? ({_first_line(e)})") from None


def optimizer_state(tensors: dict[str, torch.Tensor], info: dict) -> dict[str, Any]:
    """The optimizer state_dict that state_tensors flattened."""
    state: dict[int, dict[str, Any]] = {}
    for name, v in tensors.items():
        if name.startswith("optim."):
            _, pid, field = name.split(".", 2)
            state.setdefault(int(pid), {})[field] = v
    for pid, st in info.get("optim_scalars", {}).items():
        state.setdefault(int(pid), {}).update(st)
    return {"state": state, "param_groups": info["param_groups"]}


def restore_rng(tensors: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])


def publish(tmp: Path, final: Path) -> None:
    """Atomic from a reader's view: the folder appears complete or not at all; with the modes the
    umask gives (the temporary folder was private)."""
    from contracts.layout import readable_as_umask_allows

    readable_as_umask_allows(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def clear_unfinished(out_dir: str | os.PathLike) -> list[Path]:
    """Delete the temporary folders of checkpoints a killed run left half written (``.checkpoint-*``,
    never published: nothing resumes from them, and an FSDP2 one holds a whole training state).
    The run owns its out_dir, as `prune` assumes too."""
    out = Path(out_dir)
    gone = sorted(p for p in out.glob(".checkpoint-*") if p.is_dir()) if out.is_dir() else []
    for p in gone:
        shutil.rmtree(p, ignore_errors=True)
    return gone


def prune(out_dir: str | os.PathLike, keep_last: int) -> list[Path]:
    """Delete all but the newest `keep_last` checkpoints; returns those it set out to delete. One that
    cannot be deleted (read-only, immutable, a file another process holds) stays, and is said once
    (`_undeletable`): the run goes on. Before, nothing was said, and a run on a nearly full disk kept
    every checkpoint while its summary listed only the newest."""
    found = checkpoints(out_dir)
    gone = found[:-keep_last] if keep_last > 0 else []
    for p in gone:
        if (error := _delete_checkpoint(p)) is not None and str(p) not in _undeletable:
            _undeletable.add(str(p))
            logging.getLogger(__name__).warning(
                "keep_last %d: could not delete the older checkpoint %s (%s); it stays on disk, taking its space: "
                "delete it yourself (said once)", keep_last, p, error)
    return gone


_undeletable: set[str] = set()  # checkpoints prune could not delete, said once each


def _delete_checkpoint(ckpt: Path) -> str | None:
    """Unpublish ``ckpt`` (a rename to a `.checkpoint-*` name), then delete it; None when done, else
    why not. Deleted in place, a kill midway left a published `checkpoint-N` with some of its files
    gone; renamed first, it leaves a temporary folder that `clear_unfinished` deletes at the next
    start. A folder that cannot be renamed, or of which nothing could be deleted (a read-only folder:
    renamed in place all the same), stays under its own name, whole; one only partly deleted (a file
    NFS or a permission keeps) stays aside: never a published checkpoint with files gone."""
    aside = ckpt.with_name(f".{ckpt.name}-pruned")
    if aside.exists():  # an earlier try's remains: a folder is not renamed over a full one
        shutil.rmtree(aside, ignore_errors=True)
    held = _entries(ckpt)
    try:
        os.replace(ckpt, aside)
    except OSError as e:
        return _first_line(e)
    try:
        shutil.rmtree(aside)
    except OSError as e:
        if _entries(aside) == held:  # whole: hidden, it was lost to --resume and the next start cannot delete it either
            os.replace(aside, ckpt)
            return _first_line(e)
        return f"{_first_line(e)}; what is left of it is {aside.name}, which the next start deletes"
    return None


def _entries(folder: Path) -> set[str]:
    """The paths under ``folder``, relative to it."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


LOCK_FILE = ".lumina-train.lock"


class RunFolderInUse(FileExistsError):
    """Another training process holds the run folder's lock. A FileExistsError, so the command
    lines print it as one line."""


class RunFolderLock:
    """An exclusive ``flock`` on ``<out_dir>/.lumina-train.lock`` for a run's life, held by the
    process that writes the folder (rank 0). A job submitted twice trained two runs into one folder,
    checkpoints and metrics.csv mixed. The kernel drops the lock when the holder dies, even by
    SIGKILL, so a resume after a crash is never refused, as a pid file would be. The file stays (an
    unlinked lock file could be locked twice); its text names the holder, for the refusal."""

    RETRY_S = 2.0  # a concurrent `in_use` probe holds the lock for microseconds: not a reason to refuse

    def __init__(self, out_dir: str | os.PathLike):
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / LOCK_FILE
        self._fd: int | None = None
        self._pid: int | None = None  # the process that took it: a forked child's copy was closed at the fork

    def acquire(self) -> None:
        """Raises RunFolderInUse when another process holds it; on a file system without locks, warns."""
        import fcntl
        import socket
        import time

        self.out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.RETRY_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                os.close(fd)
                raise RunFolderInUse(in_use_message(self.out_dir)) from None
            except OSError as e:  # no locks here (some network or FUSE file systems): train unguarded
                os.close(fd)
                logging.getLogger(__name__).warning("cannot lock %s (%s): nothing stops a second process from "
                                                    "training into this run folder at the same time", self.path, e)
                return
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        self._fd, self._pid = fd, os.getpid()
        parent_only_fds.hold(fd)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        parent_only_fds.unlock_and_close(fd, self._pid)  # nothing in a forked child: the fork closed its copy

    def __enter__(self) -> "RunFolderLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def in_use_message(out_dir: str | os.PathLike) -> str:
    try:
        holder = json.loads((Path(out_dir) / LOCK_FILE).read_text())
        who = f"pid {holder['pid']} on host {holder['host']}, since {holder['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        who = "its holder did not say who it is yet"
    return (f"run folder {out_dir} is in use by another training process ({who}); wait for it or choose "
            "another --out-dir")


def refuse_if_in_use(out_dir: str | os.PathLike) -> None:
    """Before a run is recorded: raises RunFolderInUse when a training process holds ``out_dir``'s
    lock. A shared lock for an instant, so two such checks never refuse each other."""
    import fcntl

    try:
        fd = os.open(Path(out_dir) / LOCK_FILE, os.O_RDONLY)
    except OSError:  # no lock file: no run has trained here yet
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise RunFolderInUse(in_use_message(out_dir)) from None
    except OSError:  # no locks on this file system (the trainer warns)
        pass
    finally:
        os.close(fd)  # drops the shared lock, if taken
