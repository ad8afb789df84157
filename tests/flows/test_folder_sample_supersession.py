"""A refresh of samples that are whole folders (a multi-view object: cameras.json, its views and
caption.txt; its sample's source_uri is the folder): a changed caption or view supersedes the
folder's old sample, as a changed image file supersedes its own (helper E's walkthrough: `superseded
0`, both captions accepted side by side), and a removed folder is removed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
from PIL import Image

from catalog.source_index import LiveManifest
from encoders.cameras import spherical_to_c2w
from flows.refresh import refresh_source
from preprocess.curate import CurateConfig
from preprocess.encode import EncodeConfig
from tests.multiview.test_camera_files import ELEVATION, RADIUS, _write_views
from tests.multiview.test_view_decoding import AZIMUTHS


def _object(folder: Path, caption: str, channels=(0, 1, 2)) -> None:
    names = _write_views(folder)
    for n in names:  # another colour order: another object to the near-duplicate filter
        view = folder / f"{n}.png"
        Image.fromarray(np.asarray(Image.open(view).convert("RGB"))[..., list(channels)]).save(view)
    views = [{"file": f"{n}.png", "c2w": spherical_to_c2w(ELEVATION, az, RADIUS).tolist()} for n, az in zip(names, AZIMUTHS)]
    (folder / "cameras.json").write_text(json.dumps({"convention": "c2w", "views": views}))
    (folder / "caption.txt").write_text(caption)


def _refresh(src: Path, home: Path):
    return refresh_source(str(src), home, CurateConfig(modality="multiview"), encode_cfg=EncodeConfig(text="phone"),
                          live=[LiveManifest("live", "modality = 'multiview'", train_min_growth=1)], backend="local")


def _samples(home: Path) -> dict[str, set[tuple[str, str]]]:
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT source_uri, status, caption FROM samples WHERE modality = 'multiview'").fetchall()
    finally:
        con.close()
    out: dict[str, set[tuple[str, str]]] = {}
    for uri, status, caption in rows:
        out.setdefault(Path(uri).name, set()).add((status, caption))
    return out


def test_a_changed_folder_supersedes_its_old_sample_and_a_removed_one_is_removed(tmp_path):
    src, home = tmp_path / "objects", tmp_path / "home"
    _object(src / "mug", "a red mug")
    _object(src / "box", "a blue box", channels=(2, 0, 1))
    first = _refresh(src, home)
    assert first.curated == {"accepted": 2}, first
    assert _samples(home) == {"mug": {("accepted", "a red mug")}, "box": {("accepted", "a blue box")}}

    (src / "mug" / "caption.txt").write_text("a crimson mug")
    changed = _refresh(src, home)
    assert (changed.superseded, changed.removed) == (1, 0), changed
    assert _samples(home)["mug"] == {("accepted", "a crimson mug"), ("superseded", "a red mug")}
    assert _samples(home)["box"] == {("accepted", "a blue box")}  # unchanged: not curated again

    shutil.rmtree(src / "box")
    gone = _refresh(src, home)
    assert (gone.superseded, gone.removed) == (0, 1), gone
    assert _samples(home)["box"] == {("removed", "a blue box")}
