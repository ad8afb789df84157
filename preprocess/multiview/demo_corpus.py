"""The embedded multi-view corpus of the demo, rendered offline with pybullet's TinyRenderer from
the objects that ship with pybullet, written as a user's folders would look.

Each object folder holds N view PNGs, ``cameras.json`` (c2w convention; every third object in the
Zero123-style spherical convention, so both readers are exercised) and ``caption.txt`` describing
what is visible ("a red teddy bear"). Objects are scaled so their bounding sphere has radius 0.5
(the Objaverse-style normalisation), recoloured, and seen from a ring of N evenly spaced azimuths
(each in the middle of its 360/N-degree pose bin, the ring turned by up to RING_JITTER_DEG per
object) at a fixed elevation under one fixed world light, so a view's shading tells where the
camera stands even for the sphere and the cube. The views are listed in a random order (curation
puts them in canonical order). Planted bad inputs sit in ``planted/``. Deterministic: the same
arguments write the same bytes.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from encoders.cameras import look_at, spherical_to_c2w

OBJECTS = {  # caption noun -> (URDF in pybullet_data, rotation about x in degrees to stand it up, size factor)
    "rubber duck": ("duck_vhacd.urdf", 90.0, 1.0),
    "teddy bear": ("teddy_vhacd.urdf", 90.0, 1.0),
    "sphere": ("sphere2.urdf", 0.0, 1.0),
    "cube": ("cube.urdf", 0.0, 0.55),  # its visual mesh is larger than the collision box the AABB measures
    "r2d2 robot": ("r2d2.urdf", 0.0, 1.0),
    "mug": ("objects/mug.urdf", 0.0, 0.85),
}
COLOURS = {
    "red": (0.85, 0.15, 0.12),
    "green": (0.15, 0.7, 0.2),
    "blue": (0.2, 0.3, 0.9),
    "yellow": (0.95, 0.85, 0.15),
    "white": (0.92, 0.92, 0.92),
    "purple": (0.6, 0.25, 0.8),
    "pink": (1.0, 0.55, 0.75),
    "brown": (0.55, 0.33, 0.15),
    "cyan": (0.15, 0.85, 0.9),
    "lime": (0.6, 0.95, 0.2),
    "grey": (0.55, 0.55, 0.55),
    "teal": (0.1, 0.5, 0.5),
}
from encoders.cameras import RING_ELEVATION as ELEVATION, RING_RADIUS as RADIUS, ring_azimuths  # noqa: E402  the object is scaled to a bounding sphere of radius 0.5
# Each object's ring is turned and raised by up to these, so cameras are not N fixed codes and objects
# of one kind and colour differ enough not to be near duplicates of each other.
RING_JITTER_DEG = 15.0
ELEVATION_JITTER_DEG = 8.0
FOV_DEG = 45.0
# One fixed world light from azimuth 30 degrees, 35 degrees up, with enough ambient to see the far
# side: a view's lit side (front or back, left or right) tells the azimuth even for the sphere and
# the cube. Not from a ring azimuth's mirror line (0, 90, ...): the cube's two far views would match.
LIGHT = (0.71, 0.41, 0.57)
AMBIENT, DIFFUSE, SPECULAR = 0.45, 0.7, 0.1
BACKGROUND = (0, 0, 0)
RENDER = 64  # pixels; curation resizes to its own size


@dataclass
class MultiviewCorpus:
    root: Path
    num_objects: int
    planted: dict[str, str] = field(default_factory=dict)  # kind -> sample folder (relative)


class Renderer:
    """One pybullet DIRECT connection; loads one object at a time, normalised and recoloured."""

    def __init__(self):
        import pybullet as p
        import pybullet_data

        self.p = p
        self.cid = p.connect(p.DIRECT)
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=self.cid)

    def close(self) -> None:
        self.p.disconnect(self.cid)

    def _aabb(self, body: int) -> np.ndarray:
        p, lo, hi = self.p, np.full(3, np.inf), np.full(3, -np.inf)
        for link in range(-1, p.getNumJoints(body, physicsClientId=self.cid)):
            a, b = p.getAABB(body, link, physicsClientId=self.cid)
            lo, hi = np.minimum(lo, a), np.maximum(hi, b)
        return np.stack([lo, hi])

    def load(self, noun: str, rgb: tuple[float, float, float]) -> np.ndarray:
        """Load and recolour the object; returns its world bbox [2, 3] (bounding sphere radius 0.5)."""
        p = self.p
        urdf, tilt, factor = OBJECTS[noun]
        orn = p.getQuaternionFromEuler([math.radians(tilt), 0, 0])
        p.resetSimulation(physicsClientId=self.cid)
        body = p.loadURDF(urdf, baseOrientation=orn, physicsClientId=self.cid)
        box = self._aabb(body)
        scale = factor * 0.5 / (0.5 * np.linalg.norm(box[1] - box[0]))
        p.resetSimulation(physicsClientId=self.cid)
        body = p.loadURDF(urdf, baseOrientation=orn, globalScaling=float(scale), physicsClientId=self.cid)
        for link in range(-1, p.getNumJoints(body, physicsClientId=self.cid)):
            p.changeVisualShape(body, link, rgbaColor=[*rgb, 1.0], physicsClientId=self.cid)
        self.body = body
        return self._aabb(body)

    def remove(self) -> None:
        self.p.resetSimulation(physicsClientId=self.cid)

    def render(self, c2w: np.ndarray, size: int = RENDER) -> np.ndarray:
        """[size, size, 3] uint8 from an OpenGL camera-to-world matrix."""
        p = self.p
        view = np.linalg.inv(c2w).T.reshape(-1).tolist()  # pybullet takes column-major 4x4
        proj = p.computeProjectionMatrixFOV(FOV_DEG, 1.0, 0.05, 10.0)
        _, _, rgba, _, seg = p.getCameraImage(size, size, view, proj, lightDirection=list(LIGHT), shadow=0, lightAmbientCoeff=AMBIENT,
                                              lightDiffuseCoeff=DIFFUSE, lightSpecularCoeff=SPECULAR,
                                              renderer=p.ER_TINY_RENDERER, physicsClientId=self.cid)
        rgb = np.reshape(np.asarray(rgba, dtype=np.uint8), (size, size, 4))[..., :3].copy()
        rgb[np.reshape(np.asarray(seg), (size, size)) < 0] = BACKGROUND
        return rgb


def focal(size: int = RENDER) -> float:
    return size / 2 / math.tan(math.radians(FOV_DEG) / 2)


def _camera_doc(views: list[tuple[str, float, float]], bbox: np.ndarray, spherical: bool) -> dict:
    centre = bbox.mean(0)
    f = focal()
    out = []
    for name, el, az in views:
        v: dict = {"file": name}
        if spherical:
            v.update(elevation=el, azimuth=az, radius=RADIUS)
        else:
            v["c2w"] = np.round(spherical_to_c2w(el, az, RADIUS, centre), 6).tolist()
        v.update(fx=round(f, 4), fy=round(f, 4), cx=RENDER / 2, cy=RENDER / 2)
        out.append(v)
    return {"convention": "spherical" if spherical else "c2w", "bbox": np.round(bbox, 6).tolist(), "views": out}


def _write_sample(folder: Path, images: dict[str, np.ndarray], cameras: dict | bytes, caption: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rgb in images.items():
        Image.fromarray(rgb).save(folder / name, format="PNG", optimize=False)
    (folder / "cameras.json").write_bytes(cameras if isinstance(cameras, bytes) else json.dumps(cameras, indent=1).encode())
    (folder / "caption.txt").write_text(caption)


def render_object(r: Renderer, noun: str, rgb, azimuths: list[float], elevation: float = ELEVATION
                  ) -> tuple[np.ndarray, dict[str, np.ndarray], list[tuple[str, float, float]]]:
    bbox = r.load(noun, rgb)
    centre = bbox.mean(0)
    names = [(f"view_{i:02d}.png", elevation, az) for i, az in enumerate(azimuths)]
    images = {n: r.render(spherical_to_c2w(el, az, RADIUS, centre)) for n, el, az in names}
    return bbox, images, names


def write_multiview_corpus(root: str | Path, num_objects: int = 240, views: int = 4, seed: int = 0) -> MultiviewCorpus:
    """Write the corpus under ``root`` (replacing an older one there)."""
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    rng = np.random.default_rng(seed)
    r = Renderer()
    try:
        nouns, colours = list(OBJECTS), list(COLOURS)
        first = None
        for i in range(num_objects):
            noun, colour = nouns[i % len(nouns)], colours[(i // len(nouns) + i) % len(colours)]
            rgb = tuple(float(np.clip(c + rng.uniform(-0.08, 0.08), 0, 1)) for c in COLOURS[colour])
            ring = ring_azimuths(views, 180.0 / views + rng.uniform(-RING_JITTER_DEG, RING_JITTER_DEG))
            azimuths = [round(ring[k], 3) for k in rng.permutation(views)]  # listed unordered
            elevation = round(ELEVATION + rng.uniform(-ELEVATION_JITTER_DEG, ELEVATION_JITTER_DEG), 3)
            bbox, images, names = render_object(r, noun, rgb, azimuths, elevation)
            caption = f"a {colour} {noun}"
            _write_sample(root / "objects" / f"object_{i:04d}", images, _camera_doc(names, bbox, spherical=i % 3 == 2), caption)
            if first is None:
                first = (noun, rgb, bbox, images, names, caption)
        planted = _write_planted(root / "planted", r, first)
    finally:
        r.close()
    planted = {k: f"planted/{v}" for k, v in planted.items()}
    (root / "README.json").write_text(json.dumps({"objects": num_objects, "views": views, "planted": planted}, indent=1))
    return MultiviewCorpus(root, num_objects, planted)


def _write_planted(folder: Path, r: Renderer, first) -> dict[str, str]:
    """The bad inputs of issue 13, each a sample folder derived from the first object."""
    noun, rgb, bbox, images, names, caption = first
    doc = _camera_doc(names, bbox, spherical=False)
    files = [n for n, _, _ in names]
    planted = {}

    def variant(kind: str, imgs: dict, cams: dict | bytes, cap: str) -> None:
        _write_sample(folder / kind, imgs, cams, cap)
        planted[kind] = kind

    # A view listed in the camera file but missing from the folder.
    variant("missing_view", {n: v for n, v in images.items() if n != files[-1]}, doc, caption + " with a missing view")
    # One view rendered at another size.
    odd = dict(images)
    odd[files[1]] = np.asarray(Image.fromarray(images[files[1]]).resize((48, 48), Image.BOX))
    variant("view_other_size", odd, doc, caption + " with an odd-sized view")
    # A rotation scaled by 1.1: not orthonormal.
    bad = json.loads(json.dumps(doc))
    m = np.asarray(bad["views"][2]["c2w"])
    m[:3, :3] *= 1.1
    bad["views"][2]["c2w"] = m.round(6).tolist()
    variant("non_orthonormal_rotation", images, bad, caption + " with a sheared camera")
    # A blank render: the object was missing from the scene for one view.
    r.remove()
    blank = dict(images)
    blank[files[0]] = r.render(look_at(np.array([RADIUS, 0.0, 0.5]), np.zeros(3)))
    variant("blank_render", blank, doc, caption + " with a blank view")
    # The same view twice.
    dup = dict(images)
    dup[files[3]] = images[files[0]]
    variant("duplicated_view", dup, doc, caption + " with a repeated view")
    # A camera file that does not parse.
    text = json.dumps(doc, indent=1).encode()
    variant("bad_camera_file", images, text[: len(text) // 2], caption + " with a broken camera file")
    # A camera turned 30 degrees away from the object.
    off = json.loads(json.dumps(doc))
    m = np.asarray(off["views"][1]["c2w"])
    turn = np.eye(4)
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    turn[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    m[:3, :3] = turn[:3, :3] @ m[:3, :3]
    off["views"][1]["c2w"] = m.round(6).tolist()
    variant("camera_off_target", images, off, caption + " with a camera looking away")
    # The same object from another folder: its views re-saved a little brighter, cameras in the
    # spherical convention, another caption.
    brighter = {n: np.clip(v.astype(np.int16) + 5, 0, 255).astype(np.uint8) for n, v in images.items()}
    variant("same_object_other_folder", brighter, _camera_doc(names, bbox, spherical=True), caption.replace("a ", "one ", 1))
    return planted
