"""The speech demo corpus has the same bytes whichever process writes it. espeak-ng seeds its noise
generator with the time of day (whole seconds) when it initialises, and the breathy variants
(en-us+f3, en+f2) add that noise to every voiced sample: two writes of the demo corpus in two
processes differed in 133 of 805 files, so a fresh workspace got other sample keys."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# one take of each digit in every voice of VOICES (one rate, one pitch), and the planted inputs
WRITE = """
import sys
from preprocess.speech.demo_corpus import VOICES, write_speech_corpus
write_speech_corpus(sys.argv[1], voices=len(VOICES), rates=(130,), pitches=(35,), phrases=False)
"""


def _write_in_a_fresh_process(root: Path) -> dict[str, bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # the checkout this test belongs to
    subprocess.run([sys.executable, "-c", WRITE, str(root)], cwd=REPO, env=env, check=True, timeout=120)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _wait_for_the_next_second() -> None:
    time.sleep(1.05 - time.time() % 1)  # espeak-ng's own seed is time(NULL): a second later it differs


def test_two_processes_write_the_same_bytes_in_every_voice(tmp_path):
    first = _write_in_a_fresh_process(tmp_path / "first")
    _wait_for_the_next_second()
    second = _write_in_a_fresh_process(tmp_path / "second")
    assert first.keys() == second.keys() and any(name.startswith("digits/") for name in first)
    differing = sorted(name for name in first if first[name] != second[name])
    assert not differing, f"{len(differing)} of {len(first)} files differ between processes: {differing[:6]}"
