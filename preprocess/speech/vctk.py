"""VCTK as it ships: transcripts in a tree parallel to the audio (the speech plugin's grouping calls
``vctk_takes``; ``say_if_vctk_text_above`` when the audio folder alone was curated)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from preprocess.sources import CAPTION_SUFFIXES, Entry, Leftover, RawInput

# VCTK keeps its transcripts in a tree parallel to the audio: <root>/txt/<spk>/<utt>.txt captions
# <root>/wav48_silence_trimmed/<spk>/<utt>_mic1.flac (0.92: each take from two microphones, _mic1 and _mic2)
# or <root>/wav48/<spk>/<utt>.wav (0.80: one microphone). Before, every take was missing_caption and
# every transcript orphan_caption until the user copied the transcripts beside one microphone's takes.
VCTK_TEXT = "txt"
VCTK_AUDIO = ("wav48_silence_trimmed", "wav48")
VCTK_MICS = ("mic1", "mic2")


def _vctk_place(name: str) -> tuple[str, str, str, str] | None:
    """(corpus root: "" or "<folders>/", area: txt or an audio folder, speaker folder, file name) of a
    name three deep under a VCTK area, else None."""
    parts = name.split("/")
    if len(parts) < 3 or parts[-3] not in (VCTK_TEXT, *VCTK_AUDIO):
        return None
    return "".join(p + "/" for p in parts[:-3]), parts[-3], parts[-2], parts[-1]


def _vctk_utterance(file_name: str) -> tuple[str, str | None]:
    """(utterance id, microphone or None) of a VCTK audio file: p225_001_mic1.flac -> (p225_001, mic1);
    0.80's p225_001.wav -> (p225_001, None)."""
    stem = file_name.rsplit(".", 1)[0]
    base, _, mic = stem.rpartition("_")
    return (base, mic) if base and mic in VCTK_MICS else (stem, None)


def vctk_takes(entries: list[Entry], mic: str, audio_suffixes: tuple[str, ...]) -> tuple[list[Entry], list[Leftover]]:
    """The entries with each VCTK take of microphone ``mic`` (or 0.80's single one) captioned by its
    ``txt/<spk>/<utt>.txt`` (``row_caption``) and the transcripts out; the other microphone's takes,
    takes with no transcript, transcripts with no take and the corpus's notes beside ``txt/`` are
    leftovers saying so. A folder with no ``txt/`` beside a VCTK audio folder passes as it is, and a
    caption file beside a take (the copy the README used to ask for) still captions it."""
    places = {e.name: pl for e in entries if e.kind == "file" and (pl := _vctk_place(e.name)) is not None}
    texts = {(pl[0], pl[2], pl[3][:-4]): e for e in entries
             if (pl := places.get(e.name)) and pl[1] == VCTK_TEXT and e.suffix == ".txt"}
    takes = {e.name: (pl[0], pl[2], *_vctk_utterance(pl[3])) for e in entries
             if (pl := places.get(e.name)) and pl[1] in VCTK_AUDIO and e.suffix in audio_suffixes}
    roots = {t[0] for t in takes.values()} & {k[0] for k in texts}
    if not roots:
        return entries, []
    beside = {e.stem for e in entries if e.kind == "file" and e.suffix in CAPTION_SUFFIXES}
    present = {t for t in takes.values()}  # (root, speaker, utterance, microphone)
    speakers_with_text = {(root, spk) for root, spk, _ in texts}
    out, leftovers, used = [], [], {}
    for e in entries:
        take = takes.get(e.name)
        if take is None or take[0] not in roots:
            out.append(e)
            continue
        root, spk, utt, take_mic = take
        text = texts.get((root, spk, utt))
        if e.stem in beside:  # captioned beside it
            out.append(e)
            used.setdefault(text.name if text else "", f"the caption file beside {e.name.rsplit('/', 1)[-1]} is used")
        elif text is None:  # whichever microphone: the other one would not help
            why = (f"no {root}{VCTK_TEXT}/{spk}/{utt}.txt" if (root, spk) in speakers_with_text else
                   f"the corpus has no transcripts of speaker {spk}: no {root}{VCTK_TEXT}/{spk}/"
                   + ("; VCTK 0.92 ships none for p315" if spk == "p315" else ""))
            leftovers.append(Leftover(e, "no_transcript", why))
        elif take_mic not in (None, mic):
            curated = (f"its {mic} take is curated" if (root, spk, utt, mic) in present
                       else f"there is no {mic} take of {utt}: --set options.vctk_mic={take_mic} curates this microphone")
            leftovers.append(Leftover(e, "other_microphone", f"options.vctk_mic is {mic}; {curated}"))
        else:
            out.append(replace(e, row_caption=text))
            used[text.name] = ""
    texts_by_name = {e.name: key for key, e in texts.items() if key[0] in roots}
    rest = []
    for e in out:
        key = texts_by_name.get(e.name)
        if key is None:
            folder = e.name.rpartition("/")[0]
            if e.kind == "file" and e.suffix == ".txt" and (folder + "/" if folder else "") in roots:  # speaker-info.txt, README.txt
                leftovers.append(Leftover(e, "metadata_not_read", f"the corpus's notes beside {VCTK_TEXT}/, no transcript"))
            else:
                rest.append(e)
        elif used.get(e.name):
            leftovers.append(Leftover(e, "orphan_caption", used[e.name]))
        elif e.name not in used:
            root, spk, utt = key
            other = next((m for m in VCTK_MICS if m != mic and (root, spk, utt, m) in present), None)
            why = (f"no {mic} take of it (options.vctk_mic); its {other} take is in {root}{VCTK_AUDIO[0]}/{spk}/" if other
                   else f"no take of {utt} in {' or '.join(f'{root}{a}/{spk}/' for a in VCTK_AUDIO)}")
            leftovers.append(Leftover(e, "orphan_caption", why))
    return rest, leftovers


def say_if_vctk_text_above(inputs: list[RawInput]) -> None:
    """One warning when no take has a transcript and they are a VCTK audio folder's speakers whose
    ``txt/`` is beside that folder: ``lumina curate VCTK-Corpus-0.92/wav48_silence_trimmed`` left the
    transcripts outside the source."""
    import logging

    folders = {Path(i.uri).parent.parent for i in inputs if Path(i.uri).parent.parent.name in VCTK_AUDIO}
    found = sorted(f.parent for f in folders if (f.parent / VCTK_TEXT).is_dir())
    if found:
        logging.getLogger(__name__).warning(
            "no take has a transcript, and %s, where VCTK keeps them, is outside the source: curate %s instead",
            found[0] / VCTK_TEXT, found[0])
