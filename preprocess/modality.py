"""The modality seam: what each kind of media must provide, and the registry that finds it.

Everything generic (sources, keys, exact dedup, shards, the catalog, Ray) lives outside; everything
that knows a file format lives in ``preprocess/<modality>/`` behind this interface. A new modality
is this package and its line in ``PLUGINS``, an ``evaluation/<modality>/`` package with its lines
in ``MODALITY_EVALUATORS``, ``SAMPLE_WRITERS`` (and ``SAMPLE_HOOKS`` where sampling needs its own
flags or conditioning), the enum value, and a catalog migration for the ``samples.modality`` CHECK:
README.md, "Adding a modality", has the whole list. Generic code names no modality
(tests/contracts/test_modality_names.py): what one needs there, its plugin declares.
"""

from __future__ import annotations

import importlib
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from contracts.records import Modality, SampleRecord, VerdictRecord
from preprocess.sources import Entry, Leftover, RawInput, group_by_stem

PLUGINS = {
    Modality.IMAGE: "preprocess.image.plugin:ImagePlugin",
    Modality.VIDEO: "preprocess.video.plugin:VideoPlugin",
    Modality.MULTIVIEW: "preprocess.multiview.plugin:MultiviewPlugin",
    Modality.SPEECH: "preprocess.speech.plugin:SpeechPlugin",
}

# the filters the generic curation (preprocess/curate.py, its FILTER_VERSION) runs for every modality
GENERIC_FILTERS = ("media_size", "caption_length", "caption_present", "exact_dedup")


@dataclass(slots=True)  # slots: the curate driver holds one per input to the end of a run (~40 bytes less each)
class Candidate:
    """One would-be sample after analysis: its record, its filter verdicts, what near-duplicate
    search needs (``signature``), and how to read its media again when the shard is written."""

    record: SampleRecord
    # a list; the curate driver holds them packed (preprocess/packed_verdicts.py), which reads as one
    verdicts: list[VerdictRecord] = field(default_factory=list)
    source: RawInput | None = None
    signature: Any = None  # the modality's near-duplicate signature (hashes, colours, fingerprints)
    # accepted from this same file by an earlier run (curate sets it): first among its near copies, so
    # it stays kept (a new copy that sorted first by name rejected it when a folder was curated again)
    kept_before: bool = False

    @property
    def accepted(self) -> bool:
        return self.record.status == "accepted"


class ModalityPlugin(ABC):
    modality: Modality
    media_suffixes: tuple[str, ...] = ()
    options_cls: type  # a frozen dataclass of the modality's curation options
    text_encoder: str = "minilm"  # what lumina encode conditions on without --text (speech: phones)
    # whether one media file is a whole input; False where an input is a folder of files (multi-view's
    # views): a loose file of its suffixes is then no hint that this modality would take it
    single_file_inputs: bool = True
    # file names that make their folder one input of this modality (multi-view's camera files): a
    # curation as another modality that meets them and accepts nothing suggests this one
    input_markers: tuple[str, ...] = ()
    # options_cls fields that lumina curate and lumina refresh offer as flags (--max-tokens), each
    # with its help ("": the help another modality gives the same flag, else the field's comment)
    curate_flags: dict[str, str] = {}
    # the version of the plugin's caption normalisation ("": it keeps captions as written). Keys hash
    # the raw caption, so a normalisation that reads the same caption differently keeps every key:
    # the version is in the curated shards' names, so that bumping it makes the next curation write
    # shards with the new captions instead of keeping the complete ones with the old
    caption_version: str = ""
    # what its users call a caption, in the reasons curation gives ("transcript" where it is what a take says)
    caption_name: str = "caption"
    # the filters its curation runs (analysis, a rejection with a score, near duplicates, a scoring
    # stage), each by the name its verdicts carry (verdicts.filter) -> the version they carry, from
    # the constant the verdicts are made with; curation_versions adds the generic curation's. A filter
    # missing here fails tests/preprocess/test_g_declared_filters.py
    filter_versions: dict[str, str] = {}

    def options(self, values: dict[str, Any] | None) -> Any:
        from contracts.config import from_mapping

        return from_mapping(self.options_cls, values or {}, where=f"{self.modality.value} options")

    def group(self, entries: list[Entry], opts: Any) -> tuple[list[RawInput], list[Leftover]]:
        """Entries -> would-be samples and leftovers. Default: one media file + caption beside it."""
        return group_by_stem(entries, self.media_suffixes)

    @abstractmethod
    def analyse(self, item: RawInput, caption: str, key: str, opts: Any) -> list[Candidate]:
        """Decode, validate and score one input whose caption is already read and checked.
        May return several candidates (a video split at scene cuts). Raise only for unexpected bugs;
        expected failures (decode errors) come back as quarantined candidates via ``quarantined``."""

    def content_parts(self, item: RawInput) -> list[bytes]:
        """The bytes the sample key hashes (with the caption). Default: the media entries' bytes."""
        return [item.media[k].read() for k in sorted(item.media)]

    def scoring_stage(self, opts: Any) -> Any:
        """A model-bearing scoring step (a ``Stage`` over Candidates, ``execution = "actors"``, its
        model loaded once per worker in ``setup()``, an optional ``num_actors``) run on the
        candidates still accepted after analysis and exact dedup; it appends verdicts and rejects
        what fails. Built in the driver, so it checks its paths there. None, the default, when the
        options turn no model on: then nothing is loaded and curation is as without it."""
        return None

    def near_duplicates(self, cands: list[Candidate], opts: Any, catalog: str | None = None,
                        leaving: frozenset[str] = frozenset()) -> None:
        """Mark near duplicates among accepted candidates (in place), with a verdict naming the match;
        `catalog`: also against the samples earlier runs kept there, where the modality can, except
        those of the inputs in `leaving` (a refresh retires them)."""

    @abstractmethod
    def curated_members(self, cand: Candidate, opts: Any) -> dict[str, bytes]:
        """The normalised media members of the curated shard: field -> bytes (without the key)."""

    @abstractmethod
    def media_array(self, fields: dict[str, bytes]) -> np.ndarray:
        """Curated members of one sample -> the encoder's input [C, T, H, W] float32
        (pixels in [-1, 1]; speech: the raw log-mel, which the identity encoder normalises with
        the dataset's statistics)."""

    def frame_cond(self, fields: dict[str, bytes]) -> np.ndarray | None:
        """Per-frame conditioning [T, K] (cameras of multi-view), or None."""
        return None

    # Optional: ``latent_options(encoded_dir, latent_name, shard_uris) -> dict``, latent-encoder
    # options measured on the curated data before encoding (speech: the log-mel mean and std as
    # the identity encoder's shift and scale); preprocess/encode.latent_options looks it up.
    # Optional: ``text_options(text_encoder_name, shard_uris) -> dict``, text-encoder options the
    # curation recorded (speech: the espeak-ng voice its transcripts are in, for the phone encoder).
    # Optional: ``made_from(key, rows) -> bool``, whether ``rows`` ((sample key, meta) of one input's
    # current samples) are every sample analyse made of an input keyed ``key``, for an input cut into
    # several (video's scenes): the first refresh after `lumina curate` then leaves it alone
    # (preprocess/refresh.py _without_already_curated).


def curation_versions(plugin: ModalityPlugin) -> dict[str, str]:
    """The versions of the code that decides what a curation of ``plugin``'s modality keeps and how,
    by the names a user reads in the catalog: ``caption normalisation`` (the plugin's caption_version,
    where it has one), then each filter by the name its verdicts carry (verdicts.filter) with the
    version they carry (filter_version): the generic curation's (GENERIC_FILTERS, preprocess/curate.py's
    FILTER_VERSION) and the plugin's ``filter_versions``. Curate and refresh runs record them
    (runs.parameters curation_versions), a refresh says when the source's samples were curated with
    others (flows/refresh.py stale_curation_note), and data_to_model's curate cache key holds them."""
    from preprocess.curate import FILTER_VERSION  # here: preprocess.curate imports this module

    caption = {"caption normalisation": plugin.caption_version} if plugin.caption_version else {}
    return {**caption, **dict.fromkeys(GENERIC_FILTERS, FILTER_VERSION), **plugin.filter_versions}


def own_size(record: SampleRecord) -> dict:
    """width/height of the source (meta original_size) for a record rejected after it was sized for the shard."""
    size = record.meta.get("original_size") if record.meta else None
    return {"width": int(size[0]), "height": int(size[1])} if size else {}


def keep_own_size_when_rejected(cands: list[Candidate]) -> None:
    """A row rejected after analysis sized it for the shard (caption_present, exact_duplicate, a CLIP
    score, a near duplicate) gets its source's size back, whatever its modality: curate and refresh
    call it once every candidate has its final status."""
    for c in cands:
        if c.record.status == "rejected" and (size := own_size(c.record)):
            c.record = replace(c.record, **size)


_ADDRESS = re.compile(r"<([\w.]+) object at 0x[0-9a-fA-F]+>")
_HEX = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")


def error_reason(kind: str, exc: BaseException) -> str:
    """``kind: ExcType: message`` with run-specific text removed (object addresses, temp paths),
    so the same bad input gives the same reason on every run and is registered once."""
    msg = _ADDRESS.sub(r"<\1>", str(exc))
    msg = _HEX.sub("0x?", msg)
    msg = " ".join(msg.split())
    return f"{kind}: {type(exc).__name__}: {msg}" if msg else f"{kind}: {type(exc).__name__}"


_loaded: dict[Modality, ModalityPlugin] = {}


def get_plugin(modality: str | Modality) -> ModalityPlugin:
    m = Modality.parse(modality)
    if m not in _loaded:
        module, _, cls = PLUGINS[m].partition(":")
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name and module.startswith(e.name):
                raise ValueError(f"modality {m.value!r} is not available yet in this version") from None
            raise
        _loaded[m] = getattr(mod, cls)()
    return _loaded[m]
