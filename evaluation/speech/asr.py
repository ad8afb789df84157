"""Word error rate of an offline recogniser (pocketsphinx and the en-us model it ships).

Decoding is constrained by a JSGF grammar over the evaluated transcripts' vocabulary (any sequence
of those words): the same recogniser scores generated and real speech, and a tiny corpus's words
are not drowned by a 130k-word language model tuned to read news. Pass ``grammar=False`` for the
open-vocabulary model.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=2)  # loading the acoustic model and the 130k-word dictionary takes seconds
def _decoder(vocabulary: frozenset[str] | None):
    from pocketsphinx import Decoder

    dec = Decoder(samprate=16000, loglevel="FATAL")
    if vocabulary:
        words = sorted(w for w in vocabulary if dec.lookup_word(w))
        dec.add_jsgf_string("vocab", "#JSGF V1.0;\ngrammar vocab;\npublic <s> = ( " + " | ".join(words) + " )+ ;\n")
        dec.activate_search("vocab")
    return dec


def recognise(audios: list[np.ndarray], sample_rate: int, vocabulary: set[str] | None = None) -> list[str]:
    import soxr

    dec = _decoder(frozenset(vocabulary) if vocabulary else None)
    out = []
    for y in audios:
        pcm = (np.clip(soxr.resample(np.asarray(y, np.float32), sample_rate, 16000), -1, 1) * 32767).astype(np.int16)
        dec.start_utt()
        dec.process_raw(pcm.tobytes(), full_utt=True)
        dec.end_utt()
        hyp = dec.hyp()
        out.append(hyp.hypstr if hyp is not None else "")
    return out


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    import jiwer

    return float(jiwer.wer(references, [h if h.strip() else "<empty>" for h in hypotheses]))
