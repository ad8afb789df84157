"""The multi-view modality: a sample is N view images of one object, a camera file and a caption.

Curation, in order (the first failure is the reason; every check leaves a verdict with its score):
the camera file parses (else quarantined), the view count is within bounds, every listed view is
present and decodes, all views share one size, rotations are orthonormal, every camera looks at
the bounding-box centre, no two views are identical, no view is blank, and each view's technical
quality passes (worst view per score). Views are put in canonical order (by azimuth, then
elevation); the same object from another folder is a near duplicate (pHash + colour of the
ordered view mosaic). The curated shard holds ``views.png`` (the ordered views side by side,
square, ``size`` pixels) and ``cameras.json`` (canonical c2w with azimuth/elevation/radius). The
encoder input starts the ordered ring at a hashed view (``ring_start``), cameras alike.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from contracts.config import OutOfRange, check_ranges
from contracts.keys import split_of
from contracts.records import Modality, SampleRecord, VerdictRecord
from preprocess.filters.quality import QUALITY_FILTERS, QUALITY_VERSION, QualityThresholds, quality_verdicts, technical_quality
from preprocess.image.decode import ImageRejected
from preprocess.image.dedup import FILTER_VERSION as DEDUP_VERSION
from preprocess.image.dedup import PHASH_BANDS, colour_bytes, kept_in_catalog, mark_near_duplicates, perceptual_hash
from preprocess.modality import Candidate, ModalityPlugin, error_reason
from encoders.cameras import (Camera, CameraFileError, CameraSet, camera_separation_deg, camera_vector, canonical_json,
                              look_at_error_deg, misread_axes, repeated_cameras, rotation_error, spherical_of)
from preprocess.multiview.group import CAMERA_FILE, CAMERA_FILES, VIEW_SUFFIXES, group_multiview, read_cameras
from preprocess.multiview.views import (decode_view, foreground, most_different_size, pair_differences,
                                        split_strip, square_view, strip_png)
from preprocess.sources import RawInput

VIEWS = "views.png"  # curated members
CAMERAS = "cameras.json"
FILTER_VERSION = "2"  # 2: views decoded as images (on white), distinct_views by camera pose, view_fill by alpha


@dataclass(frozen=True)
class MultiviewOptions:
    min_views: int = 2
    max_views: int = 16
    max_rotation_error: float = 1e-3  # max |R^T R - I|
    max_look_at_deg: float = 5.0  # principal axis vs the ray to the bbox centre
    # distinct_views (README): views are one image written twice when their mean |a - b| (0..255) is
    # under min_copy_difference whatever their cameras, or under min_view_difference when their cameras
    # stand within same_pose_deg of each other or every view is alike. A symmetric object seen from
    # cameras apart (a lego brick 90 degrees round: 0.42) is no fault.
    min_copy_difference: float = 0.05
    min_view_difference: float = 0.5
    same_pose_deg: float = 2.0
    min_fill: float = 0.01  # share of foreground pixels of the emptiest view
    quality: bool = True  # reject on the image quality filters (worst view); verdicts are kept either way
    max_solid_fraction: float = 0.97
    min_contrast: float = 0.05
    min_sharpness: float = 0.07
    max_highlight_clip: float = 0.3  # clipping is judged on the object, not the backdrop (white renders)
    max_shadow_clip: float = 0.97
    max_focal_spread: float = 1.01  # largest / smallest focal length over the views (the cameras carry no field of view)
    phash_max_distance: int = 12
    colour_max_diff: float = 12.0
    size: int = 32  # curated views are size x size
    # pixels per latent of the encoder you will use (8 for --latent sd15/sdxl, 1 for identity): size must be a
    # multiple, as image's square size. lumina curate --vae-factor was "unknown option" here until 2026-12-07
    vae_factor: int = 8

    def __post_init__(self) -> None:
        check_ranges(self, min_views=">= 1", max_views=">= 1", max_rotation_error=">= 0", max_look_at_deg=">= 0",
                     min_copy_difference=">= 0 and finite", min_view_difference=">= 0 and finite", same_pose_deg=">= 0", min_fill="0..1",
                     max_focal_spread=">= 1", phash_max_distance=f"0..{PHASH_BANDS - 1}", colour_max_diff=">= 0", size=">= 1", vae_factor=">= 1")  # phash: the banded search's limit, refused there only after the whole analysis
        if self.min_views > self.max_views:
            raise OutOfRange(f"min_views ({self.min_views}) must not exceed max_views ({self.max_views})")
        if self.size % self.vae_factor:  # lumina encode would refuse every view, after the whole curation
            f = self.vae_factor
            near = " or ".join(str(n) for n in dict.fromkeys((self.size // f * f, -(-self.size // f) * f)) if n)
            raise ValueError(f"size {self.size} is not a multiple of vae_factor {f}: {f}x VAEs (--latent sd15, sdxl) cannot "
                             f"encode {self.size}x{self.size} views; give {near}, or vae_factor 1 (--vae-factor 1) if you will "
                             "encode with --latent identity")
        self.thresholds()  # the image quality thresholds' own ranges

    def thresholds(self) -> QualityThresholds:
        return QualityThresholds(max_solid_fraction=self.max_solid_fraction, min_contrast=self.min_contrast,
                                 min_sharpness=self.min_sharpness, max_highlight_clip=self.max_highlight_clip,
                                 max_shadow_clip=self.max_shadow_clip)


@dataclass
class Decoded:
    """A sample's views in canonical order, with their cameras (spherical form around the bbox)."""

    cameras: CameraSet
    names: list[str]
    views: list[np.ndarray]
    spherical: list[tuple[float, float, float]]  # (elevation, azimuth, radius)
    masks: list[np.ndarray]  # [H, W] bool: the object in each view (views.foreground)


class Rejected(Exception):
    def __init__(self, status: str, reason: str, verdict: VerdictRecord | None = None):
        super().__init__(reason)
        self.status, self.reason, self.verdict = status, reason, verdict


def _verdict(key: str, name: str, score: float, threshold: float, passed: bool) -> VerdictRecord:
    return VerdictRecord(key, name, FILTER_VERSION, float(score), float(threshold), bool(passed))


def _worst(scores: dict[str, float]) -> str:
    """The view with the largest score, a NaN counting as the largest (max() may skip past a NaN)."""
    return max(scores, key=lambda f: (math.isnan(scores[f]), scores[f]))


def _focal_spread(focal: list[float]) -> float:
    """Largest / smallest focal length; NaN (a failed check) when one is not finite and > 0."""
    return max(focal) / min(focal) if all(math.isfinite(f) and f > 0 for f in focal) else math.nan


def _decoded_view(item: RawInput, file: str, key: str) -> tuple[np.ndarray, np.ndarray | None]:
    """One view decoded as an image is; a refusal or corrupt data raises Rejected naming the view."""
    try:
        data = item.media[file].read()
        if not data:  # PIL would say "cannot identify image file <_io.BytesIO>"
            raise ImageRejected("empty_file", "0 bytes")
        return decode_view(data)
    except ImageRejected as r:  # the image path's statuses: a file too large or empty is quarantined
        status = "quarantined" if r.kind in ("too_many_pixels", "empty_file") else "rejected"
        verdict = None if r.score is None else _verdict(key, r.kind, r.score, r.threshold, False)
        detail = f"view {file} is 0 bytes" if r.kind == "empty_file" else f"view {file}: {r.detail}"
        raise Rejected(status, f"{r.kind}: {detail}", verdict) from None
    except Exception as e:  # noqa: BLE001 - PIL raises many types for corrupt data
        raise Rejected("quarantined", error_reason(f"view_decode_error: {file}", e)) from None


def load_views(item: RawInput, key: str, opts: MultiviewOptions, verdicts: list[VerdictRecord]) -> Decoded:
    """Parse, check and order one sample's views; raise Rejected on the first failed check."""
    try:
        cams = read_cameras(item.media[CAMERA_FILE].read())
    except CameraFileError as e:
        raise Rejected("quarantined", f"camera_file_unparsable: {e}") from None
    n = len(cams.cameras)
    # two one-sided verdicts, as speech's min/max_duration: one "view_count" verdict held min_views
    # as its threshold when it failed and max_views when it passed, so drop rates showed the wrong bound
    verdicts.append(_verdict(key, "min_views", n, opts.min_views, n >= opts.min_views))
    verdicts.append(_verdict(key, "max_views", n, opts.max_views, n <= opts.max_views))
    if n < opts.min_views:
        raise Rejected("rejected", f"min_views: {n} view{'s' if n != 1 else ''} in the camera file, fewer than {opts.min_views}")
    if n > opts.max_views:
        raise Rejected("rejected", f"max_views: {n} views in the camera file, more than {opts.max_views}")
    missing = [c.file for c in cams.cameras if c.file not in item.media or not c.file.lower().endswith(VIEW_SUFFIXES)]
    verdicts.append(_verdict(key, "views_present", len(missing), 0, not missing))
    if missing:
        first = missing[0]
        where = ("not in the sample" if first.lower().endswith(VIEW_SUFFIXES) else  # the file may be there: say why it is no view
                 f"not a view image (views are {', '.join(VIEW_SUFFIXES)})")
        raise Rejected("rejected", f"views_present: {first} is in the camera file but {where} ({len(missing)} missing)")
    decoded = {c.file: _decoded_view(item, c.file, key) for c in cams.cameras}
    views = {f: rgb for f, (rgb, _) in decoded.items()}
    masks = {f: foreground(rgb, drawn) for f, (rgb, drawn) in decoded.items()}
    sizes, odd = most_different_size(views)
    verdicts.append(_verdict(key, "view_size", sizes, 1, sizes == 1))
    if sizes != 1:
        # name the size it differs from: "the other views are not" left the user to open every file
        h, w = views[odd].shape[:2]
        common = Counter(v.shape[:2] for v in views.values() if v.shape[:2] != (h, w)).most_common(1)[0]
        (ch, cw), k = common
        raise Rejected("rejected", f"view_size: {odd} is {w}x{h} where {k} of the {len(views)} views are {cw}x{ch}: "
                                   f"the views of a sample are rendered at one size (curation scales them to "
                                   f"options.size together)")
    # each check below rejects on "not ok", ok being the verdict's passed: a NaN score fails it (as
    # "nan > threshold" did not), so an accepted sample never carries a failed verdict
    rot = {c.file: rotation_error(c) for c in cams.cameras}
    worst = _worst(rot)
    ok = rot[worst] <= opts.max_rotation_error
    verdicts.append(_verdict(key, "rotation_orthonormal", rot[worst], opts.max_rotation_error, ok))
    if not ok:
        raise Rejected("rejected", f"rotation_orthonormal: {worst} rotation error {rot[worst]:.4g} vs threshold {opts.max_rotation_error:g}")
    aim = {c.file: look_at_error_deg(c, cams.centre) for c in cams.cameras}
    worst = _worst(aim)
    ok = aim[worst] <= opts.max_look_at_deg
    verdicts.append(_verdict(key, "camera_look_at", aim[worst], opts.max_look_at_deg, ok))
    if not ok:
        target, note = ("the bbox centre", "") if cams.bbox_given else (
            "the origin", ' (the camera file has no "bbox": the unit cube at the origin was assumed; give the object\'s bbox)')
        if advice := misread_axes(cams, opts.max_look_at_deg):  # a COLMAP/OpenCV or world-to-camera export
            note = f"; {advice}"
        raise Rejected("rejected", f"camera_look_at: {worst} points {aim[worst]:.1f} degrees off {target} vs threshold "
                                   f"{opts.max_look_at_deg:g}{note}")
    # focal lengths given are finite and > 0 (parse_cameras refuses others); None: the default field of view
    fxs, fys = [c.fx for c in cams.cameras if c.fx is not None], [c.fy for c in cams.cameras if c.fy is not None]
    if fxs or fys:  # one field of view for every view: the camera vector (and the model) has no other
        spread, focal = max(((_focal_spread(fs), fs) for fs in (fxs, fys) if fs), key=lambda sf: (math.isnan(sf[0]), sf[0]))
        ok = spread <= opts.max_focal_spread
        verdicts.append(_verdict(key, "camera_intrinsics", spread, opts.max_focal_spread, ok))
        if not ok:
            raise Rejected("rejected", f"camera_intrinsics: focal lengths {min(focal):g}..{max(focal):g} px differ "
                                       f"across views (ratio {spread:.3g} vs threshold {opts.max_focal_spread:g})")
    diff, threshold, why = distinct_views(views, {c.file: c for c in cams.cameras}, cams.centre, opts)
    ok = diff >= threshold
    verdicts.append(_verdict(key, "distinct_views", diff, threshold, ok))
    if not ok:
        raise Rejected("rejected", f"distinct_views: {why}")
    repeated = repeated_cameras(cams.cameras)  # distinct pictures (checked above) under one camera: the file is wrong
    verdicts.append(_verdict(key, "distinct_cameras", len(repeated), 0, not repeated))
    if repeated:
        (a, b), n = repeated[0], len(repeated)
        raise Rejected("rejected", f"distinct_cameras: {a} and {b} have the same camera (c2w and intrinsics) though their pictures "
                                   f"differ: the camera file repeats a camera ({n} view{'s' if n > 1 else ''} with an earlier one's)")
    fill = {name: float(m.mean()) for name, m in masks.items()}
    emptiest = min(fill, key=lambda f: (not math.isnan(fill[f]), fill[f]))  # a NaN counts as the emptiest
    ok = fill[emptiest] >= opts.min_fill
    verdicts.append(_verdict(key, "view_fill", fill[emptiest], opts.min_fill, ok))
    if not ok:
        raise Rejected("rejected", f"view_fill: {emptiest} is blank (foreground {fill[emptiest]:.4f} vs threshold {opts.min_fill:g})")

    spherical = {c.file: spherical_of(c, cams.centre) for c in cams.cameras}
    order = sorted(spherical, key=lambda f: (round(spherical[f][1], 6), round(spherical[f][0], 6), f))
    return Decoded(cams, order, [views[f] for f in order], [spherical[f] for f in order], [masks[f] for f in order])


def distinct_views(views: dict[str, np.ndarray], cams: dict[str, Camera], centre: np.ndarray,
                   opts: MultiviewOptions) -> tuple[float, float, str]:
    """(score, threshold, what is wrong when score < threshold) of the distinct_views check. The fault
    it catches is a renderer writing one image for several views: the same pixels under cameras apart
    (min_copy_difference), near-identical views from one pose (min_view_difference within
    same_pose_deg), or every view alike, cameras that never moved (3 or more views). Near-identical
    views from cameras apart are a symmetric object, not a fault."""
    pairs = pair_differences(views)
    all_alike = len(views) >= 3 and max(d for d, _, _ in pairs) < opts.min_view_difference
    judged = []
    for d, a, b in pairs:
        apart = camera_separation_deg(cams[a], cams[b], centre)
        near = all_alike or apart <= opts.same_pose_deg
        judged.append((d - (opts.min_view_difference if near else opts.min_copy_difference), d, a, b, apart, near))
    _, d, a, b, apart, near = min(judged)  # the pair closest to failing (or furthest past it)
    threshold = opts.min_view_difference if near else opts.min_copy_difference
    if all_alike:
        why = (f"all {len(views)} views are alike (the most different two differ by {max(p[0] for p in pairs):.3g} on "
               f"average, threshold {threshold:g}): cameras that never moved, or one image written for every view")
    elif near:
        why = (f"{a} and {b} are the same image (mean difference {d:.3g} vs threshold {threshold:g}) from cameras "
               f"{apart:.1f} degrees apart")
    else:
        why = (f"{a} and {b} are the same image (mean difference {d:.3g} vs threshold {threshold:g}) though their "
               f"cameras are {apart:.0f} degrees apart: one image written for two views, or an object that looks "
               f"the same from both (a cube seen square-on: lower options.min_copy_difference for such objects)")
    return d, threshold, why


def worst_quality(views: list[np.ndarray], masks: list[np.ndarray]) -> dict[str, float]:
    """Per score, the worst value over the views (min for lower bounds, max for upper bounds)."""
    scores = [technical_quality(v, m) for v, m in zip(views, masks)]  # clipping on the object, not the backdrop
    kinds = {score: kind for score, _, kind in QUALITY_FILTERS.values()}
    return {k: (min if kinds.get(k) == "min" else max)(s[k] for s in scores) for k in scores[0]}


class MultiviewPlugin(ModalityPlugin):
    modality = Modality.MULTIVIEW
    media_suffixes = VIEW_SUFFIXES
    options_cls = MultiviewOptions
    curate_flags = {"vae_factor": ""}  # image's flag, with its help: views are encoded by the same latent encoders
    single_file_inputs = False  # an object is a folder of views; a loose PNG is an image's
    input_markers = CAMERA_FILES  # a folder with one of them is an object
    filter_versions = {  # a view's refusal with a score (the image decoder's), the set's checks, quality, near duplicates
        **dict.fromkeys(("too_many_pixels", "multi_page_image", "animated_image", "min_views", "max_views", "views_present",
                         "view_size", "rotation_orthonormal", "camera_look_at", "camera_intrinsics", "distinct_views",
                         "distinct_cameras", "view_fill"), FILTER_VERSION),
        **dict.fromkeys(QUALITY_FILTERS, QUALITY_VERSION),
        "phash_dedup": DEDUP_VERSION,  # the image plugin's search
    }

    def group(self, entries, opts):
        return group_multiview(entries)

    def analyse(self, item: RawInput, caption: str, key: str, opts: MultiviewOptions) -> list[Candidate]:
        base = dict(key=key, modality="multiview", source_uri=item.uri, caption=caption, split=split_of(key))
        verdicts: list[VerdictRecord] = []
        try:
            d = load_views(item, key, opts, verdicts)
        except Rejected as r:
            verdicts += [r.verdict] if r.verdict is not None else []
            return [Candidate(SampleRecord(status=r.status, reason=r.reason, **base), verdicts, item)]
        q = quality_verdicts(key, worst_quality(d.views, d.masks), opts.thresholds())
        verdicts += q
        failed = next((v for v in q if not v.passed), None)
        status, reason = "accepted", None
        if failed is not None and opts.quality:
            status, reason = "rejected", f"{failed.filter}: worst view score {failed.score:.4g} vs threshold {failed.threshold:.4g}"
        h, w = d.views[0].shape[:2]
        meta = {
            "source_dir": item.name.rsplit("/", 1)[-1],
            "original_size": [w, h],
            "camera_convention": d.cameras.convention,
            **({} if d.cameras.convention_known == "given" else {"camera_convention_known": d.cameras.convention_known}),
            "views": d.names,
            "elevations": [round(s[0], 4) for s in d.spherical],
            "azimuths": [round(s[1], 4) for s in d.spherical],
            "radii": [round(s[2], 4) for s in d.spherical],
        }
        size = (opts.size, opts.size) if status == "accepted" else (w, h)  # a rejected set keeps its own size
        rec = SampleRecord(status=status, reason=reason, width=size[0], height=size[1], frames=len(d.views), meta=meta, **base)
        mosaic = Image.fromarray(np.concatenate([square_view(v, 32) for v in d.views], axis=1))
        return [Candidate(rec, verdicts, item, (perceptual_hash(mosaic), colour_bytes(mosaic)))]  # 48 bytes, as image: curate holds one per input

    def near_duplicates(self, cands: list[Candidate], opts: MultiviewOptions, catalog: str | None = None,
                        leaving: frozenset[str] = frozenset()) -> None:
        kept = kept_in_catalog(catalog, self.modality.value, cands, leaving)
        mark_near_duplicates(cands, opts.phash_max_distance, opts.colour_max_diff, kept)

    def curated_members(self, cand: Candidate, opts: MultiviewOptions) -> dict[str, bytes]:
        d = load_views(cand.source, cand.record.key, opts, [])
        views = [square_view(v, opts.size) for v in d.views]
        cams = {c.file: c for c in d.cameras.cameras}
        listing = [{"file": f, "c2w": np.round(cams[f].c2w, 6).tolist(), "elevation": round(el, 4), "azimuth": round(az, 4),
                    "radius": round(r, 4)} for f, (el, az, r) in zip(d.names, d.spherical)]
        return {VIEWS: strip_png(views), CAMERAS: canonical_json(listing, d.cameras.bbox)}

    @staticmethod
    def cameras_of(fields: dict[str, bytes]) -> list[dict[str, Any]]:
        return json.loads(fields[CAMERAS])["views"]

    def media_array(self, fields: dict[str, bytes]) -> np.ndarray:
        views = split_strip(fields[VIEWS], len(self.cameras_of(fields)))  # [V, H, W, 3]
        views = np.roll(views, -ring_start(fields), axis=0)
        return (views.astype(np.float32) / 127.5 - 1.0).transpose(3, 0, 1, 2)  # [3, V, H, W] in [-1, 1]

    def frame_cond(self, fields: dict[str, bytes]) -> np.ndarray:
        cams = np.stack([camera_vector(v["elevation"], v["azimuth"], v["radius"]) for v in self.cameras_of(fields)])
        return np.roll(cams, -ring_start(fields), axis=0)


def ring_start(fields: dict[str, bytes]) -> int:
    """The canonical view an encoded set starts at (the others follow in azimuth order, cyclically).

    In canonical order a view's position tells its pose, so a model can ignore the cameras (the
    demo model did: it followed permuted cameras for 42% of views). Starting each set at a view
    picked by a hash of its cameras spreads every pose over every position, so only the camera says
    where a view stands; a fixed function, so re-encoding gives the same bytes."""
    views = len(MultiviewPlugin.cameras_of(fields))
    return int.from_bytes(hashlib.sha256(fields[CAMERAS]).digest()[:8], "big") % views
