"""The video modality: decode, validate, cut at scene changes, score and normalise video clips.

One source file may become several samples: each scene is its own clip, keyed from the file's
key and its time span. Per clip, in order: length bounds, fps normalisation and frame sampling,
motion (static / jittery), image quality on the middle frame; near duplicates on keyframe hashes.
The curated shard holds the clip's frames as ``frames.npy`` (uint8 [T, H, W, C], lossless).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from contracts.config import OutOfRange, check_ranges
from contracts.keys import sample_key, split_of
from contracts.records import Modality, SampleRecord, VerdictRecord
from contracts.shards import npy_bytes, npy_load
from preprocess.filters.quality import QUALITY_FILTERS, QUALITY_VERSION, QualityThresholds, quality_verdicts, technical_quality
from preprocess.modality import Candidate, ModalityPlugin, error_reason
from preprocess.sources import RawInput
from preprocess.video.clips import resample, resize_frames, sample_evenly, sample_rate
from preprocess.video.decode import VIDEO_SUFFIXES, DecodedVideo, VideoRejected, decode_video
from preprocess.video.dedup import FILTER_VERSION as DEDUP_VERSION, kept_in_catalog, keyframe_hashes, mark_near_duplicates, middle_colour
from preprocess.video.motion import jitter_score, motion_score
from preprocess.video.scenes import content_scores, scene_cuts, scenes, thumbnails

MEDIA = "frames.npy"  # curated member: uint8 [T, H, W, C]
# 3: a flash is no scene cut; GIF/APNG/WebP frames of 10 ms or less last 100 ms, as browsers show them;
# transparent frames on white (clips' durations, splits and pictures changed; refresh names older curations)
# 2: motion on 8 frames evenly over the clip (1: on the picked frames, fewer steps at frames=16)
FILTER_VERSION = "3"
# The motion score is measured on this many frames taken evenly over the clip, whatever `frames` is: on
# the picked frames, a curation with more of them (a second stage of longer clips) measured smaller
# steps between frames and rejected clips it had accepted as `static` (a walkthrough: 5 of 36 clips at
# frames=16 that passed at 8). 8 is the default `frames`, whose scores stay as they were.
MOTION_FRAMES = 8


@dataclass(frozen=True)
class VideoOptions:
    fps: float = 8.0  # clips are resampled to this rate before frame sampling
    # frames per clip, taken evenly over the clip (fewer when the clip has fewer), so the clip's rate varies
    # with its length; 0: every tick at `fps` from the clip's start up to `max_seconds`, so a clip keeps its
    # duration (duration x fps frames, a 1 s clip 8 and a 3 s clip 24 at 8 fps) at one frame rate, as
    # Lumina-T2X trains (clips of different lengths in one batch: the model pads each to the longest)
    frames: int = 8
    min_frames: int = 2  # after resampling
    min_seconds: float = 1.0  # clips shorter than this are rejected
    max_seconds: float = 10.0  # longer clips keep their first max_seconds
    scene_min_score: float = 0.04  # content difference (mean abs of 8x8 luma thumbnails, 0..1) ...
    scene_ratio: float = 3.0  # ... and this many times the neighbouring frames' difference
    min_motion: float = 0.004  # mean abs luma difference between consecutive frames of MOTION_FRAMES (0..1)
    max_jitter: float = 2.0  # path length / net displacement of the global translation
    keyframe_max_distance: int = 10  # near duplicates: largest pHash distance over 3 keyframes
    max_tokens: int = 256  # latent patch tokens per frame (256 = 256x256 px on an 8x VAE, patch 2)
    patch_size: int = 2
    vae_factor: int = 8  # 8 for SD VAEs, 1 for identity (pixel-space) latents
    grey: bool = False  # one channel (the digit demo in pixel space); SD VAEs need RGB
    work_side: int = 256  # frames are decoded at most this large for analysis
    max_frames: int = 20_000  # decoded frames per file
    quality: bool = True  # the image quality filters on the middle frame

    def __post_init__(self) -> None:
        if self.frames < 0:
            raise OutOfRange(f"frames must be >= 0 (0: every frame at fps, the clip's own length), got {self.frames!r}")
        if self.min_frames < 1 or self.fps <= 0:
            raise ValueError("min_frames and fps must be positive")
        if self.min_seconds > self.max_seconds:
            raise ValueError("min_seconds must not exceed max_seconds")
        check_ranges(self, fps="> 0 and finite", min_seconds=">= 0", max_seconds="> 0", scene_min_score=">= 0", scene_ratio=">= 0",
                     min_motion=">= 0 and finite", max_jitter=">= 0", keyframe_max_distance=">= 0", max_tokens=">= 1", patch_size=">= 1",
                     vae_factor=">= 1", work_side=">= 1", max_frames=">= 1")


# meta clip_start and scene_end are rounded to 4 decimals, a clip's key hashes its span at 3: the span
# the key hashed lies within this of the meta's, so the 3-decimal labels at both ends of it hold its label
_META_ROUNDING = 6e-5


def scene_clip_key(key: str, index: int, start: float, end: float) -> str:
    """The key of clip ``index`` (scene start to end, in seconds) of an input keyed ``key`` cut into several."""
    return sample_key(key, f"clip {index}: {start:.3f}-{end:.3f} s")


def _keys_of_clip(key: str, meta: dict[str, Any]) -> set[str]:
    """The keys a clip of an input keyed ``key`` may have been given, from its meta's rounded span."""
    index, start, end = meta.get("clip_index"), meta.get("clip_start"), meta.get("scene_end")
    if not isinstance(index, int) or not isinstance(start, (int, float)) or not isinstance(end, (int, float)):
        return set()  # a row from before the span was recorded: not known to be a clip of this key
    near = (-_META_ROUNDING, 0.0, _META_ROUNDING)
    return {scene_clip_key(key, index, start + a, end + b) for a in near for b in near}


def _verdict(key: str, name: str, score: float, threshold: float, passed: bool) -> VerdictRecord:
    return VerdictRecord(key, name, FILTER_VERSION, float(score), float(threshold), bool(passed))


class VideoPlugin(ModalityPlugin):
    modality = Modality.VIDEO
    media_suffixes = VIDEO_SUFFIXES
    options_cls = VideoOptions
    curate_flags = {"max_tokens": "", "vae_factor": ""}  # the flags image offers, with its help
    filter_versions = {  # the decoder's refusals with a score, then each clip's checks, quality, near duplicates
        **dict.fromkeys(("no_video_stream", "too_many_pixels", "too_many_frames", "no_frames", "still_image", "min_duration",
                         "min_frames", "motion", "jitter"), FILTER_VERSION),
        **dict.fromkeys(QUALITY_FILTERS, QUALITY_VERSION),
        "keyframe_dedup": DEDUP_VERSION,
    }

    def analyse(self, item: RawInput, caption: str, key: str, opts: VideoOptions) -> list[Candidate]:
        data = item.media["media"].read()
        base = dict(modality="video", source_uri=item.uri, caption=caption, split=split_of(key))
        try:
            video = decode_video(data, opts.max_frames, work_side=opts.work_side)
        except VideoRejected as r:
            verdicts = [] if r.score is None else [_verdict(key, r.kind, r.score, r.threshold, False)]
            return [Candidate(SampleRecord(key=key, status=r.status, reason=str(r), **base), verdicts, item)]
        except Exception as e:  # noqa: BLE001 - FFmpeg and numpy raise many types for corrupt data
            # no object addresses or temp paths in the reason: the same file, the same reason, every run
            return [Candidate(SampleRecord(key=key, status="quarantined", reason=error_reason("decode_error", e), **base), source=item)]

        thumbs = thumbnails(video.frames)  # once: the scores and the flash check both read them
        scores = content_scores(video.frames, thumbs)
        cuts = scene_cuts(scores, opts.scene_min_score, opts.scene_ratio, thumbs=thumbs)  # a flash is no cut
        spans = scenes(len(video.frames), cuts)
        out = []
        for i, (a, b) in enumerate(spans):
            start = float(video.times[a])
            end = float(video.times[b]) if b < len(video.frames) else video.duration
            # one scene keeps the file's key; clips of a cut file get keys from the key and their span
            clip_key = key if len(spans) == 1 else scene_clip_key(key, i, start, end)
            out.append(self._clip(item, video, clip_key, i, len(spans), start, end, float(scores[a]), base, opts))
        return out

    def made_from(self, key: str, rows: list[tuple[str, dict[str, Any]]]) -> bool:
        """Whether ``rows`` ((sample key, meta) of the current samples of one input) are every clip
        analyse cut from an input keyed ``key``: each clip's key is made from ``key`` and its span, so
        a refresh that finds them all need not decode the file again. A file cut otherwise now (a
        changed file: another key; clips missing or left over) is not."""
        if len(rows) == 1:
            return rows[0][0] == key
        metas = [meta for _, meta in rows]
        if any(meta.get("clips_in_source") != len(rows) for meta in metas):
            return False
        if {meta.get("clip_index") for meta in metas} != set(range(len(rows))):  # each clip once
            return False
        return all(row_key in _keys_of_clip(key, meta) for row_key, meta in rows)

    def _clip(self, item: RawInput, video: DecodedVideo, key: str, index: int, count: int, start: float, end: float,
              cut_score: float, base: dict, opts: VideoOptions) -> Candidate:
        kept_end = min(end, start + opts.max_seconds)
        ticks = resample(video.times, start, kept_end, opts.fps)
        picked = sample_evenly(ticks, opts.frames) if opts.frames else ticks  # frames 0: every tick, the clip's own length
        frames = resize_frames(video.frames[picked], opts.max_tokens, opts.patch_size * opts.vae_factor, opts.grey)
        duration = kept_end - start
        in_clip = video.times[(video.times >= start) & (video.times < kept_end)]
        span = in_clip[-1] - start if len(in_clip) else 0.0  # first to last source frame of the clip
        verdicts = [
            _verdict(key, "min_duration", duration, opts.min_seconds, duration >= opts.min_seconds),
            _verdict(key, "min_frames", len(picked), opts.min_frames, len(picked) >= opts.min_frames),
        ]
        motion = motion_score(video.frames[sample_evenly(ticks, MOTION_FRAMES)])
        verdicts.append(_verdict(key, "motion", motion, opts.min_motion, motion >= opts.min_motion))
        # on the picked frames; with frames 0 on MOTION_FRAMES over the clip, as motion: the default's frames, score
        # and verdict (frames 8 picks these), so frames 0 keeps the clips the default keeps. Every tick would also
        # see shake between consecutive frames that 8 over the clip miss (the demo's planted jittery clip: 15.7 on
        # its 16 ticks, 2.6 on 8; a pan wobbling 2 px on alternate frames: 2.6 on 24 ticks, 1.0 on 8)
        shaken = sample_evenly(ticks, opts.frames or MOTION_FRAMES)
        jitter = jitter_score(video.frames[shaken]) if motion >= opts.min_motion else 1.0
        verdicts.append(_verdict(key, "jitter", jitter, opts.max_jitter, jitter <= opts.max_jitter))
        quality: dict[str, float] = {}
        if opts.quality:
            quality = technical_quality(video.frames[picked[len(picked) // 2]])
            verdicts += quality_verdicts(key, quality, QualityThresholds())
        failed = [v for v in verdicts if not v.passed]
        status, reason = "accepted", None
        if failed:
            v = failed[0]
            kind = {"motion": "static", "min_duration": "clip_too_short"}.get(v.filter, v.filter)
            status, reason = "rejected", f"{kind}: {v.filter} {v.score:g} vs threshold {v.threshold:g}"
        meta: dict[str, Any] = {
            "clip_index": index, "clips_in_source": count, "clip_start": round(start, 4), "clip_end": round(kept_end, 4),
            "scene_end": round(end, 4), "cut_score": round(cut_score, 5), "frame_indices": [int(i) for i in picked],
            # the rate to play the frames at; frames 0: the ticks' own, fps (their source frames are only the nearest)
            "sample_fps": sample_rate(video.times, picked) if opts.frames else float(opts.fps),
            "source_fps": round(video.fps, 4), "source_frames": int(len(video.frames)), "source_duration": round(video.duration, 4),
            "container": video.container, "codec": video.codec, "original_size": list(video.native_size),
            # which of near copies is kept (dedup.preference): the source's own frames in this clip and its stream
            "source_span": round(float(span), 4), "video_bitrate": round(video.bitrate), "lossless": video.lossless,
            "motion": round(motion, 6), "jitter": round(jitter, 4), "quality": {k: round(v, 5) for k, v in quality.items()},
            "channels": int(frames.shape[-1]),
            "latent_factor": opts.vae_factor,  # the token budget was counted for this downsampling (encode checks it)
        }
        if video.deinterlaced:  # its fields were made whole frames (a DVD's or broadcast MPEG-2)
            meta["deinterlaced"] = True
        if video.note:  # accepted, but worth a look (a GIF without its trailer)
            meta["decode_note"] = video.note
        if status == "accepted":  # the catalog's search across runs needs it beside the hashes (dedup.store_hashes)
            meta["colour_signature"] = middle_colour(frames)
        rec = SampleRecord(key=key, status=status, reason=reason, width=int(frames.shape[2]), height=int(frames.shape[1]),
                           frames=int(frames.shape[0]), duration=round(duration, 4), meta=meta, **base)
        return Candidate(rec, verdicts, item, keyframe_hashes(frames))

    def near_duplicates(self, cands: list[Candidate], opts: VideoOptions, catalog: str | None = None,
                        leaving: frozenset[str] = frozenset()) -> None:
        # with the clips earlier runs kept, as image does; a catalog without stored hashes: within this run
        kept = kept_in_catalog(catalog, self.modality.value, cands, leaving)
        mark_near_duplicates(cands, opts.keyframe_max_distance, kept)

    def curated_members(self, cand: Candidate, opts: VideoOptions) -> dict[str, bytes]:
        video = decode_video(cand.source.media["media"].read(), opts.max_frames, work_side=opts.work_side)
        picked = np.asarray(cand.record.meta["frame_indices"], dtype=int)
        return {MEDIA: npy_bytes(resize_frames(video.frames[picked], opts.max_tokens, opts.patch_size * opts.vae_factor, opts.grey))}

    def media_array(self, fields: dict[str, bytes]) -> np.ndarray:
        frames = npy_load(fields[MEDIA]).astype(np.float32)  # [T, H, W, C]
        return (frames / 127.5 - 1.0).transpose(3, 0, 1, 2)  # [C, T, H, W] in [-1, 1]
