"""Offline speech synthesis with the libespeak-ng that ``espeakng-loader`` bundles (ctypes, no
system install): text -> int16 mono samples at espeak-ng's own rate (22,050 Hz).

Voices are espeak-ng names with an optional variant (``en-us+f3``, ``en+m2``); rate is words per
minute, pitch and range 0..100. One process-wide engine, serialised by a lock: the C library keeps
global state.
"""

from __future__ import annotations

import ctypes
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

_SYNCHRONOUS = 2  # espeak_AUDIO_OUTPUT: AUDIO_OUTPUT_SYNCHRONOUS
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4  # espeak_PARAMETER
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
_lock = threading.Lock()


class _Engine:
    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data_parent = str(Path(espeakng_loader.get_data_path()).parent).encode()
        self.sample_rate = int(self.lib.espeak_Initialize(_SYNCHRONOUS, 0, ctypes.c_char_p(data_parent), 0))
        if self.sample_rate <= 0:
            raise RuntimeError("espeak-ng failed to initialise")
        self.chunks: list[np.ndarray] = []
        self._cb = _CALLBACK(self._collect)  # keep a reference: the library calls it later
        self.lib.espeak_SetSynthCallback(self._cb)

    def _collect(self, wav, n, events) -> int:
        if n > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    def synth(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int) -> np.ndarray:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        for param, value in ((_RATE, rate), (_PITCH, pitch), (_RANGE, pitch_range), (_VOLUME, 100)):
            self.lib.espeak_SetParameter(param, int(value), 0)
        self.chunks = []
        data = text.encode("utf-8") + b"\0"
        self.lib.espeak_Synth(ctypes.c_char_p(data), ctypes.c_size_t(len(data)), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)


@lru_cache(maxsize=1)
def _engine() -> _Engine:
    return _Engine()


def synthesise(text: str, voice: str = "en-us", rate: int = 160, pitch: int = 50, pitch_range: int = 50,
               seed: int | None = None) -> tuple[np.ndarray, int]:
    """(int16 samples, sample rate). ``seed`` seeds espeak-ng's noise generator first: espeak_Initialize
    seeds it with the time of day (whole seconds), and the breathy variants (``breath`` in their
    variant file: f2, f3) add its noise to every voiced sample, so without a seed their takes differ
    between processes. The other voices' takes are the same with or without one."""
    with _lock:  # the seed and the synthesis it is for, with no other synthesis between
        eng = _engine()
        if seed is not None:
            eng.lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))
        return eng.synth(text, voice, rate, pitch, pitch_range), eng.sample_rate
