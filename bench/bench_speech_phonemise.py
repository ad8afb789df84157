"""Speech curation's transcript reading: one espeak-ng call per transcript (switch flags kept, read
by the wrong_language check and stripped for the phones) against the two it replaced (phones from
a remove-flags backend, then a keep-flags call of the check's own). Both ways run on the same
transcripts in interleaved rounds; the medians and their ratio are printed, and every transcript's
phones and verdict are checked equal first.

    python bench/bench_speech_phonemise.py [--transcripts 300] [--rounds 7] [--language en-us]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from functools import lru_cache

WORDS = ("the doctor paid on of may and it cost then hello there world a quick brown fox jumps over lazy dog "
         "station river morning evening quietly remembered").split()
EXTRAS = ("$5.50", "1999", "3rd", "£20", "12,000", "7%", "你好", "世界", "Dr.", "iphone")


def transcripts(n: int, seed: int = 0) -> list[str]:
    """n sentences of 6 to 16 words, some with numbers, money or Han words: the mix curation sees."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = rng.choices(WORDS, k=rng.randint(6, 16))
        if rng.random() < 0.4:
            words.insert(rng.randrange(len(words)), rng.choice(EXTRAS))
        out.append(" ".join(words))
    return out


def _separator():
    from phonemizer.separator import Separator

    return Separator(phone=" ", word=" | ", syllable="")


@lru_cache(maxsize=4)
def _removing_backend(language: str):
    """The old phones' backend, made once per language as the old code cached it."""
    from phonemizer.backend import EspeakBackend

    return EspeakBackend(language, preserve_punctuation=False, with_stress=False, language_switch="remove-flags")


def two_calls(texts: list[str], language: str) -> list[tuple[list[str], float]]:
    """The old way: the phone encoder's remove-flags backend for the phones, a keep-flags call for the check."""
    from encoders.audio.transcript import Reading, _espeak_backend
    from encoders.audio.language import check

    removed, flagging, sep = _removing_backend(language), _espeak_backend(language), _separator()
    out = []
    for text in texts:
        line = removed.phonemize([text], separator=sep, strip=True, njobs=1)[0]
        phones = [p for p in line.split() if p and p != "|"]
        flagged = flagging.phonemize([text], separator=sep, strip=True, njobs=1)[0]
        out.append((phones, check(text, language, Reading([], flagged)).share))
    return out


def one_call(texts: list[str], language: str) -> list[tuple[list[str], float]]:
    """The new way, as SpeechPlugin.analyse does it."""
    from encoders.audio.transcript import read_transcript
    from encoders.audio.language import check

    out = []
    for text in texts:
        reading = read_transcript(text, language)
        out.append((reading.phones, check(text, language, reading).share))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--transcripts", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--language", default="en-us")
    args = ap.parse_args()
    import logging

    logging.getLogger("phonemizer").setLevel(logging.ERROR)  # its language-switch warnings, once per Han transcript

    from encoders.audio.transcript import normalise_transcript

    texts = [normalise_transcript(t, args.language) for t in transcripts(args.transcripts)]
    if one_call(texts, args.language) != two_calls(texts, args.language):
        raise SystemExit("the two ways disagree on some transcript's phones or verdict")
    times: dict[str, list[float]] = {"two calls": [], "one call": []}
    for _ in range(args.rounds):  # interleaved: drift in the machine's load hits both ways alike
        for name, way in (("two calls", two_calls), ("one call", one_call)):
            start = time.perf_counter()
            way(texts, args.language)
            times[name].append(time.perf_counter() - start)
    old, new = statistics.median(times["two calls"]), statistics.median(times["one call"])
    print(f"{args.transcripts} transcripts ({args.language}), {args.rounds} interleaved rounds, medians:")
    print(f"  two calls (before): {old * 1000:8.1f} ms  ({old / args.transcripts * 1e6:.0f} us per transcript)")
    print(f"  one call  (now):    {new * 1000:8.1f} ms  ({new / args.transcripts * 1e6:.0f} us per transcript)")
    print(f"  ratio before/now: {old / new:.2f}x")


if __name__ == "__main__":
    main()
