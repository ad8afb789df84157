"""The STOP file is written whole or not at all: a reader (the Ray Train workers poll it at every
step) that came between write_text's truncation and its write read an empty file, which stands for
SIGTERM, so a Ctrl-C to the launcher's driver ended the run as SIGTERM (exit 143, not 130) on a
loaded machine (seen in make test)."""

from __future__ import annotations

import signal
import threading

from training.stopping import remove_stop_file, stop_file_signal, write_stop_file


def test_a_reader_never_sees_a_stop_file_half_written(tmp_path):
    seen: set[int] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(stop_file_signal(tmp_path))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(3000):
            write_stop_file(tmp_path, signal.SIGINT)
            remove_stop_file(tmp_path)
    finally:
        stop.set()
        reader.join()
    assert seen <= {0, int(signal.SIGINT)}, seen


def test_the_stop_file_names_its_signal(tmp_path):
    write_stop_file(tmp_path, signal.SIGINT)
    assert stop_file_signal(tmp_path) == signal.SIGINT
    assert [p.name for p in tmp_path.iterdir()] == ["STOP"]  # no temporary file left beside it
