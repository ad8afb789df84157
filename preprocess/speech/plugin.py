"""The speech modality: audio + transcript -> validated, normalised speech and its log-mel.

Sources: audio files (wav, flac, ogg, mp3) with a transcript .txt/.json (or LibriTTS's .normalized.txt)
beside them, or an LJSpeech-style ``metadata.csv`` (``id|transcript|normalised transcript``, audio in ``wavs/<id>.wav``),
or LibriSpeech's per-chapter ``<spk>-<chapter>.trans.txt`` (``<utt-id> TRANSCRIPT``, audio beside it),
or Common Voice's ``validated.tsv`` (its ``path`` and ``sentence`` columns, audio in ``clips/``),
or VCTK's ``txt/<spk>/<utt>.txt`` for ``wav48_silence_trimmed/<spk>/<utt>_mic1.flac`` (``wav48/<spk>/<utt>.wav``),
through any source kind. Curated shard members: ``flac`` (normalised 16-bit audio at 22,050 Hz) and
``mel.npy`` (the log-mel [80, frames], float32). The encoder's input is the log-mel in the layout
chosen by the ``layout`` option (recorded in every sample's meta); the identity latent encoder
normalises it with the dataset's mean and std, measured at encoding time (``normalisation.py``).
"""

from __future__ import annotations

import hashlib
import io
import json
import ntpath
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from contracts.config import OutOfRange, check_ranges
from contracts.keys import split_of
from contracts.members import META
from contracts.records import Batch, Modality, SampleRecord, VerdictRecord
from contracts.shards import npy_bytes, npy_load
from preprocess.modality import Candidate, ModalityPlugin
from preprocess.sources import CAPTION_SUFFIXES, Entry, Leftover, RawInput, group_by_stem
from encoders.audio import mel as melspec
from preprocess.speech.audio import TARGET_SR, AudioRejected, reject_if_longer
from preprocess.speech.curation import normalised_audio, prepare, silence_score
from preprocess.speech.dedup import FILTER_VERSION as DEDUP_VERSION, fingerprint, mark_near_duplicates
from preprocess.speech.kept_takes import kept_takes
from preprocess.speech.vctk import VCTK_MICS, say_if_vctk_text_above, vctk_takes
from encoders.audio.language import MAX_FOREIGN_WORD_SHARE, check as check_language, check_voice
from preprocess.speech.normalisation import frozen_statistics
from encoders.audio.transcript import asr_tags, normalise_transcript, read_transcript

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".aiff", ".aif", ".aifc")
AUDIO, MEL = "flac", "mel.npy"
FILTER_VERSION = "2"  # 2: snr reads true dB (audio.snr_db, linear-power minimum statistics); 1 read 5-11 dB high below 10 dB
LANGUAGE_CHECK_VERSION = "3"  # 3: a lone apostrophe is no word of another script (it rejected "she said ' hello '"); 2: as FILTER_VERSION
TAGS_VERSION = "3"  # a transcript with markup ("[noise]", "<unk>") is rejected transcript_tags; 2: HTML formatting ("<i>") is none;
# 3: only name=value attributes make a tag HTML ("<b and c>" is markup again: version 2 dropped it with its words)
CLIPPING_VERSION = "3"  # 3: a float file's full scale is its own peak when past 1.0 (a hot export was "clipped"); 2: as FILTER_VERSION
# the version of encoders/audio/transcript.normalise_transcript's readings: bump it with any change
# to what a transcript normalises to (tests/speech/test_transcript_version.py notices one), so the
# next curation writes the transcripts anew (curate.shard_settings); 1: clock times, phone numbers, ranges;
# 2: ISO dates, "7 pm" and "7 am" ("seven p m", "seven eh m": espeak-ng read "a m" with the article);
# 3: the decimal comma of German, French, Russian ... ("3,5" is "drei komma fünf", not 35);
# 4: decimals keep their zeros ("3,10": "drei komma eins null"), an impossible ISO date is read as its numbers;
# 5: "7.30 pm" is a clock time ("seven thirty p m"), not a decimal;
# 6: dates with the month's name read as the ISO ones, the day an ordinal ("December 12" and "Dec. 12": "december
# twelfth", was "december twelve" and "dec twelve"; "12 December": "the twelfth of december", was "twelve december")
# 7: "St." not before a name is "street" ("on St. James St. with": "on saint james street with", was "... saint with"),
# "the '80s" is "the eighties" (was "the ' eighty s"), "Dr.Smith" two words (was "doctorsmith")
# 8: degrees ("50°C": "fifty degrees celsius", was "fifty c"), money with a scale ("$2.5 million": "two point five
# million dollars", was "two point five dollars million")
# 9: markup tags dropped ("[noise]", "<unk>" read "noise", "unk"), URLs and e-mail addresses as said ("example.com":
# "example dot com", was "example com"), Roman numerals after chapter, part ... ("chapter four") and after a name
# ("Henry VIII": "henry the eighth"; were letters)
# 10: HTML formatting dropped ("he said <i>never</i> again": "he said never again", was "... never i again")
TRANSCRIPT_VERSION = "10"


@dataclass(frozen=True)
class SpeechOptions:
    min_sample_rate: int = 16_000  # an 8 kHz take has nothing above 4 kHz: the mel up to 8 kHz would be half empty
    max_clipping_ratio: float = 0.01  # fraction of samples at full scale
    silence_dbfs: float = -60.0  # below this RMS the file is silence
    min_snr_db: float = 10.0  # true dB (audio.snr_db: within ~2 dB from -5 to 15 dB); demo corpus: clean takes read 18.9 dB and up, the planted -6 dB take -5.4
    trim_top_db: float = 40.0  # leading/trailing frames this far below the peak are cut
    target_lufs: float = -23.0  # EBU R128
    min_duration: float = 0.2  # seconds, after trimming
    max_duration: float = 15.0
    min_phones_per_second: float = 3.0  # speaking-rate bounds: a transcript outside them cannot belong to the audio
    max_phones_per_second: float = 30.0
    language: str = "en-us"  # espeak-ng voice for every transcript of the run: one language per curation
    max_foreign_word_share: float = MAX_FOREIGN_WORD_SHARE  # words in a script the language lacks, or read by espeak-ng in another language
    dedup_max_distance: float = 0.15  # fingerprint distance (log-mel bands) at or below which two clips are one
    layout: str = "channels"  # "channels": [80, 1, 1, W], patches (1, pw); "image": [1, 1, 80, W]
    metadata_name: str = "metadata.csv"  # LJSpeech-style transcript listing
    vctk_mic: str = "mic1"  # VCTK 0.92 recorded each take with two microphones (_mic1/_mic2.flac): the one curated

    def __post_init__(self) -> None:
        if self.layout not in melspec.LAYOUTS:
            raise ValueError(f"layout must be one of {melspec.LAYOUTS}, got {self.layout!r}")
        if not 0 <= self.dedup_max_distance < float("inf"):  # a NaN matched nothing and then failed mid-run
            raise ValueError(f"dedup_max_distance must be a distance of 0 or more (0.15 by default: log-mel bands, "
                             f"preprocess/speech/dedup.py), got {self.dedup_max_distance!r}")
        check_ranges(self, min_sample_rate=">= 1", max_clipping_ratio="0..1", silence_dbfs="<= 0", min_snr_db="finite", trim_top_db="> 0",
                     target_lufs="<= 0 and finite", min_duration=">= 0", max_duration="> 0", min_phones_per_second=">= 0",
                     max_foreign_word_share="0..1")
        for low, high in (("min_duration", "max_duration"), ("min_phones_per_second", "max_phones_per_second")):
            if getattr(self, low) > getattr(self, high):
                raise OutOfRange(f"{low} ({getattr(self, low)}) must not exceed {high} ({getattr(self, high)})")
        if not self.metadata_name.strip() or "/" in self.metadata_name or "\\" in self.metadata_name:
            # matched against each file's name in any folder: a path matched none, and every take was missing_caption
            raise OutOfRange(f"metadata_name must be a file name (metadata.csv by default; found in any folder of the source), "
                             f"got {self.metadata_name!r}")
        if self.vctk_mic not in VCTK_MICS:
            raise OutOfRange(f"vctk_mic must be one of {', '.join(VCTK_MICS)} (VCTK 0.92's two microphones), got {self.vctk_mic!r}")
        check_voice(self.language)


def _posix_path(name: str) -> str:
    """A listing's path with '/' between its folders: a Windows tool's backslashes (a name holding
    no '/'; a backslash inside a file name is rarer than that, as multi-view camera files read them)
    and without a leading ``./``."""
    if "\\" in name and "/" not in name:
        name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name


def _audio_id(column: str, audio_folder: str = "wavs/") -> str:
    """A metadata line's id as LJSpeech writes it (``LJ001-0001``), also where the listing wrote the
    audio's file name (``LJ001-0001.wav``) or its path (``wavs/LJ001-0001.wav``), as other tools'
    LJSpeech-style files do. Before, such a line named no audio and its take was missing_caption.
    A path whose last folder is the listing's audio folder (``clips/x.mp3``, ``/data/cv/en/clips/x.mp3``
    in a Common Voice ``path`` column) names the file of that name there: it was looked for in
    ``clips/clips/`` and said to be missing from ``clips/``. A relative path is relative to the listing:
    ``wavs/spk1/x.wav`` names ``spk1/x`` in ``wavs/``, and ``a/wavs/x.wav`` no file of ``wavs/`` (taking
    any path's last folder gave the first no take, and the second the transcript of the listing's own
    ``wavs/x.wav``). A path a Windows tool wrote (``wavs\\x.wav``, ``C:\\data\\clips\\x.mp3``) is read with
    '/' for its backslashes, and a leading ``./`` is dropped (each named no file: metadata_without_audio)."""
    name = _posix_path(column.strip())
    folder, _, base = name.rpartition("/")
    if audio_folder and name.startswith(audio_folder):
        name = name[len(audio_folder):]
    elif audio_folder and ntpath.isabs(name) and folder.rpartition("/")[2] + "/" == audio_folder:  # /data/..., C:/data/...
        name = base
    base, dot, suffix = name.rpartition(".")
    return base if dot and base and f".{suffix.lower()}" in AUDIO_SUFFIXES else name


class MalformedLine(ValueError):
    """A listing line that names no take as its columns are, with what is wrong (for malformed_metadata_line)."""


def _unquoted(field: str) -> str:
    """A field as written by a CSV writer that quotes (``"He said ""hi""."``, as some Common Voice
    releases did) -> its text (``He said "hi".``); any other field as it is: Common Voice's own files
    are unquoted, and a sentence may begin and end with a quotation mark of its own."""
    inner = field[1:-1]
    if len(field) >= 2 and field[0] == field[-1] == '"' and '"' not in inner.replace('""', ""):
        return inner.replace('""', '"')
    return field


def _tab_columns(line: str, width: int | None) -> list[str]:
    """A tab-separated line's columns. One with more columns than its header names is read as a
    CSV writer quotes (a quoted field may hold a tab); if that does not give the header's count
    either, a field holds a tab and where it ends is unknown: MalformedLine (it was cut at the tab,
    and the take kept the first part as its whole transcript)."""
    cols = line.rstrip("\r\n").split("\t")
    if width is None or len(cols) <= width:
        return [_unquoted(c) for c in cols]
    import csv

    try:
        quoted = next(csv.reader([line.rstrip("\r\n")], delimiter="\t", quotechar='"'), [])
    except csv.Error as e:  # a quoted field past csv's limit (128 KiB) ended the whole curation in a traceback
        raise MalformedLine(f"{len(cols)} tab-separated columns where its header names {width}, and read as "
                            f"CSV-quoted: {e}") from None
    if len(quoted) == width:
        return quoted
    raise MalformedLine(f"{len(cols)} tab-separated columns where its header names {width}: "
                        f"a tab inside a field (remove it, or quote the field)")


@dataclass(frozen=True)
class Listing:
    """A transcript listing's line format: LJSpeech's metadata.csv (``id|text|normalised text``, audio
    in ``wavs/``) or LibriSpeech's per-chapter ``<spk>-<chapter>.trans.txt`` (``<utt-id> TEXT``, audio
    beside it)."""

    audio_folder: str  # where the audio a line names is, relative to the listing's folder
    form: str  # a line's fields, for empty_metadata
    expected: str  # for malformed_metadata_line
    header: tuple[str, str] | None = None  # the id and transcript columns a first (header) line names
    columns: tuple[int, int] | None = None  # their places, once the header is read (``reading``)
    width: int | None = None  # how many columns the header names

    def reading(self, header_line: str) -> Listing | None:
        """This listing with its columns found in a header line (tab-separated), or None if it lacks one."""
        names = [c.strip() for c in header_line.rstrip("\r\n").split("\t")]
        if self.header is None or not all(c in names for c in self.header):
            return None
        return replace(self, columns=(names.index(self.header[0]), names.index(self.header[1])), width=len(names))

    def split(self, line: str) -> tuple[str, str] | None:
        """(id, transcript) of a line, or None where it has no id; MalformedLine where its columns
        cannot be told apart."""
        if self.columns is not None:
            cols, (i, j) = _tab_columns(line, self.width), self.columns
            if len(cols) <= max(i, j) or not cols[i].strip() or not cols[j].strip():
                return None
            return _audio_id(cols[i], self.audio_folder), cols[j].strip()
        if self.audio_folder:
            cols = line.split("|")
            if len(cols) < 2:
                return None
            return _audio_id(cols[0]), (cols[2] if len(cols) > 2 and cols[2].strip() else cols[1]).strip()
        utt_id, _, text = line.strip().partition(" ")
        return (utt_id, text.strip()) if utt_id and text.strip() else None  # an id alone: no transcript line

    def named_take(self, line: str) -> str | None:
        """The take a header listing's line names in its id column, where the line gives it no
        transcript (an empty sentence, a tab inside a field), else None: that take's reason says so."""
        if self.columns is None:
            return None
        cols = line.rstrip("\r\n").split("\t")
        i = self.columns[0]
        return _audio_id(_unquoted(cols[i]), self.audio_folder) if len(cols) > i and cols[i].strip() else None


LJSPEECH = Listing("wavs/", "id|transcript", "expected id|transcript[|normalised transcript]")
LIBRISPEECH = Listing("", "<utterance id> <transcript>", "expected <utterance id> <transcript>")
LIBRISPEECH_SUFFIX = ".trans.txt"  # LibriSpeech: <spk>/<chapter>/<spk>-<chapter>.trans.txt beside <utt-id>.flac
# Common Voice: <locale>/validated.tsv (a header line, then client_id, path, sentence, ... per take) for
# clips/<path>; its train/dev/test.tsv split the same takes, other/invalidated.tsv list takes not validated
COMMON_VOICE = Listing("clips/", "path<TAB>sentence", "expected the path and sentence columns its header names",
                       header=("path", "sentence"))
COMMON_VOICE_NAME = "validated.tsv"
LISTING_SUFFIX_NOT_READ = ".tsv"  # Common Voice's other listings beside validated.tsv


def _listing_of(entry: Entry, metadata_name: str) -> Listing | None:
    base = entry.name.rsplit("/", 1)[-1]
    if entry.kind != "file":
        return None
    if base == metadata_name:
        return LJSPEECH
    if base == COMMON_VOICE_NAME:
        return COMMON_VOICE
    return LIBRISPEECH if base.lower().endswith(LIBRISPEECH_SUFFIX) and len(base) > len(LIBRISPEECH_SUFFIX) else None


def _nth(name: str, n: int) -> str:
    """A listing line's name fragment key: ``take`` for the first line of a take (or of a malformed
    text), ``take.2`` for the second, ...: no fragment of one kind can be another's, whatever the take's name."""
    return name if n == 1 else f"{name}.{n}"


def _metadata_lines(entry: Entry, listing: Listing = LJSPEECH,
                    malformed_takes: dict[str, str] | None = None) -> tuple[list[tuple[str, Entry]], list[Leftover], tuple[str, str] | None]:
    """metadata.csv (or a LibriSpeech .trans.txt) -> (stem of the audio it names (``<dir>/wavs/<id>``;
    ``<dir>/<id>``), the line as a caption entry) per line; lines that name no id are leftovers;
    (reason kind, detail) when the file cannot be read (unreadable_metadata) or holds no line
    (empty_metadata). Blank lines are no input.

    A line is named by what it says, not by its number: by the
    take it names (``metadata.csv#take=wavs/LJ001-0001``; the second line naming that take
    ``#take.2=wavs/LJ001-0001``), a malformed one by its bytes (``#malformed=<12 hex of their sha256>``,
    ``#malformed.2=`` for a second such line). The source index knows an entry by its name: under
    ``#line=N`` one line inserted above (a new Common Voice release, a take added in id order) re-named
    every line after it, so refresh re-curated every take after it (until e6c960b) and re-recorded every
    line that captions nothing (a Common Voice subset's lines naming no clip downloaded: most of them),
    retiring the rows of the names left over. Messages name a line so too (``where``: a take's row is
    kept while its line moves, and ``metadata.csv line 2`` would go stale in it).

    Each line is decoded on its own: one that is not UTF-8 still goes with the audio it names, as a
    caption that is no UTF-8 (read_caption names the file and line), and every other line captions
    its audio. Decoding the whole file at once made one stray byte leave every clip without a caption.
    ``malformed_takes`` (if given) gets {stem: why} of each take a malformed line still names by its id column."""
    try:
        data = entry.read()
    except OSError as e:
        return [], [], ("unreadable_metadata", f"{type(e).__name__}: {e}")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(data) >= 4 and max(data[0::2].count(0), data[1::2].count(0)) >= len(data) // 4):
        # UTF-16 (Windows Notepad's "Unicode"): split at b"\n", no line of it would name an audio file
        return [], [], ("unreadable_metadata", "it looks like UTF-16: save it as UTF-8")
    data = data.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark (Windows editors write one) is no id
    folder = entry.name.rsplit("/", 1)[0] + "/" if "/" in entry.name else ""
    base = entry.name.rsplit("/", 1)[-1]
    lines, bad = [], []
    seen: dict[str, int] = {}  # a take's (or malformed text's) fragment -> the lines so far that have it
    def named(kind: str, what: str) -> str:
        seen[f"{kind}={what}"] = n = seen.get(f"{kind}={what}", 0) + 1
        return f"#{_nth(kind, n)}={what}"

    for i, raw in enumerate(data.splitlines()):
        if not raw.strip():
            continue
        if listing.header is not None and listing.columns is None:  # its first line names the columns
            found = listing.reading(raw.decode("utf-8", "replace"))
            if found is None:
                return [], [], ("unreadable_metadata", f"its first line names no {' and '.join(listing.header)} columns")
            listing = found
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line, not_utf8 = None, f"not UTF-8 ({e.reason} at byte {e.start}): save it as UTF-8"
        try:
            parsed, malformed = listing.split(line if line is not None else raw.decode("utf-8", "replace")), None
        except MalformedLine as e:
            parsed, malformed = None, str(e)
        if parsed is None or not parsed[0].strip() or (line is None and "\ufffd" in parsed[0]):
            # no id, or an id that is not UTF-8 (no file's name: it is no caption of any audio)
            detail = (malformed or listing.expected) if line is not None else not_utf8
            at = named("malformed", hashlib.sha256(raw).hexdigest()[:12])
            bad.append(Leftover(Entry(entry.name + at, entry.uri + at, len(raw), ("bytes", raw), where=base + at),
                                "malformed_metadata_line", detail))
            if line is not None and malformed_takes is not None and (take := listing.named_take(line)):
                # not "line 3": the clip's row is kept while its line moves (grep the listing for the clip's name)
                malformed_takes.setdefault(f"{folder}{listing.audio_folder}{take}", f"a malformed line of {base} names it: {detail}")
            continue
        stem = f"{folder}{listing.audio_folder}{parsed[0]}"
        at = named("take", f"{listing.audio_folder}{parsed[0]}")
        where = base + at  # caption_not_utf8: metadata.csv#take=wavs/x: ...
        if line is None:  # the audio it names is quarantined caption_not_utf8
            lines.append((stem, Entry(entry.name + at, entry.uri + at, len(raw), ("bytes", raw), where=where)))
            continue
        caption = parsed[1]
        text = caption.encode("utf-8")
        lines.append((stem, Entry(entry.name + at, entry.uri + at, len(text), ("bytes", text), text=caption, where=where)))
    if not lines and not bad and listing.header is not None and listing.columns is not None:
        return [], [], ("empty_metadata", f"no take under its {' and '.join(listing.header)} header")
    if not lines and not bad:
        return [], [], ("empty_metadata", f"no {listing.form} line: " + ("0 bytes" if not data else "only blank lines"))
    return lines, bad, None


def _no_audio(stem: str, line: Entry) -> str:
    """metadata_without_audio's detail: the file the line names, relative to where it was looked for
    (``no audio file other/x.* in clips/``; the folder it named was left out, as if in clips/)."""
    listing_folder = line.name.partition("#take")[0].rpartition("/")[0]  # a take's name may hold a '#'
    named = stem[len(listing_folder) + 1:] if listing_folder else stem
    folder, _, rest = named.partition("/")
    if rest and f"{folder}/" in (LJSPEECH.audio_folder, COMMON_VOICE.audio_folder):
        return f"no audio file {rest}.* in {folder}/"
    return f"no audio file {named}.* beside it"


def _line_name(caption: Entry) -> str:
    """How a reason names the caption that a take has: its file's name (``a.txt``), or a listing's
    line as the source index knows it (``metadata.csv#take=wavs/a``)."""
    return caption.where or caption.name


# Common Voice's listings of clips in clips/ that are not validated, and what they mean
NOT_VALIDATED = {"invalidated.tsv": "its listeners voted it down", "other.tsv": "not yet voted valid"}


def _clip_stems(entry: Entry) -> list[str]:
    """The stems (``<folder>/clips/<id>``) of the clips a Common Voice listing's path column names."""
    lines, _, _ = _metadata_lines(entry, COMMON_VOICE)
    return [stem for stem, _ in lines]


def _without_unvalidated_clips(inputs: list[RawInput], common_voice: set[str],
                               listed_elsewhere: dict[str, str],
                               malformed_takes: dict[str, str]) -> tuple[list[RawInput], list[Leftover]]:
    """The inputs less the Common Voice clips no validated line captions, each a leftover not_validated
    saying which listing names it. They were quarantined missing_caption ("no caption beside the media")
    and copied to the quarantine folder, one copy per clip the corpus itself does not validate.
    A clip a malformed validated.tsv line names (an empty sentence, a tab inside one) is validated:
    it is malformed_metadata_line, naming that line (it was not_validated, "no line names it")."""
    clips = {f"{folder}/clips/" if folder else "clips/" for folder in common_voice}
    kept, leftovers = [], []
    for item in inputs:
        folder = item.name.rpartition("/")[0] + "/"
        if item.caption is not None or folder not in clips:
            kept.append(item)
            continue
        media = item.media["media"]
        if media.stem in malformed_takes:
            leftovers.append(Leftover(media, "malformed_metadata_line", malformed_takes[media.stem]))
            continue
        listing = listed_elsewhere.get(media.stem)
        why = (f"{listing} lists it: {NOT_VALIDATED[listing]}" if listing
               else f"no line of {COMMON_VOICE_NAME} names it")
        leftovers.append(Leftover(media, "not_validated", why))
    return kept, leftovers

# LibriTTS writes each utterance's transcript twice beside its audio: <id>.normalized.txt (numbers and
# abbreviations spelled out by its authors) and <id>.original.txt (the book's text); the first is used
TRANSCRIPT_VARIANTS = (".normalized", ".original")


def _transcript_variants(entries: list[Entry], audio: set[str], beside: set[str]) -> tuple[list[Entry], dict[str, Entry], list[Leftover]]:
    """(the entries without the variant transcripts of an audio file, {audio stem: its transcript
    entry}, the variants left unused): ``<id>.normalized.txt`` before ``<id>.original.txt``, a plain
    ``<id>.txt``/``.json`` before both. A variant with no audio of its id stays an entry (orphan_caption).
    Before, a LibriTTS folder was all missing_caption audio and orphan_caption transcripts."""
    found: dict[str, list[tuple[int, Entry]]] = {}
    kept = []
    for e in entries:
        base, _, variant = e.stem.rpartition(".")
        if e.kind == "file" and e.suffix == ".txt" and f".{variant}" in TRANSCRIPT_VARIANTS and base in audio:
            found.setdefault(base, []).append((TRANSCRIPT_VARIANTS.index(f".{variant}"), e))
        else:
            kept.append(e)
    attached, unused = {}, []
    for base, variants in found.items():
        variants.sort(key=lambda v: v[0])
        if base not in beside:
            attached[base] = variants.pop(0)[1]
        used = attached[base].name.rsplit("/", 1)[-1] if base in attached else "the caption file beside the audio"
        unused += [Leftover(e, "orphan_caption", f"{used} is used") for _, e in variants]
    return kept, attached, unused


def _named_after_the_audio_file(leftover: Leftover, uncaptioned: set[str]) -> Leftover:
    """An orphan ``take.wav.txt`` beside a ``take.wav`` that has no transcript: its reason names the
    file that would caption the take. It said "no media of the same name" beside take.wav itself, and
    the take was missing_caption (helper L's walkthrough: a tool that names its output after the
    whole file name)."""
    if leftover.reason_kind != "orphan_caption":
        return leftover
    audio = leftover.entry.stem
    if audio not in uncaptioned:
        return leftover
    stem, _, _ = audio.rpartition(".")
    wanted = stem.rsplit("/", 1)[-1] + leftover.entry.suffix
    return replace(leftover, detail=f"it is named after {audio.rsplit('/', 1)[-1]} with its extension; that take's "
                                    f"transcript is {wanted}: rename it")


def say_if_metadata_above(inputs: list[RawInput], metadata_name: str) -> None:
    """One warning when no take has a transcript and the folder above their ``wavs/`` holds the
    listing: ``lumina curate LJSpeech-1.1/wavs`` quarantined every take missing_caption, the
    metadata.csv that captions them being outside the source."""
    import logging

    folders = {Path(i.uri).parent for i in inputs if Path(i.uri).parent.name == "wavs"}
    found = sorted(str(f.parent / metadata_name) for f in folders if (f.parent / metadata_name).is_file())
    if found:
        logging.getLogger(__name__).warning(
            "no take has a transcript, and %s, which captions the takes in wavs/, is outside the source: curate %s instead",
            found[0], Path(found[0]).parent)


class SpeechPlugin(ModalityPlugin):
    modality = Modality.SPEECH
    media_suffixes = AUDIO_SUFFIXES
    options_cls = SpeechOptions
    text_encoder = "phone"  # speech is conditioned on the transcript's phonemes
    caption_version = TRANSCRIPT_VERSION
    caption_name = "transcript"  # an empty one's reason says so (it said "caption_present: score 0 vs threshold 1")
    filter_versions = {  # refusals before the analysis with a score, then the analysis, near duplicates
        **dict.fromkeys(("invalid_samples", "sample_rate", "silence", "snr", "min_duration", "max_duration",
                         "transcript_phones", "min_speaking_rate", "max_speaking_rate"), FILTER_VERSION),
        "clipping_ratio": CLIPPING_VERSION, "wrong_language": LANGUAGE_CHECK_VERSION, "transcript_tags": TAGS_VERSION,
        "audio_fingerprint_dedup": DEDUP_VERSION,
    }

    def group(self, entries: list[Entry], opts: SpeechOptions) -> tuple[list[RawInput], list[Leftover]]:
        entries, leftovers = vctk_takes(entries, opts.vctk_mic, self.media_suffixes)
        rest, lines = [], []
        common_voice = {e.name.rpartition("/")[0] for e in entries if _listing_of(e, opts.metadata_name) is COMMON_VOICE}
        listed_elsewhere: dict[str, str] = {}  # a Common Voice clip's stem -> the listing of takes not validated that names it
        unread: set[str] = set()  # folders whose validated.tsv could not be read
        malformed_takes: dict[str, str] = {}  # a Common Voice clip's stem -> the malformed validated line naming it
        for e in entries:
            if e.suffix == LISTING_SUFFIX_NOT_READ and e.name.rpartition("/")[0] in common_voice and _listing_of(e, opts.metadata_name) is None:
                leftovers.append(Leftover(e, "metadata_not_read", f"{COMMON_VOICE_NAME} beside it gives the validated takes their transcripts"))
                if e.name.rpartition("/")[2] in NOT_VALIDATED:
                    listed_elsewhere.update(dict.fromkeys(_clip_stems(e), e.name.rpartition("/")[2]))
            elif (listing := _listing_of(e, opts.metadata_name)) is not None:
                found, bad, error = _metadata_lines(e, listing, malformed_takes)
                lines += found
                leftovers += bad
                if error:
                    leftovers.append(Leftover(e, *error))
                    unread.add(e.name.rpartition("/")[0])  # its clips stay missing_caption: the listing's row says why
            else:
                rest.append(e)
        # each metadata line goes with the audio it names, unless a caption file sits beside that
        # audio (it wins) or an earlier line named it; every other line is a leftover with its reason
        audio = {e.stem for e in rest if e.kind == "file" and e.suffix in self.media_suffixes}
        beside = {e.stem for e in rest if e.kind == "file" and e.suffix in CAPTION_SUFFIXES}
        rest, attached, unused = _transcript_variants(rest, audio, beside)
        leftovers += unused
        beside |= set(attached)
        for stem, line in lines:
            name = stem.rsplit("/", 1)[-1]
            if stem not in audio:
                leftovers.append(Leftover(line, "metadata_without_audio", _no_audio(stem, line)))
            elif stem in beside:
                leftovers.append(Leftover(line, "metadata_line_unused", f"the caption file beside {name} is used"))
            elif stem in attached:
                # not its line number: this row is kept while the lines move (both are named by the take)
                leftovers.append(Leftover(line, "metadata_line_unused", f"{_line_name(attached[stem])} gives {name} its transcript"))
            else:
                attached[stem] = line
        rest = [replace(e, row_caption=attached[e.stem]) if e.stem in attached and e.suffix in self.media_suffixes else e
                for e in rest]
        inputs, more = group_by_stem(rest, self.media_suffixes)
        inputs, not_validated = _without_unvalidated_clips(inputs, common_voice - unread, listed_elsewhere, malformed_takes)
        more += not_validated
        uncaptioned = {i.name for i in inputs if i.caption is None}  # once: it was built again for each leftover
        more = [_named_after_the_audio_file(m, uncaptioned) for m in more]
        if not lines and inputs and all(i.caption is None for i in inputs):
            say_if_metadata_above(inputs, opts.metadata_name)
            say_if_vctk_text_above(inputs)
        return inputs, leftovers + more

    def analyse(self, item: RawInput, caption: str, key: str, opts: SpeechOptions) -> list[Candidate]:
        base = dict(key=key, modality="speech", source_uri=item.uri, split=split_of(key))
        transcript = normalise_transcript(caption, opts.language)
        try:
            data = item.media["media"].read()
            reject_if_longer(data, opts.max_duration)  # from the header: a long file is never decoded whole
            p = prepare(data, opts.trim_top_db, opts.target_lufs, opts.silence_dbfs)
        except AudioRejected as r:
            verdicts = []
            if r.kind == "silence":
                verdicts = [VerdictRecord(key, "silence", FILTER_VERSION, silence_score(r), opts.silence_dbfs, False)]
            elif r.score is not None:
                verdicts = [VerdictRecord(key, r.kind, FILTER_VERSION, r.score, r.threshold, False)]
            reason = (f"{r.kind}: score {silence_score(r):g} vs threshold {r.threshold:g}{_unit_of('silence')}" if r.kind == "silence"
                      else f"{r.kind}: {r.detail}")
            return [Candidate(SampleRecord(status=r.status, reason=reason, caption=transcript, **base), verdicts, item)]

        reading = read_transcript(transcript, opts.language)  # once: phones and the language check's switch flags
        phones = reading.phones
        rate = len(phones) / max(p.duration, 1e-3)
        lang = check_language(transcript, opts.language, reading)
        tags = asr_tags(caption)  # sounds or words the transcript does not spell: the model would learn them from no phone
        verdicts = [
            VerdictRecord(key, "sample_rate", FILTER_VERSION, float(p.original_sr), float(opts.min_sample_rate), p.original_sr >= opts.min_sample_rate),
            VerdictRecord(key, "clipping_ratio", CLIPPING_VERSION, p.clipping_ratio, opts.max_clipping_ratio, p.clipping_ratio <= opts.max_clipping_ratio),
            VerdictRecord(key, "silence", FILTER_VERSION, p.rms_dbfs, opts.silence_dbfs, True),
            VerdictRecord(key, "snr", FILTER_VERSION, p.snr_db, opts.min_snr_db, p.snr_db >= opts.min_snr_db),
            VerdictRecord(key, "min_duration", FILTER_VERSION, p.duration, opts.min_duration, p.duration >= opts.min_duration),
            VerdictRecord(key, "max_duration", FILTER_VERSION, p.duration, opts.max_duration, p.duration <= opts.max_duration),
            VerdictRecord(key, "transcript_tags", TAGS_VERSION, float(len(tags)), 0.0, not tags),
            VerdictRecord(key, "wrong_language", LANGUAGE_CHECK_VERSION, lang.share, opts.max_foreign_word_share, lang.share <= opts.max_foreign_word_share),
            VerdictRecord(key, "transcript_phones", FILTER_VERSION, float(len(phones)), 1.0, len(phones) >= 1),
            VerdictRecord(key, "min_speaking_rate", FILTER_VERSION, rate, opts.min_phones_per_second, rate >= opts.min_phones_per_second),
            VerdictRecord(key, "max_speaking_rate", FILTER_VERSION, rate, opts.max_phones_per_second, rate <= opts.max_phones_per_second),
        ]
        logmel = melspec.log_mel(p.audio)
        failed = [v for v in verdicts if not v.passed]
        status, reason = "accepted", None
        if failed:
            v = failed[0]
            status, reason = "rejected", f"{v.filter}: score {v.score:g} vs threshold {v.threshold:g}{_unit_of(v.filter)}"
            if v.filter == "wrong_language":
                reason = lang.reason(opts.language)
            elif v.filter in ("min_speaking_rate", "max_speaking_rate"):
                reason = speaking_rate_reason(v, len(phones), p.duration)
            elif v.filter == "transcript_tags":
                reason = (f"transcript_tags: {', '.join(dict.fromkeys(tags))} in the transcript (a sound or word it does not "
                          f"spell, which the model would learn with no phone for it; remove the take or the tags)")
        meta = {
            "transcript": caption, "phonemes": " ".join(phones), "n_phones": len(phones), "mel_frames": int(logmel.shape[1]),
            "original_sample_rate": p.original_sr, "channels": p.channels, "raw_duration": round(p.raw_duration, 4),
            "loudness_lufs": round(p.loudness_lufs, 2), "snr_db": round(p.snr_db, 2), "phones_per_second": round(rate, 3),
            "mel_layout": opts.layout, "mel": melspec.MEL.to_dict(), "language": opts.language,
        }
        rec = SampleRecord(status=status, reason=reason, caption=transcript, width=int(logmel.shape[1]), height=melspec.MEL.n_mels,
                           frames=1, duration=round(p.duration, 4), sample_rate=TARGET_SR, meta=meta, **base)
        return [Candidate(rec, verdicts, item, (fingerprint(logmel), p.duration))]

    def near_duplicates(self, cands: list[Candidate], opts: SpeechOptions, catalog: str | None = None,
                        leaving: frozenset[str] = frozenset()) -> None:
        # with the takes earlier runs kept (their log-mel read back from their curated shards: kept_takes.py),
        # as video and image do; no catalog: within this run only
        with kept_takes(catalog, self.modality.value, cands, MEL, leaving) as kept:  # their fingerprints' file: freed when the search ends
            mark_near_duplicates(cands, opts.dedup_max_distance, kept)

    def curated_members(self, cand: Candidate, opts: SpeechOptions) -> dict[str, bytes]:
        """The shard's audio and log-mel of an accepted take, made again from its bytes (cheaper than
        shipping audio between processes): only curation.prepare's audio chain, not the measurements
        the analysis already judged (the SNR estimate was a third of the writer's CPU on 1,000 takes)."""
        import soundfile as sf

        y = normalised_audio(cand.source.media["media"].read(), opts.trim_top_db, opts.target_lufs)
        buf = io.BytesIO()
        sf.write(buf, y, TARGET_SR, format="FLAC", subtype="PCM_16")
        return {AUDIO: buf.getvalue(), MEL: npy_bytes(melspec.log_mel(y))}

    def media_array(self, fields: dict[str, bytes]) -> np.ndarray:
        """The log-mel as it is, in the sample's layout: normalising is the latent encoder's job."""
        meta: dict[str, Any] = json.loads(fields.get(META, b"{}") or b"{}")
        return melspec.to_latent(npy_load(fields[MEL]), meta.get("mel_layout", "channels"))

    def text_options(self, text_encoder: str, shard_uris: list[str]) -> dict:
        """The encode stage's hook: the phone encoder reads transcripts in the voice they were curated
        in (each shard's first sample's meta: one curation, one language). Shards curated before the
        language was recorded are en-us, the only voice then."""
        if text_encoder != "phone":
            return {}
        languages = {language_of_shard(uri) for uri in shard_uris}
        if len(languages) > 1:
            raise ValueError(f"the curated speech shards are in {len(languages)} languages ({', '.join(sorted(languages))}): "
                             f"the phone encoder reads one; curate each language into its own --home")
        return {"language": languages.pop()} if languages else {}

    def latent_options(self, encoded_dir: Path, latent: str, shard_uris: list[str]) -> dict:
        """The encode stage's hook: the identity encoder's shift and scale from the dataset's log-mel
        mean and std (frozen per workspace at the first encoding)."""
        if latent != "identity":
            return {}
        return frozen_statistics(encoded_dir, shard_uris).latent_options()


# What a speech verdict's score measures, said after "score X vs threshold Y": "clipping_ratio: score
# 0.131998 vs threshold 0.01" left a user to guess a share from a percentage, "snr: score 7 vs threshold 10"
# dB from anything else (helper L's walkthrough).
SCORE_UNITS = {
    "sample_rate": "the file's own rate in Hz",
    "clipping_ratio": "the share of samples at full scale, before any gain",
    "silence": "RMS in dBFS",
    "snr": "estimated signal-to-noise ratio in dB",
    "min_duration": "seconds of audio after trimming its ends",
    "max_duration": "seconds of audio after trimming its ends",
}


def _unit_of(filter_name: str) -> str:
    return f" ({SCORE_UNITS[filter_name]})" if filter_name in SCORE_UNITS else ""


def speaking_rate_reason(v: VerdictRecord, n_phones: int, seconds: float) -> str:
    """A speaking-rate rejection in its unit, with the figures it rests on and what usually causes it.
    It said only "score 2.81146 vs threshold 3": a user with a long pause inside a take (its ends are
    trimmed, its middle is not) could not tell phones per second from anything else."""
    slow = v.filter == "min_speaking_rate"
    bound, cause = (("at least", "a long pause inside the take, or words the transcript leaves out?") if slow
                    else ("at most", "a transcript with words the take does not say, or a cut take?"))
    return (f"{v.filter}: {v.score:.2f} phones per second, {bound} {v.threshold:g} wanted ({n_phones} phones of the "
            f"transcript in {seconds:.2f} s of audio after trimming its ends: {cause})")


def language_of_shard(shard_uri: str) -> str:
    """The espeak-ng voice a curated shard's transcripts are in (its batch file's first sample)."""
    batch = Batch.path_beside(shard_uri)
    samples = Batch.read(batch).samples if batch.exists() else []
    return next((s.meta.get("language", "en-us") for s in samples if s.meta), "en-us")
