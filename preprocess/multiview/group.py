"""Entries -> multi-view samples: everything beside a camera file is one sample.

A folder sample is ``<dir>/cameras.json`` (or a NeRF ``transforms.json``) with its view images and
``caption.txt`` (or ``caption.json``) in the same folder; a webdataset sample is ``<id>.cameras.json`` with
``<id>.<view>.png`` and ``<id>.txt`` in the same tar. Both reduce to one rule: a sample is the
prefix before ``cameras.json``; its members are the entries with that prefix and no further
folder, and for pictures, a name in the camera file (`unlisted_view` otherwise). A folder sample's
camera file may also name a view by its path under the folder (``images/000.png``, as render and
NeRF exports keep views in a subfolder): that picture is a member under that name. Entries that
belong to no sample are leftovers with a reason, so none goes unaccounted.
"""

from __future__ import annotations

import json
from dataclasses import replace

from encoders.cameras import CAMERA_FILE_NAME, NERF_FILE_NAME, CameraFileError, CameraSet, parse_cameras
from preprocess.image.decode import IMAGE_SUFFIXES
from preprocess.sources import IGNORED_NAMES, Entry, Leftover, RawInput

CAMERA_FILE = CAMERA_FILE_NAME  # the role of a sample's camera file, whichever of CAMERA_FILES it is
CAMERA_FILES = (CAMERA_FILE_NAME, NERF_FILE_NAME)  # the first present is the sample's camera file
CAPTION_NAMES = ("caption.txt", "txt", "caption.json", "json")  # first present wins
# Views are decoded as images are (preprocess/image/decode.py), so whatever an image may be a view may be
# (a copied list lacked .pbm, .j2c and .jpc, and .jfif, .avif, .gif, .ico, until session 53). The first is
# what a NeRF file_path without one means; Blender writes PNG, TIFF (16-bit), TGA and JPEG 2000.
VIEW_SUFFIXES = IMAGE_SUFFIXES


# While encoders/cameras.py reads a camera file (plain view names only), a view path's '/' stands as
# this character, which no file name holds
_PATH_MARK = "\x1f"


def _view_rows(doc) -> list[tuple[int, dict, str]]:
    """(view index, row, key of its name) of each view named by a string: ours ``views[i]["file"]``,
    else NeRF's ``frames[i]["file_path"]`` (as parse_cameras tells the two apart)."""
    if not isinstance(doc, dict):
        return []
    rows, key = (doc.get("views"), "file") if "views" in doc else (doc.get("frames"), "file_path")
    if not isinstance(rows, list):
        return []
    return [(i, row, key) for i, row in enumerate(rows) if isinstance(row, dict) and isinstance(row.get(key), str)]


def _subfolder_path(i: int, name: str) -> str | None:
    """The path under the sample's folder of a view named in a subfolder ('images/000.png', './rgb/000',
    a Windows tool's 'images\\000.png'); None for a plain name (parse_cameras judges those). Raises
    CameraFileError for a path that leaves the folder, is absolute or holds a hidden folder or file."""
    if "\\" in name and "/" not in name:  # written on Windows: a backslash in a file name is rarer than that
        name = name.replace("\\", "/")
    path = name[2:] if name.startswith("./") else name
    if "/" not in path:
        return None
    parts = path.split("/")
    if name.startswith("/") or parts[0].endswith(":") or any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        raise CameraFileError(f"view {i}'s file {name!r} is no path under the sample's folder: name a view by its file name "
                              f"beside the camera file, or by its path in a subfolder of it ('images/000.png')")
    return path


def read_cameras(data: bytes) -> CameraSet:
    """A sample's camera file, as grouping and curation both read it. Views named by their path in a
    subfolder keep that path as their name (they were refused as "not a plain name" until session 52)."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError):  # not UTF-8, not JSON or nested too deep: parse_cameras says which
        return parse_cameras(data, VIEW_SUFFIXES)
    marked = False
    for i, row, key in _view_rows(doc):
        if (path := _subfolder_path(i, row[key])) is not None:
            row[key], marked = path.replace("/", _PATH_MARK), True
    if not marked:
        return parse_cameras(data, VIEW_SUFFIXES)
    try:
        cams = parse_cameras(json.dumps(doc).encode(), VIEW_SUFFIXES)
    except CameraFileError as e:
        raise CameraFileError(str(e).replace(_PATH_MARK, "/")) from None
    return replace(cams, cameras=[replace(c, file=c.file.replace(_PATH_MARK, "/")) for c in cams.cameras])


def _camera_file_of(name: str) -> str | None:
    """Which camera file ``name`` is (its base is one of CAMERA_FILES, or ends with '.' + one), or None."""
    base = name.rsplit("/", 1)[-1]
    return next((f for f in CAMERA_FILES if base == f or base.endswith("." + f)), None)


def _leftover_detail(e: Entry, kind: str) -> str:
    if kind == "unsupported_type":
        return e.suffix or "no extension"
    base = e.name.rsplit("/", 1)[-1]
    if _is_nerf_split_file(base):
        return _NERF_SPLIT_DETAIL
    return f"no {CAMERA_FILE_NAME} or {NERF_FILE_NAME} beside it"


_NERF_SPLIT_DETAIL = (f"a NeRF transforms file: only one named {NERF_FILE_NAME} (or {CAMERA_FILE_NAME}) is read, "
                      "with the views it names beside it or in its subfolders")


def _is_nerf_split_file(base: str) -> bool:
    """NeRF's transforms_train.json and kin (a camera file's name, not a caption's)."""
    return base.startswith("transforms") and base.endswith(".json")


def _take_camera_file(m: dict[str, Entry], leftovers: list[Leftover]) -> Entry:
    """The sample's camera file, under the CAMERA_FILE role; a second one is recorded, not used."""
    present = [f for f in CAMERA_FILES if f in m]
    for other in present[1:]:
        leftovers.append(Leftover(m.pop(other), "unsupported_type", f"{present[0]} of the same sample is used"))
    m[CAMERA_FILE] = m.pop(present[0])
    return m[CAMERA_FILE]


def _subfolder_views(prefix: str, listed: set[str] | None) -> set[str]:
    """The views a folder sample's camera file names by a path in a subfolder ('images/000.png');
    none for a tar sample ('<id>.') or a camera file that cannot be read (``listed`` None)."""
    if prefix and not prefix.endswith("/"):
        return set()
    return {name for name in listed or () if "/" in name}


def _listed_views(camera_file: Entry) -> set[str] | None:
    """The view files a camera file names; None when it cannot be read (the sample is then
    quarantined by its own check, with every picture kept in it)."""
    try:
        return {c.file for c in read_cameras(camera_file.read()).cameras}
    except (CameraFileError, OSError):
        return None


def _unlisted_detail(role: str, listed: set[str], present: set[str], cam_name: str) -> str:
    """Why a picture is no view, naming the camera file's entry it was likely meant to be: a name
    written without its extension or in another case ('030' or '030.PNG' for 030.png) names no file,
    and the sample's own reason (views_present) names only the listed one."""
    meant = sorted(n for n in listed - present if n.lower() in (role.lower(), role.rsplit(".", 1)[0].lower()))
    if not meant:
        return f"not in {cam_name}"
    return f"not in {cam_name}, which lists {meant[0]!r}: a view's name must match its file's exactly, extension and case"


def _other_file_detail(role: str, own: str, has_caption: bool) -> str:
    """Why a sample's file is none of its members. A text file in a sample without a caption was most
    likely meant as one (Caption.TXT, prompt.txt): say the names a caption is read from, as the
    sample's own missing_caption reason does not."""
    if _is_nerf_split_file(role.rsplit("/", 1)[-1]):  # beside a transforms.json: a camera file, no caption meant
        return _NERF_SPLIT_DETAIL
    suffix = next((s for s in (".txt", ".json") if role.lower().endswith(s)), None)
    if has_caption or suffix is None:
        return "not a view image, camera file or caption"
    meant = f"{own}{suffix[1:]}" if own else f"caption{suffix}"
    names = f"{own}txt or {own}json" if own else "caption.txt or caption.json"
    return f"not read as a caption: a sample's caption is {names}, and this sample has none: rename {own}{role} to {meant}"


def group_multiview(entries: list[Entry]) -> tuple[list[RawInput], list[Leftover]]:
    files = [e for e in entries if e.kind == "file"]
    leftovers = [Leftover(e, e.kind, "not read") for e in entries if e.kind != "file"]
    found = [(e.name[: len(e.name) - len(kind)], kind) for e in files if (kind := _camera_file_of(e.name))]
    # prefix -> its camera file; the first of CAMERA_FILES wins where a folder has two (sorted to come last)
    camera_of = dict(sorted(found, key=lambda pk: -CAMERA_FILES.index(pk[1])))
    prefixes = sorted(camera_of, key=len, reverse=True)
    members: dict[str, dict[str, Entry]] = {p: {} for p in prefixes}
    by_name = {e.name: e for e in files}
    listed_of = {p: _listed_views(by_name[p + camera_of[p]]) for p in prefixes}  # each camera file read once
    in_subfolders = {p: _subfolder_views(p, listed_of[p]) for p in prefixes}
    for e in files:
        owner = next((p for p in prefixes if e.name.startswith(p)
                      and ("/" not in e.name[len(p):] or e.name[len(p):] in in_subfolders[p])), None)
        if owner is not None:
            members[owner][e.name[len(owner):]] = e
        elif e.name.rsplit("/", 1)[-1] not in IGNORED_NAMES:
            kind = "no_camera_file" if e.suffix in VIEW_SUFFIXES else "orphan_caption" if e.suffix in (".txt", ".json") else "unsupported_type"
            detail = _leftover_detail(e, kind)
            above = next((p for p in prefixes if e.name.startswith(p)), None)  # deeper inside a sample's folder
            sample = (above.rstrip("/.") or ".") if above is not None else None
            if above is not None and kind == "no_camera_file":  # a picture of the sample's, as one beside the camera file
                kind, detail = "unlisted_view", (f"in a subfolder of sample {sample}, not in its {camera_of[above]}: a view in a "
                                                 f"subfolder is named by its path, {e.name[len(above):]!r}")
            elif above is not None and kind != "unsupported_type":
                detail = f"in a subfolder of sample {sample}: its files sit beside its {camera_of[above]}"
            leftovers.append(Leftover(e, kind, detail))

    inputs = []
    for prefix in sorted(prefixes):
        m = members[prefix]
        caption_role = next((n for n in CAPTION_NAMES if n in m), None)
        caption = m.pop(caption_role) if caption_role else None
        for role in [r for r in m if r in CAPTION_NAMES]:  # a second caption file: recorded, not used
            leftovers.append(Leftover(m.pop(role), "orphan_caption", f"{caption_role} of the same sample is used"))
        cam = _take_camera_file(m, leftovers)
        cam_name = _camera_file_of(cam.name)
        own = prefix.rsplit("/", 1)[-1]  # a tar sample's "<id>." ("" in a folder)
        for role in [r for r in m if r != CAMERA_FILE and not r.lower().endswith(VIEW_SUFFIXES)]:
            leftovers.append(Leftover(m.pop(role), "unsupported_type", _other_file_detail(role, own, caption is not None)))
        if (listed := listed_of[prefix]) is not None:  # a picture the cameras do not name is no view
            for role in [r for r in m if own and r not in listed and own + r in listed]:
                m[own + role] = m.pop(role)  # a camera file may name a view by its whole member name, "<id>.030.png"
            for role in [r for r in m if r != CAMERA_FILE and r not in listed]:
                leftovers.append(Leftover(m.pop(role), "unlisted_view", _unlisted_detail(role, listed, set(m), cam_name)))
        name = prefix.rstrip("/.") or cam.name
        uri = cam.uri[: len(cam.uri) - len(cam_name)].rstrip("/.#") or cam.uri
        inputs.append(RawInput(name, uri, dict(sorted(m.items())), caption))
    return inputs, leftovers
