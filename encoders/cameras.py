"""Camera files of multi-view samples: parsing, the conventions we convert, checks, and the
per-view camera vector the model is conditioned on.

The convention we read natively (``"convention": "c2w"``, what the demo corpus writes):

    {"convention": "c2w", "bbox": [[x0, y0, z0], [x1, y1, z1]],
     "views": [{"file": "view_00.png", "c2w": [[4x4]], "fx": .., "fy": .., "cx": .., "cy": ..}, ...]}

World z is up. ``c2w`` is the OpenGL / Blender camera-to-world matrix (the camera looks along its
-Z axis, +Y is up in the image), as Objaverse renders store it. Intrinsics are in pixels of the
view image. ``bbox`` is the object's world bounding box (default: the unit cube at the origin, the
Objaverse normalisation); cameras must look at its centre.

Converted on read:
- ``"convention": "spherical"`` (Zero123 / MVDream style): per view ``elevation``, ``azimuth``
  (degrees; azimuth from +X towards +Y) and ``radius``; the camera looks at the bbox centre with z up.
- ``"convention": "w2c_opencv"`` (Zero123's RT): per view ``w2c`` 3x4 or 4x4, OpenCV axes (camera
  looks along +Z, +Y down in the image); inverted and its Y and Z axes flipped to OpenGL.
- a NeRF / instant-ngp ``transforms.json`` (``frames`` with ``file_path`` and ``transform_matrix``,
  OpenGL camera-to-world, so read as c2w; ``file_path`` without an extension gets ``.png`` as the
  NeRF loaders add it; ``fl_x``/``fl_y``/``cx``/``cy``, or ``camera_angle_x`` with ``w``, as intrinsics).
Intrinsics default to a 40-degree vertical field of view when a view omits them; a focal length
``fx``/``fy`` that is given must be finite and > 0 (NaN, 0 or a negative one is refused).

Without a ``"convention"`` key, views that all have ``elevation``/``azimuth``/``radius`` are read as
spherical, views that all have ``c2w`` as c2w; anything else is refused naming the keys seen.
Spherical angles are degrees (``"angle_unit": "radians"`` says otherwise); a ring whose every angle
lies within 2 pi is refused as radians written as degrees (its cameras would bunch within 6 degrees),
and a file that says radians but holds an azimuth beyond 2 pi or an elevation beyond pi/2 as degrees.
An elevation outside -90..90 degrees is refused (a polar angle written as an elevation).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

# The default camera ring (the demo renders on it; `lumina sample --views N` spreads N cameras on it):
# N evenly spaced azimuths at 20 degrees elevation, distance 1 from an object scaled into a
# unit-diameter sphere; by default each azimuth sits in the middle of its 360/N-degree pose bin.
RING_ELEVATION = 20.0
RING_RADIUS = 1.0


def ring_azimuths(views: int, start: float | None = None) -> list[float]:
    """``views`` azimuths 360/views degrees apart, from ``start`` (default: half a step, the bin centre)."""
    step = 360.0 / views
    first = step / 2 if start is None else start
    return [(first + step * k) % 360.0 for k in range(views)]

CONVENTIONS = ("c2w", "spherical", "w2c_opencv")
NERF = "nerf"  # a transforms.json: OpenGL camera-to-world per frame, read as c2w
SPHERICAL_KEYS = ("elevation", "azimuth", "radius")
ANGLE_UNITS = ("degrees", "radians")  # of spherical angles: "angle_unit" in the file, degrees by default
DEFAULT_BBOX = ((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5))  # the unit cube at the origin (Objaverse's normalisation)
DEFAULT_FOV_DEG = 40.0
CAMERA_DIM = 8  # width of the per-view camera vector (see camera_vector)
CAMERA_FILE_NAME = "cameras.json"  # what a sample's camera file is called (preprocess/multiview/group.py)
NERF_FILE_NAME = "transforms.json"  # or a NeRF / instant-ngp one
REFERENCE_RADIUS = 2.0  # radii are fed to the model relative to this


class CameraFileError(ValueError):
    """A camera file that cannot be read as cameras (bad JSON, missing fields, wrong shapes)."""


@dataclass(frozen=True)
class Camera:
    file: str  # the view image this camera belongs to (relative to the sample)
    c2w: np.ndarray  # [4, 4] OpenGL camera-to-world
    fx: float | None = None  # pixels; None: DEFAULT_FOV_DEG on the view's height
    fy: float | None = None
    cx: float | None = None
    cy: float | None = None

    @property
    def position(self) -> np.ndarray:
        return self.c2w[:3, 3]

    @property
    def forward(self) -> np.ndarray:
        """The principal axis in world coordinates (OpenGL: -Z of the camera)."""
        return -self.c2w[:3, 2]


@dataclass(frozen=True)
class CameraSet:
    convention: str  # as written in the file, or inferred, or "nerf" (converted to c2w on read)
    cameras: list[Camera]
    bbox: np.ndarray  # [2, 3]
    bbox_given: bool = True  # False: the file gives none, DEFAULT_BBOX is assumed
    convention_known: str = "given"  # or how it was inferred or assumed (no "convention" key)

    @property
    def centre(self) -> np.ndarray:
        return self.bbox.mean(0)


def look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """OpenGL camera-to-world for a camera at ``eye`` looking at ``target``."""
    eye, target, up = (np.asarray(v, dtype=np.float64) for v in (eye, target, up))
    back = eye - target
    back /= np.linalg.norm(back)
    right = np.cross(up, back)
    if np.linalg.norm(right) < 1e-8:  # looking straight up or down: any right axis will do
        right = np.cross((0.0, 1.0, 0.0), back)
    right /= np.linalg.norm(right)
    true_up = np.cross(back, right)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, true_up, back, eye
    return m


def spherical_to_c2w(elevation: float, azimuth: float, radius: float, centre=(0.0, 0.0, 0.0)) -> np.ndarray:
    el, az = math.radians(elevation), math.radians(azimuth)
    offset = radius * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
    return look_at(np.asarray(centre, dtype=np.float64) + offset, centre)


def w2c_opencv_to_c2w(w2c: np.ndarray) -> np.ndarray:
    m = np.eye(4)
    m[: w2c.shape[0], :4] = w2c
    c2w = np.linalg.inv(m)
    c2w[:3, 1:3] *= -1  # OpenCV (+Y down, +Z forward) -> OpenGL (+Y up, -Z forward)
    return c2w


def spherical_of(cam: Camera, centre: np.ndarray) -> tuple[float, float, float]:
    """(elevation, azimuth in [0, 360), radius) of the camera position around ``centre``."""
    d = cam.position - centre
    r = float(np.linalg.norm(d))
    el = math.degrees(math.asin(max(-1.0, min(1.0, d[2] / r)))) if r > 0 else 0.0
    az = math.degrees(math.atan2(d[1], d[0])) % 360.0
    return el, (0.0 if abs(az - 360.0) < 1e-6 else az), r


def _matrix(value, shapes: tuple[tuple[int, int], ...], what: str) -> np.ndarray:
    try:
        m = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CameraFileError(f"{what} is not a numeric matrix") from None
    want = ' or '.join('x'.join(map(str, s)) for s in shapes)
    if m.shape not in shapes:
        raise CameraFileError(f"{what} must be a {want} matrix, got shape {m.shape}")
    if not np.isfinite(m).all():
        raise CameraFileError(f"{what} has {int((~np.isfinite(m)).sum())} non-finite values (NaN or inf)")
    return m


def _document(data: bytes, view_suffixes: tuple[str, ...]) -> dict:
    try:  # utf-8-sig: Windows editors (Notepad) start a saved file with a byte order mark, which json refuses
        doc = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise CameraFileError(f"not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})") from None
    except json.JSONDecodeError as e:  # where it breaks, so a hand-edited file can be mended
        raise CameraFileError(f"not JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except RecursionError:  # '[[[[...' a few thousand deep: it ended the whole curation's grouping
        raise CameraFileError("not a camera file: JSON nested deeper than the reader takes") from None
    if isinstance(doc, dict) and "views" not in doc and isinstance(doc.get("frames"), list):
        return _from_nerf(doc, view_suffixes)
    if isinstance(doc, dict) and doc.get("views") == []:
        raise CameraFileError("the 'views' list is empty")
    if isinstance(doc, dict) and "views" in doc and not isinstance(doc["views"], list):  # e.g. an object keyed by file name
        kind = {dict: "an object", str: "a string", type(None): "null", bool: "true or false"}.get(type(doc["views"]), "a number")
        raise CameraFileError(f"'views' is {kind}; it must be a list of views, each an object with its \"file\" and camera")
    if not isinstance(doc, dict) or not isinstance(doc.get("views"), list) or not doc["views"]:
        raise CameraFileError("no 'views' list" + (f" (its keys: {', '.join(map(str, doc))})" if isinstance(doc, dict) else ""))
    return doc


def _nerf_file(path, view_suffixes: tuple[str, ...]) -> str:
    """A NeRF frame's file_path as a view name: './r_0' -> 'r_0' + view_suffixes[0] (the NeRF loaders
    append the PNG suffix when the path has none of the view image suffixes)."""
    if not isinstance(path, str) or not path:
        return ""
    name = path[2:] if path.startswith("./") else path
    return name if not view_suffixes or name.lower().endswith(view_suffixes) else name + view_suffixes[0]


def _from_nerf(doc: dict, view_suffixes: tuple[str, ...]) -> dict:
    """A NeRF / instant-ngp ``transforms.json`` (frames with ``file_path`` and a 4x4 OpenGL
    camera-to-world ``transform_matrix``) in the native form. Intrinsics: ``fl_x``/``fl_y``/``cx``/``cy``
    per frame or for the file; ``camera_angle_x`` gives fx only with the image width ``w``."""
    shared = {k: doc[k] for k in ("fl_x", "fl_y", "cx", "cy", "w", "camera_angle_x") if k in doc}
    views = []
    for i, frame in enumerate(doc["frames"]):
        if not isinstance(frame, dict):
            raise CameraFileError(f"transforms.json frame {i} is not an object")
        f = {**shared, **frame}
        fx = f.get("fl_x")
        if fx is None and "camera_angle_x" in f and "w" in f:
            try:
                fx = 0.5 * float(f["w"]) / math.tan(0.5 * float(f["camera_angle_x"]))
            except (TypeError, ValueError, ZeroDivisionError):
                raise CameraFileError(f"transforms.json frame {i}: camera_angle_x {f['camera_angle_x']!r} with w {f['w']!r} gives "
                                      f"no focal length (camera_angle_x is the horizontal field of view in radians, "
                                      f"between 0 and pi; w the image width in pixels)") from None
        views.append({"file": _nerf_file(f.get("file_path"), view_suffixes), "c2w": f.get("transform_matrix"),
                      "fx": fx, "fy": f.get("fl_y", fx), "cx": f.get("cx"), "cy": f.get("cy")})
    if not views:
        raise CameraFileError("transforms.json has an empty 'frames' list")
    return {"convention": NERF, "views": views, **({"bbox": doc["bbox"]} if "bbox" in doc else {})}


def _convention(doc: dict) -> tuple[str, str]:
    """(convention, how it was known): the "convention" key, or the fields of every view."""
    if "convention" in doc:
        conv = doc["convention"]
        if conv not in (*CONVENTIONS, NERF):
            raise CameraFileError(f"unknown convention {conv!r} (one of {', '.join(CONVENTIONS)})")
        return conv, "read as a NeRF transforms.json" if conv == NERF else "given"
    views = [v for v in doc["views"] if isinstance(v, dict)]
    if views and all(all(k in v for k in SPHERICAL_KEYS) and "c2w" not in v for v in views):
        return "spherical", "inferred from elevation/azimuth/radius"
    if views and all("c2w" in v for v in views):
        return "c2w", "assumed"
    seen = sorted({k for v in views for k in v if k != "file"})
    raise CameraFileError(f"no 'convention' key, so c2w was assumed, but not every view has 'c2w' (keys seen: "
                          f"{', '.join(seen) or 'none'}): add \"convention\": one of {', '.join(CONVENTIONS)}")


def _in_degrees(doc: dict) -> dict:
    """Spherical angles are degrees unless the file says ``"angle_unit": "radians"``."""
    unit = doc.get("angle_unit", "degrees")
    if unit not in ANGLE_UNITS:
        raise CameraFileError(f"unknown angle_unit {unit!r} (one of {', '.join(ANGLE_UNITS)})")
    if unit == "degrees":
        return doc
    try:
        angles = [(float(v["azimuth"]), float(v["elevation"])) for v in doc["views"]]
    except (KeyError, TypeError, ValueError) as e:
        raise CameraFileError(f"angle_unit radians: a view's elevation/azimuth is not a number ({type(e).__name__}: {e})") from None
    _check_radians(angles)
    views = [{**v, "azimuth": math.degrees(az), "elevation": math.degrees(el)} for v, (az, el) in zip(doc["views"], angles)]
    return {**doc, "views": views}


def _check_radians(angles: list[tuple[float, float]]) -> None:
    """A file that says radians but holds an elevation beyond pi/2 or an azimuth beyond 2 pi holds
    degrees: read as radians, a ring at 20 degrees up came out at 66 degrees, its azimuths scattered."""
    az = max((abs(a) for a, _ in angles if math.isfinite(a)), default=0.0)
    el = max((abs(e) for _, e in angles if math.isfinite(e)), default=0.0)
    if az > 2 * math.pi + 1e-6 or el > math.pi / 2 + 1e-6:
        raise CameraFileError(f'"angle_unit": "radians", but the angles look like degrees (azimuths up to {az:.4g}, elevations up '
                              f'to {el:.4g}; radians lie within 2 pi and pi/2): remove "angle_unit" (or write "degrees")')


def _check_degrees(angles: list[tuple[float, float]]) -> None:
    """Angles are degrees; a set whose every azimuth lies within 2 pi and every elevation within pi/2
    (not all zero) is a ring written in radians: its cameras would bunch within 6 degrees."""
    if len(angles) < 2:
        return
    az, el = [abs(a) for a, _ in angles], [abs(e) for _, e in angles]
    if max(az) <= 2 * math.pi + 1e-6 and max(el) <= math.pi / 2 + 1e-6 and max(az + el) > 0 and max(az) - min(az) > 0:
        raise CameraFileError(f"spherical angles look like radians (azimuths {min(az):.3g}..{max(az):.3g}, elevations up to "
                              f'{max(el):.3g}): they are read as degrees; multiply by 180/pi, or add "angle_unit": "radians" (or "degrees" if they are)')


def _view_c2w(conv: str, v: dict, i: int, centre: np.ndarray) -> np.ndarray:
    # a view without its convention's keys said "view 0 c2w must be a 4x4 matrix, got shape ()"
    need = {"c2w": ("c2w",), NERF: ("c2w",), "spherical": SPHERICAL_KEYS}.get(conv, ("w2c",))
    missing = [k for k in need if v.get(k) is None]
    if missing:
        named = ["transform_matrix" if conv == NERF else k for k in missing]
        has = ", ".join(k for k in v if k != "file") or "none"
        raise CameraFileError(f"view {i} ({v['file']}) has no {', '.join(map(repr, named))}, which the {conv} convention "
                              f"needs (its keys: {has})")
    if conv in ("c2w", NERF):
        return _matrix(v.get("c2w"), ((4, 4),), f"view {i} c2w")
    if conv == "spherical":
        el, az, r = (float(v[k]) for k in SPHERICAL_KEYS)
        if not all(map(math.isfinite, (el, az, r))) or r <= 0:
            raise CameraFileError(f"view {i}: elevation/azimuth/radius must be finite, radius > 0")
        if abs(el) > 90 + 1e-6:  # spherical_to_c2w would put the camera at 180 - el on the far side: another view
            raise CameraFileError(f"view {i} ({v['file']}): elevation {el:g} degrees is outside -90..90; elevation is the angle "
                                  f"above the horizontal (a polar angle from +z, as Zero123 stores, is 90 minus the elevation)")
        return spherical_to_c2w(el, az, r, centre)
    w2c = _matrix(v.get("w2c"), ((3, 4), (4, 4)), f"view {i} w2c")
    if abs(np.linalg.det(w2c[:3, :3])) < 1e-9:
        raise CameraFileError(f"view {i} w2c is singular")
    return w2c_opencv_to_c2w(w2c)


def _camera(conv: str, v, i: int, centre: np.ndarray) -> Camera:
    if not isinstance(v, dict) or not isinstance(v.get("file"), str) or not v["file"]:
        raise CameraFileError(f"view {i} has no 'file' name")
    if "/" in v["file"] or v["file"].startswith("."):
        beside = NERF_FILE_NAME if conv == NERF else CAMERA_FILE_NAME
        raise CameraFileError(f"view {i}'s file {v['file']!r} is not a plain name: views sit beside {beside}, not in a subfolder")
    try:
        c2w = _view_c2w(conv, v, i, centre)
        intr = {k: (None if v.get(k) is None else float(v[k])) for k in ("fx", "fy", "cx", "cy")}
    except CameraFileError:
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise CameraFileError(f"view {i}: {type(e).__name__}: {e}") from None
    for k in ("fx", "fy"):  # NaN, 0 or a negative focal length passed every check downstream
        if intr[k] is not None and not (math.isfinite(intr[k]) and intr[k] > 0):
            raise CameraFileError(f"view {i}: {k} is {intr[k]:g}: a focal length must be a finite number of pixels > 0 "
                                  f"(or leave it out: a {DEFAULT_FOV_DEG:g}-degree field of view is then assumed)")
    return Camera(v["file"], c2w, **intr)


def parse_cameras(data: bytes, view_suffixes: tuple[str, ...] = ()) -> CameraSet:
    """Camera file bytes (ours, or a NeRF transforms.json) -> cameras in the native convention.
    ``view_suffixes``: the view image suffixes, the first added to a NeRF file_path that has none.
    Raises CameraFileError."""
    doc = _document(data, view_suffixes)
    conv, known = _convention(doc)
    bbox = _matrix(doc.get("bbox", DEFAULT_BBOX), ((2, 3),), "bbox")
    centre = bbox.mean(0)
    if conv == "spherical":
        doc = _in_degrees(doc)
    cams = [_camera(conv, v, i, centre) for i, v in enumerate(doc["views"])]
    if conv == "spherical" and "angle_unit" not in doc:
        _check_degrees([(float(v["azimuth"]), float(v["elevation"])) for v in doc["views"]])
    if len({c.file for c in cams}) != len(cams):
        raise CameraFileError("a view file is listed twice")
    return CameraSet(conv, cams, bbox, bbox_given="bbox" in doc, convention_known=known)


def rotation_error(cam: Camera) -> float:
    """How far the rotation is from a proper rotation: max |R^T R - I|, or 2 when det(R) < 0."""
    r = cam.c2w[:3, :3]
    err = float(np.abs(r.T @ r - np.eye(3)).max())
    return max(err, 2.0) if np.linalg.det(r) < 0 else err


def look_at_error_deg(cam: Camera, centre: np.ndarray) -> float:
    """Angle between the principal axis and the ray from the camera to the bbox centre."""
    to_centre = centre - cam.position
    n1, n2 = np.linalg.norm(to_centre), np.linalg.norm(cam.forward)
    if n1 < 1e-9 or n2 < 1e-9:
        return 180.0
    cos = float(np.dot(to_centre, cam.forward) / (n1 * n2))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


# Matrices of another convention written as c2w, each with how to write them instead: the usual
# mistakes with COLMAP/OpenCV and world-to-camera exports, which otherwise read as cameras looking away.
_MISREAD_AXES = (
    (lambda m: m @ np.diag([1.0, -1.0, -1.0, 1.0]),
     "these look like camera-to-world matrices in OpenCV/COLMAP axes (+Z forward, +Y down), which all aim at it: negate "
     "their 2nd and 3rd columns for OpenGL axes, or write their inverses as \"w2c\" under \"convention\": \"w2c_opencv\""),
    (w2c_opencv_to_c2w, "these look like OpenCV world-to-camera matrices, which all aim at it: write them as \"w2c\" under "
     "\"convention\": \"w2c_opencv\""),
    (np.linalg.inv, "these look like world-to-camera matrices (OpenGL axes), which all aim at it: write their inverses as \"c2w\""),
)


def misread_axes(cams: CameraSet, max_deg: float) -> str | None:
    """When c2w cameras miss the centre but would all look at it read in another convention, what to
    write instead; else None."""
    if cams.convention not in ("c2w", NERF):
        return None
    for convert, advice in _MISREAD_AXES:
        try:
            turned = [Camera(c.file, convert(c.c2w)) for c in cams.cameras]
        except np.linalg.LinAlgError:
            continue
        if all(look_at_error_deg(c, cams.centre) <= max_deg for c in turned):
            return advice
    return None


def repeated_cameras(cameras: list[Camera]) -> list[tuple[str, str]]:
    """(earlier view, later view) of each view whose camera, c2w and intrinsics, is an earlier view's:
    a camera file that repeats one camera (copied for every view) while the pictures differ."""
    seen: list[Camera] = []
    out = []
    for c in cameras:
        twin = next((s for s in seen if np.allclose(s.c2w, c.c2w, rtol=0, atol=1e-6)
                     and (s.fx, s.fy, s.cx, s.cy) == (c.fx, c.fy, c.cx, c.cy)), None)
        if twin is None:
            seen.append(c)
        else:
            out.append((twin.file, c.file))
    return out


def camera_separation_deg(a: Camera, b: Camera, centre: np.ndarray) -> float:
    """How far apart two cameras stand as seen from ``centre``: the angle between their offsets,
    plus the difference of their distances as the angle it would subtend (a zoomed-in twin differs)."""
    da, db = a.position - centre, b.position - centre
    ra, rb = float(np.linalg.norm(da)), float(np.linalg.norm(db))
    if ra < 1e-9 or rb < 1e-9:
        return 0.0 if max(ra, rb) < 1e-9 else 180.0
    cos = float(np.dot(da, db) / (ra * rb))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos)))) + math.degrees(abs(ra - rb) / max(ra, rb))


def camera_vector(elevation: float, azimuth: float, radius: float) -> np.ndarray:
    """The per-view conditioning [CAMERA_DIM]: azimuth as two harmonics (a continuous circle,
    so 359 and 1 degrees are neighbours), elevation as sin/cos, log radius relative to the
    reference, and a constant 1 (so a zero camera differs from 'no camera')."""
    a, e = math.radians(azimuth), math.radians(elevation)
    return np.array([math.sin(a), math.cos(a), math.sin(2 * a), math.cos(2 * a),
                     math.sin(e), math.cos(e), math.log(radius / REFERENCE_RADIUS), 1.0], dtype=np.float32)


def azimuth_of_vector(vec: np.ndarray) -> float:
    """Inverse of camera_vector for the azimuth, in [0, 360)."""
    return math.degrees(math.atan2(float(vec[0]), float(vec[1]))) % 360.0


def canonical_json(views: list[dict], bbox: np.ndarray) -> bytes:
    """The curated shard's camera member: views in canonical order, c2w plus their spherical form."""
    return json.dumps({"convention": "c2w", "bbox": np.asarray(bbox).round(6).tolist(), "views": views}, sort_keys=True).encode()
