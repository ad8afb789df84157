"""`lumina train --launcher ray`: the run folder's messages.jsonl, which every launch into the folder
(each --resume) appends to, stays bounded: each launch's driver first keeps the lines of the
KEEP_LAUNCHES - 1 launches before it (contracts.messages.keep_last_launches, through
ray_launcher.launch_messages), and still follows the file from its end for its own. Before, it grew by every launch's lines forever."""

from __future__ import annotations

import json
import logging

from contracts.messages import KEEP_LAUNCHES, RecordsToFile, ReplayedRecords, keep_last_launches
from training.ray_launcher import MESSAGES_FILE, launch_messages
from training.state import RunFolderLock


def record(msg: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("training.trainer", level, __file__, 0, msg, None, None)


def tags(path) -> list[str]:
    return [json.loads(x)["tag"] for x in path.read_text().splitlines()]


def test_many_launches_into_one_folder_leave_a_bounded_file_with_the_latest_launchs_lines(tmp_path, caplog):
    path = tmp_path / MESSAGES_FILE
    launches = 3 * KEEP_LAUNCHES
    with caplog.at_level(logging.INFO, logger="training"):
        for i in range(launches):
            replay = launch_messages(str(tmp_path), f"launch {i}")  # as the driver, before its workers start
            writer = RecordsToFile(path, f"launch {i}")  # its rank 0
            for n in range(3):
                writer.handle(record(f"launch {i}: line {n}"))
            assert replay.replay() == 3 and replay.replay() == 0  # its own lines, once
            writer.close()
    assert [r.getMessage() for r in caplog.records[-3:]] == [f"launch {launches - 1}: line {n}" for n in range(3)]
    assert len(caplog.records) == 3 * launches  # each launch saw only its own
    expected = [f"launch {i}" for i in range(launches - KEEP_LAUNCHES, launches) for _ in range(3)]
    assert tags(path) == expected  # KEEP_LAUNCHES launches' lines, in order, the latest launch's last
    assert [json.loads(x)["message"] for x in path.read_text().splitlines()[-3:]] == [
        f"launch {launches - 1}: line {n}" for n in range(3)]


def test_a_file_within_the_bound_is_left_as_it_is(tmp_path):
    path = tmp_path / MESSAGES_FILE
    for i in range(KEEP_LAUNCHES - 1):
        writer = RecordsToFile(path, f"launch {i}")
        writer.handle(record("a line"))
        writer.close()
    inode, text = path.stat().st_ino, path.read_text()
    launch_messages(str(tmp_path), "launch 4")
    assert (path.stat().st_ino, path.read_text()) == (inode, text)  # not even rewritten
    assert not keep_last_launches(tmp_path / "none" / MESSAGES_FILE, 1)  # no file yet: nothing to do


def test_a_line_a_killed_writer_left_unfinished_goes_and_the_next_launchs_first_line_is_not_glued_to_it(tmp_path, caplog):
    path = tmp_path / MESSAGES_FILE
    killed = RecordsToFile(path, "killed")
    killed.handle(record("said"))
    killed.close()
    with open(path, "a") as f:
        f.write('{"tag": "killed", "name": "training.trainer", "levelno": 20, "mess')
    replay = launch_messages(str(tmp_path), "next")
    writer = RecordsToFile(path, "next")
    with caplog.at_level(logging.INFO, logger="training"):
        writer.handle(record("the next launch's first line"))
        assert replay.replay() == 1
    writer.close()
    assert [r.getMessage() for r in caplog.records] == ["the next launch's first line"]
    assert tags(path) == ["killed", "next"]


def test_the_file_of_a_folder_a_run_trains_in_is_not_touched(tmp_path):
    """Its rank 0 writes to the file (a rename would leave it writing to a removed one); the new
    launch's rank 0 is refused the folder by the same lock."""
    path = tmp_path / MESSAGES_FILE
    for i in range(KEEP_LAUNCHES + 2):
        writer = RecordsToFile(path, f"launch {i}")
        writer.handle(record("a line"))
        writer.close()
    inode, text = path.stat().st_ino, path.read_text()
    with RunFolderLock(tmp_path):  # a run trains there
        replay = launch_messages(str(tmp_path), "refused")
    assert (path.stat().st_ino, path.read_text()) == (inode, text)
    assert isinstance(replay, ReplayedRecords) and replay.offset == len(text.encode())  # from the end
    assert launch_messages(str(tmp_path), "later").offset < len(text.encode())  # free again: bounded
    assert len(set(tags(path))) == KEEP_LAUNCHES - 1
