"""Word error rate of an offline recogniser (pocketsphinx and the en-us model it ships).

Decoding is restricted to the evaluated transcripts' vocabulary: a uniform unigram language model
over those words (any sequence of them, each as likely), so the same recogniser scores generated
and real speech, and a tiny corpus's words are not drowned by a 130k-word language model tuned to
read news. Pass no vocabulary for that open-vocabulary model.

The restriction was a JSGF grammar ``( w1 | w2 | ... )+`` until 2026-12-05: the same words, but
pocketsphinx's grammar search slowed steeply with the vocabulary (one 5.2 s clip: 31 words 6-12 s,
90 words 24-40 s, 215 words 263 s; the unigram model 0.3 s at each size) and read worse (demo-like
digits and phrases through Griffin-Lim, 59 words: WER 0.78 against 0.62). WERs measured before
then are not comparable with later ones.

The restricted decoder reads a dictionary cut down to the vocabulary's entries (alternative
pronunciations too) rather than the whole 130k-word one: pocketsphinx builds its n-gram search over
every dictionary word, which took 1-4 s of CPU per vocabulary on an idle machine (about 4 s for 1
to 59 words, 1.3 s for 300; 7-10 s under load), against about 0.1 s now. It hears the same words
(the same hypotheses on 60 espeak-ng clips): the search only ever followed the language model's.
"""

from __future__ import annotations

import math
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

SEARCH = "vocab"  # the decoder's search restricted to the vocabulary


def unigram_arpa(words: list[str]) -> str:
    """An ARPA unigram model giving each word (and the end of the utterance) the same probability."""
    logp = f"{math.log10(1.0 / (len(words) + 1)):.6f}"
    entries = [f"{logp} </s>", "-99 <s> 0.0", *(f"{logp} {w} 0.0" for w in words)]
    return "\n".join(["\\data\\", f"ngram 1={len(entries)}", "", "\\1-grams:", *entries, "", "\\end\\", ""])


def _base_word(entry: str) -> str:
    """"read(2)" -> "read": the dictionary names a word's alternative pronunciations so."""
    return entry[:-3] if len(entry) > 3 and entry[-1] == ")" and entry[-3] == "(" and entry[-2].isdigit() else entry


def vocabulary_dictionary(vocabulary, dictionary: str | Path) -> str:
    """The lines of pronunciation ``dictionary`` for the words of ``vocabulary``, alternative
    pronunciations ("word(2)") included; the words it lacks have none."""
    bases = {_base_word(w) for w in vocabulary}
    with open(dictionary, encoding="utf-8") as f:
        return "".join(line for line in f if _base_word(line.split(maxsplit=1)[0] if line.strip() else "") in bases)


@lru_cache(maxsize=2)  # the open-vocabulary decoder loads the 130k-word dictionary and language model: seconds
def _decoder(vocabulary: frozenset[str] | None):
    from pocketsphinx import Config, Decoder

    if not vocabulary:
        return Decoder(samprate=16000, loglevel="FATAL")
    with tempfile.TemporaryDirectory() as tmp:  # pocketsphinx reads a dictionary and a language model from files only
        dictionary = Path(tmp) / "vocab.dict"
        dictionary.write_text(vocabulary_dictionary(vocabulary, Config()["dict"]), encoding="utf-8")
        # a dictionary of the vocabulary alone (pocketsphinx sets up its n-gram search for every dictionary
        # word: 1-4 s of CPU for the whole one); no default language model, which this decoder never searches
        dec = Decoder(samprate=16000, loglevel="FATAL", dict=str(dictionary), lm=None)
        lm = Path(tmp) / "vocab.arpa"
        lm.write_text(unigram_arpa(known_words(dec, vocabulary)))
        dec.add_lm_file(SEARCH, str(lm))
    dec.activate_search(SEARCH)
    return dec


def known_words(dec, vocabulary) -> list[str]:
    """The words of ``vocabulary`` the recogniser's dictionary has (it can never hear the others)."""
    return sorted(w for w in vocabulary if dec.lookup_word(w))


def unknown_words(vocabulary: set[str]) -> list[str]:
    """The words of ``vocabulary`` missing from the recogniser's dictionary: each counts as an error
    in every WER it appears in."""
    dec = _decoder(frozenset(vocabulary))
    return sorted(w for w in vocabulary if not dec.lookup_word(w))


def recognise(audios: list[np.ndarray], sample_rate: int, vocabulary: set[str] | None = None, desc: str = "recognising") -> list[str]:
    import soxr
    from tqdm.auto import tqdm

    dec = _decoder(frozenset(vocabulary) if vocabulary else None)
    out = []
    for y in tqdm(audios, desc=f"{desc} {len(audios)} clips", unit="clip", leave=False):  # seconds per clip: it looked hung
        pcm = (np.clip(soxr.resample(np.asarray(y, np.float32), sample_rate, 16000), -1, 1) * 32767).astype(np.int16)
        dec.start_utt()
        dec.process_raw(pcm.tobytes(), full_utt=True)
        dec.end_utt()
        hyp = dec.hyp()
        out.append(hyp.hypstr if hyp is not None else "")
    return out


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """(substitutions + deletions + insertions) / reference words: above 1 when the recogniser heard
    more words than were said."""
    import jiwer

    return float(jiwer.wer(references, [h if h.strip() else "<empty>" for h in hypotheses]))
