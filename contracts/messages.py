"""A package's INFO messages on stderr, for the command lines."""

from __future__ import annotations

import logging


def show_messages(logger_name: str) -> None:
    """Show ``logger_name``'s INFO messages on stderr, one plain line each; under a caller that
    configured logging (Prefect, pytest) its handlers decide. Without this a command line printed
    none of them: Python shows only WARNING and above by default."""
    logger = logging.getLogger(logger_name)
    if logging.getLogger().handlers or logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


# A package's messages from another process (a Ray Train worker, whose output Ray does not forward
# to the driver): that process writes its records to a file with RecordsToFile, and the driver
# follows the file with ReplayedRecords, which logs each again through the same logger here.
class RecordsToFile(logging.Handler):
    """Each record as one JSON line (logger name, level, the message as formatted) appended to
    ``path`` and flushed at once, tagged ``tag`` (the launch it belongs to: the file is kept, and a
    later launch into the same folder appends to it; keep_last_launches bounds it). ``drop(record)``:
    records to leave out."""

    def __init__(self, path, tag: str, drop=None, level: int = logging.INFO):
        super().__init__(level)
        self.path, self.tag, self.drop, self._file = path, tag, drop, None
        self.setFormatter(logging.Formatter("%(message)s"))  # with a traceback, if the record has one

    def emit(self, record: logging.LogRecord) -> None:
        import json
        from pathlib import Path

        if self.drop is not None and self.drop(record):
            return
        try:
            line = json.dumps({"tag": self.tag, "name": record.name, "levelno": record.levelno,
                               "levelname": record.levelname, "message": self.format(record)})
            if self._file is None:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "a", encoding="utf-8")
            self._file.write(line + "\n")  # one write: a reader never sees half a line followed by another's
            self._file.flush()
        except Exception:  # noqa: BLE001 - logging's own policy: report, never raise into the caller
            self.handleError(record)

    def close(self) -> None:
        with self.lock:
            if self._file is not None:
                self._file.close()
                self._file = None
        super().close()


class ReplayedRecords:
    """The records RecordsToFile appends to ``path`` with ``tag`` from now on (what the file holds
    already is an earlier launch's): each replay() logs those written since the last call, in
    order, through the logger of the same name here (its level and handlers decide, as for the
    process's own records); a line still being written waits for the next call."""

    def __init__(self, path, tag: str):
        from pathlib import Path

        self.path, self.tag = Path(path), tag
        self.offset, self.inode = self._size_and_inode()

    def _size_and_inode(self) -> tuple[int, int | None]:
        import os

        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return 0, None
        return st.st_size, st.st_ino

    def replay(self) -> int:
        """Log the new records; returns how many."""
        import json

        size, inode = self._size_and_inode()
        if inode is None:
            return 0
        if inode != self.inode or size < self.offset:  # a new file (the old one removed or replaced): from its start
            self.inode, self.offset = inode, 0
        if size == self.offset:
            return 0
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return 0
        end = data.rfind(b"\n") + 1
        self.offset += end
        n = 0
        for line in data[:end].splitlines():
            try:
                d = json.loads(line)
                if d.get("tag") != self.tag:
                    continue
                name, levelno, message = str(d["name"]), int(d["levelno"]), str(d["message"])
            except (ValueError, KeyError, TypeError, AttributeError):  # not a record of ours
                continue
            logger = logging.getLogger(name)
            if logger.isEnabledFor(levelno):
                logger.handle(logging.makeLogRecord({"name": name, "levelno": levelno, "msg": message,
                                                     "levelname": logging.getLevelName(levelno)}))
            n += 1
        return n


# a run folder's file holds the records of this many launches at most: the one running and those before
# it (at its start it keeps KEEP_LAUNCHES - 1: keep_last_launches)
KEEP_LAUNCHES = 5


def keep_last_launches(path, launches: int) -> bool:
    """Bounds RecordsToFile's file, which every launch into the folder appends to: called at a
    launch's start, before it writes to ``path`` or follows it (ReplayedRecords) and while no other
    process writes to it. A file holding the records of more than ``launches`` launches (tags; the
    latest are those with the latest lines), or lines that are not a record (one a killed writer
    left unfinished, which the next record would have been glued to), is replaced by one holding
    only the latest ``launches`` launches' records, in order: written beside it and renamed over it,
    so a reader sees the old file or the new one, whole. Returns whether it was replaced; a file it
    cannot read or replace stays as it is."""
    import json
    import os
    from pathlib import Path

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError:  # none yet (or unreadable: the writer will say so)
        return False
    records, last = [], {}  # (tag, line); tag -> the index of its last line
    pieces = data.split(b"\n")
    for line in pieces[:-1]:  # the last piece: empty, or a line never finished
        try:
            tag = json.loads(line)["tag"]
            last[tag] = len(records)
        except (ValueError, KeyError, TypeError):  # not a record of ours
            continue
        records.append((tag, line))
    if len(last) <= launches and len(records) == len(pieces) - 1 and not pieces[-1]:
        return False
    kept = set(sorted(last, key=last.get)[-launches:]) if launches > 0 else set()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(b"".join(line + b"\n" for tag, line in records if tag in kept))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        return False
    return True
