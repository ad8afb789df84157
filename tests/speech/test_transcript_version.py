"""A change to what a transcript normalises to comes with a new TRANSCRIPT_VERSION: the version is
in the curated shards' names (preprocess/curate.py, shard_settings), and without a bump a curation
of the same files keeps the shards with the old transcripts (keys hash the raw transcript).

The probes touch every rule of encoders/audio/transcript.normalise_transcript; their readings'
digest is recorded per version. A change that moves any reading fails here until the version is
bumped and the new digest recorded beside it."""

from __future__ import annotations

import hashlib

from encoders.audio.transcript import normalise_transcript
from preprocess.curate import CurateConfig, shard_settings
from preprocess.speech.plugin import TRANSCRIPT_VERSION, SpeechPlugin

PROBES = [
    ("Dr. Smith paid $5.50 on the 3rd, No. 7 of 10.", "en-us"), ("Café & crème, don\u2019t", "en-us"),
    ("the 1990s, in 1999, -5 degrees, 3.10%, 3 €, £1, ¥20", "en-us"), ("Meet at 7:00, 12:05 pm, 14:00, 10:00 am", "en-us"),
    ("call 555-0199 or (555) 123-4567, 1-800-555-0199", "en-us"), ("chapters 1-3, ages 3\u20135, 500-1000, $5-10", "en-us"),
    ("12-25-2020, 1:30:15, ratio 3:1, 2021-05-15", "en-us"), ("at 7 pm, 7pm, 7 p.m., 7 am, 7 a.m., I am", "en-us"),
    ("Es ist 7:00 Uhr, 1-3, 3,5", "de"), ("3,10 m am 2021-02-30", "de"), ("on 2021-02-30", "en-us"), ("at 7.30 pm, 7.30 dollars", "en-us"),
    ("December 12, Dec. 5th 2026, 12 December, on the 26th May, 12/03/2026, question 5 may", "en-us"), ("日本語を話します 3", "ja"), ("Привет 5", "ru"),
    ("on St. James St. with 3 cats, Main St., the '80s, Dr.Smith", "en-us"), ("50°C, 72 °F, 10°, $2.5 million, £1 Billion", "en-us"),
    ("[noise] see https://www.example.com/docs, a@b.co.uk; Henry VIII, Chapter IV, World War I, the part I liked <unk>", "en-us"),
    ("He said <i>never</i> again.<br/>Un<b>believ</b>able", "en-us"),
]
DIGESTS = {  # TRANSCRIPT_VERSION -> sha256 of the probes' readings, one per line (up to 3: before the date and "3,10" probes; up to 4: before "7.30 pm"; up to 5: before the named dates; up to 6: before "St."; up to 7: before degrees; up to 8: before tags, URLs and Roman numerals; up to 9: before HTML formatting)
    "1": "d9d86f1acc1942588e73eddeeee3ed0a85d575362df5ccf10818363d1708eea0",
    "2": "a9ce3035cce7b1c422ee2cf4da84bdb4f0003f94ff1b0ed1d8a0cc1b66c25a82",
    "3": "ac3ff0c5dfd840ef1b923428f3cd58068b920f9164c71ffb496a0f24a9da19fa",  # the decimal comma ("3,5" in German)
    "4": "d09516f5fa20a5b3f6bbf9388ee33541f542797da2fec288d9841047f69a88db",  # decimals keep their zeros; an impossible ISO date is its numbers
    "5": "75f216a1791b9f963fa351e7f77c4338ae0240423b64ef72b7acac8e9896d6bb",  # "7.30 pm" is a clock time
    "6": "c7d394f298f194d477fde3c54bcaf83d648c7123115ce0ea3de9d48b98b0dee9",  # "December 12": "december twelfth", "12 December": "the twelfth of december"
    "7": "1c12493f11119a8072d05fca5e25206f36f7372f02384a6b601ae2deb78ca867",  # "James St. with": "street"; "the '80s": "the eighties"; "Dr.Smith": two words
    "8": "607b7af2fbdba7ef259257842dea31c69739f56ba84ad63b74583423ac113f31",  # "50°C": "fifty degrees celsius" (was "fifty c"); "$2.5 million": "two point five million dollars"
    "9": "6aa1680e4ec06ad3d7def2577c1ed6918bbd5b49587e3ee259457fed388481c0",  # tags dropped, URLs as said ("example dot com"), Roman numerals after chapter/part and a name
    "10": "e33499646c9db2eedc2d0da213e06b51d882414da3848d79b7c30d8fae2b1145",  # HTML formatting dropped ("<i>never</i>": "never", was "never i")
}


def readings_digest() -> str:
    return hashlib.sha256("\n".join(normalise_transcript(t, lang) for t, lang in PROBES).encode()).hexdigest()


def test_a_changed_normalisation_comes_with_a_new_transcript_version():
    digest = readings_digest()
    assert DIGESTS.get(TRANSCRIPT_VERSION) == digest, (
        f"normalise_transcript reads the probes differently from TRANSCRIPT_VERSION {TRANSCRIPT_VERSION}: bump it "
        f"(preprocess/speech/plugin.py) and record DIGESTS[new version] = {digest!r}")
    assert len(set(DIGESTS.values())) == len(DIGESTS)  # each version reads differently


def test_the_transcript_version_names_the_speech_shards():
    plugin = SpeechPlugin()
    assert shard_settings(plugin, plugin.options({}), CurateConfig(modality="speech"))["caption_version"] == TRANSCRIPT_VERSION
