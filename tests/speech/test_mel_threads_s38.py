"""The log-mel a speech shard stores is the same bytes whatever the BLAS thread count: with the mel
filterbank applied by `filters @ mag` through OpenBLAS, OPENBLAS_NUM_THREADS=1 and 2 gave mels up to
~1e-6 apart, so the same folder curated with --local and with Ray gave shards of the same name and
different sha256."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """
import sys
import numpy as np
from encoders.audio.mel import log_mel
y = (np.random.default_rng(7).standard_normal(22_050 * 8) * 0.1).astype(np.float32)
m = log_mel(y)
np.save(sys.argv[1], m)
"""


def _mel_with_threads(threads: int, out: Path) -> bytes:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", _SCRIPT, str(out)], cwd=ROOT, env=env, check=True, timeout=120)
    return np.load(out)


def test_log_mel_bytes_do_not_depend_on_blas_threads(tmp_path):
    one = _mel_with_threads(1, tmp_path / "one.npy")
    two = _mel_with_threads(2, tmp_path / "two.npy")
    assert one.shape == two.shape == (80, 1 + 22_050 * 8 // 256)
    assert one.tobytes() == two.tobytes(), f"max |diff| {np.abs(one - two).max():.3g}"


def test_log_mel_still_matches_a_float64_filterbank():
    from encoders.audio.mel import MEL, log_mel, mel_filters

    y = (np.random.default_rng(3).standard_normal(22_050 * 2) * 0.1).astype(np.float32)
    pad = MEL.n_fft // 2
    yp = np.pad(y, pad, mode="reflect")
    n = 1 + (len(yp) - MEL.n_fft) // MEL.hop
    frames = np.stack([yp[i * MEL.hop:i * MEL.hop + MEL.n_fft] for i in range(n)]).astype(np.float64)
    window = np.hanning(MEL.win + 1)[:-1]
    mag = np.abs(np.fft.rfft(frames * window, axis=1)).T
    ref = np.log(np.maximum(mel_filters(MEL).astype(np.float64) @ mag, MEL.floor))
    got = log_mel(y)
    assert got.dtype == np.float32 and got.shape == ref.shape
    assert np.abs(got - ref).max() < 1e-4
