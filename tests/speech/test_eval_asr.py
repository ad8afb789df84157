"""The WER recogniser's restriction to the evaluated vocabulary (evaluation/speech/asr.py).

A JSGF grammar over the vocabulary took 8-12 s for one 5.2 s clip at 31 words, 34-40 s at 90 and
263 s at 215, and showed no progress: 13 held-out sentences took 4 minutes. A uniform unigram
model over the same words decodes that clip in about 0.3 s at any of those sizes."""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pytest

from evaluation.speech.asr import SEARCH, _decoder, recognise, unigram_arpa, unknown_words, vocabulary_dictionary
from preprocess.speech.espeak import synthesise

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
UNHEARD = "qxzvbn"  # not in the recogniser's dictionary

# A decoder for a vocabulary cost 1-10 s of CPU while it read the whole 130k-word dictionary (pocketsphinx
# builds its n-gram search over every dictionary word); about 0.1 s since it reads the vocabulary's entries
# alone. The tests still share one vocabulary and one worker (evaluation.speech.asr._decoder caches two
# decoders; the open-vocabulary one, which _many_words needs, still takes about 0.5 s).
pytestmark = pytest.mark.xdist_group("speech-asr-vocabulary")


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str]:
    """About 300 words the dictionary has, the digits, and one word it lacks."""
    return frozenset(_many_words() | set(DIGITS) | {UNHEARD})


def _many_words() -> set[str]:
    """About 300 common English words pocketsphinx's dictionary has (a sentence held-out set's vocabulary)."""
    dec = _decoder(None)
    words = ("the of and to in is that it was for on are as with his they at be this from have or by one had not but "
             "what all were when we there can an your which their said if do will each about how up out them then she "
             "many some so these would other into has more her two like him see time could no make than first been its "
             "who now people my made over did down only way find use may water long little very after words called just "
             "where most know get through back much before go good new write our used me man too any day same right look "
             "think also around another came come work three word must because does part even place well such here take "
             "why things help put years different away again off went old number great tell men say small every found "
             "still between name should home big give air line set own under read last never us left end along while "
             "might next sound below saw something thought both few those always looked show large often together asked "
             "house don't world going want school important until form food keep children feet land side without boy once "
             "animals life enough took sometimes four head above kind began almost live page got earth need far hand high "
             "year mother light parts country father let night following picture being study second eyes soon times story "
             "boys since white days ever paper hard near sentence better best across during today others however sure "
             "means knew it's try told young miles sun ways thing whole hear example heard several change answer room sea "
             "against top turned learn point city play toward five using himself usually").split()
    return {w for w in words if dec.lookup_word(w)}


def test_a_large_vocabulary_is_decoded_with_a_unigram_model_of_its_words():
    vocabulary = set(_vocabulary())
    assert len(vocabulary) >= 250
    dec = _decoder(frozenset(vocabulary))
    lm = dec.get_lm(SEARCH)  # an n-gram search (None for the grammar's finite-state one)
    assert dec.current_search() == SEARCH and lm is not None
    heard, other = lm.prob(["seven"]), lm.prob(["zebra"])  # "zebra" is in the dictionary, not the vocabulary
    assert heard == lm.prob(["the"]) > other  # each word of the vocabulary as likely; the rest not in it
    # its dictionary has the vocabulary's words alone (the whole one made the decoder take seconds to build),
    # each with its alternative pronunciations ("read" is said "red" and "reed")
    assert _decoder(None).lookup_word("zebra") and not dec.lookup_word("zebra")
    assert dec.lookup_word("read") == "R EH D" and dec.lookup_word("read(2)") == "R IY D"

    y, sr = synthesise("seven", "en-us", 130, 50)
    (hyp,) = recognise([y.astype(np.float32) / 32768], sr, vocabulary)
    assert hyp and set(hyp.split()) <= vocabulary


def test_the_vocabulary_dictionary_has_each_word_with_its_alternative_pronunciations(tmp_path):
    full = tmp_path / "full.dict"
    full.write_text("a AH\na(2) EY\nread R EH D\nread(2) R IY D\nread's R IY D Z\nreader R IY D ER\nseven S EH V AH N\n")
    cut = vocabulary_dictionary({"read", "a", "qxzvbn"}, full)
    assert cut == "a AH\na(2) EY\nread R EH D\nread(2) R IY D\n"  # not read's, reader or seven; nothing for qxzvbn


def test_a_vocabulary_of_words_the_dictionary_lacks_hears_nothing():
    """Its decoder has an empty dictionary and a language model of the end of the utterance alone."""
    y, sr = synthesise("seven", "en-us", 130, 50)
    assert unknown_words({UNHEARD}) == [UNHEARD]
    assert recognise([y.astype(np.float32) / 32768], sr, {UNHEARD}) == [""]


def test_the_unigram_model_gives_every_word_the_same_probability():
    arpa = unigram_arpa(["one", "two", "three"])
    probs = {w: float(p) for p, w in re.findall(r"^(-?[\d.]+) (\S+) 0\.0$", arpa, re.M) if w != "<s>"}
    assert set(probs) == {"one", "two", "three"} and len(set(probs.values())) == 1
    assert abs(10 ** probs["one"] - 0.25) < 1e-5  # three words and the end of the utterance
    assert "ngram 1=5" in arpa  # </s>, <s> and the three words


def test_recognition_shows_its_progress_over_the_clips(capsys):
    """Recognition ran for minutes with nothing on the screen."""
    y, sr = synthesise("two", "en-us", 160, 50)
    recognise([y.astype(np.float32) / 32768] * 2, sr, set(_vocabulary()), desc="recognising generated")
    err = capsys.readouterr().err
    assert "recognising generated 2 clips" in err and "0/2 [" in err  # a bar over the clips


def test_words_the_recogniser_cannot_hear_are_named():
    vocabulary = set(_vocabulary())
    assert "seven" in vocabulary and len(vocabulary) > 250
    assert unknown_words(vocabulary) == [UNHEARD]
