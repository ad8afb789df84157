"""Entries -> multi-view samples: everything beside a camera file is one sample.

A folder sample is ``<dir>/cameras.json`` with its view images and ``caption.txt`` (or
``caption.json``) in the same folder; a webdataset sample is ``<id>.cameras.json`` with
``<id>.<view>.png`` and ``<id>.txt`` in the same tar. Both reduce to one rule: a sample is the
prefix before ``cameras.json``; its members are the entries with that prefix and no further
folder, and for pictures, a name in the camera file (`unlisted_view` otherwise). Entries that
belong to no sample are leftovers with a reason, so none goes unaccounted.
"""

from __future__ import annotations

from encoders.cameras import CAMERA_FILE_NAME, CameraFileError, parse_cameras
from preprocess.sources import IGNORED_NAMES, Entry, Leftover, RawInput

CAMERA_FILE = CAMERA_FILE_NAME
CAPTION_NAMES = ("caption.txt", "txt", "caption.json", "json")  # first present wins
VIEW_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def _prefix_of_camera_file(name: str) -> str | None:
    base = name.rsplit("/", 1)[-1]
    if base == CAMERA_FILE or base.endswith("." + CAMERA_FILE):
        return name[: len(name) - len(CAMERA_FILE)]
    return None


def _listed_views(camera_file: Entry) -> set[str] | None:
    """The view files a camera file names; None when it cannot be read (the sample is then
    quarantined by its own check, with every picture kept in it)."""
    try:
        return {c.file for c in parse_cameras(camera_file.read()).cameras}
    except (CameraFileError, OSError):
        return None


def group_multiview(entries: list[Entry]) -> tuple[list[RawInput], list[Leftover]]:
    files = [e for e in entries if e.kind == "file"]
    leftovers = [Leftover(e, e.kind, "not read") for e in entries if e.kind != "file"]
    prefixes = sorted({p for e in files if (p := _prefix_of_camera_file(e.name)) is not None}, key=len, reverse=True)
    members: dict[str, dict[str, Entry]] = {p: {} for p in prefixes}
    for e in files:
        owner = next((p for p in prefixes if e.name.startswith(p) and "/" not in e.name[len(p):]), None)
        if owner is not None:
            members[owner][e.name[len(owner):]] = e
        elif e.name.rsplit("/", 1)[-1] not in IGNORED_NAMES:
            kind = "no_camera_file" if e.suffix in VIEW_SUFFIXES else "orphan_caption" if e.suffix in (".txt", ".json") else "unsupported_type"
            detail = "no cameras.json beside it" if kind != "unsupported_type" else e.suffix or "no extension"
            above = next((p for p in prefixes if e.name.startswith(p)), None)  # deeper inside a sample's folder
            if above is not None and kind != "unsupported_type":
                detail = f"in a subfolder of sample {above.rstrip('/.') or '.'}: its files sit beside its cameras.json"
            leftovers.append(Leftover(e, kind, detail))

    inputs = []
    for prefix in sorted(prefixes):
        m = members[prefix]
        caption_role = next((n for n in CAPTION_NAMES if n in m), None)
        caption = m.pop(caption_role) if caption_role else None
        for role in [r for r in m if r in CAPTION_NAMES]:  # a second caption file: recorded, not used
            leftovers.append(Leftover(m.pop(role), "orphan_caption", f"{caption_role} of the same sample is used"))
        for role in [r for r in m if r != CAMERA_FILE and not r.lower().endswith(VIEW_SUFFIXES)]:
            leftovers.append(Leftover(m.pop(role), "unsupported_type", "not a view image, camera file or caption"))
        cam = m[CAMERA_FILE]
        if (listed := _listed_views(cam)) is not None:  # a picture the cameras do not name is no view
            for role in [r for r in m if r != CAMERA_FILE and r not in listed]:
                leftovers.append(Leftover(m.pop(role), "unlisted_view", f"not in {CAMERA_FILE}"))
        name = prefix.rstrip("/.") or cam.name
        uri = cam.uri[: len(cam.uri) - len(CAMERA_FILE)].rstrip("/.#") or cam.uri
        inputs.append(RawInput(name, uri, dict(sorted(m.items())), caption))
    return inputs, leftovers
