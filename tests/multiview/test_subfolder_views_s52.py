"""Views kept in a subfolder of the object's folder (obj/images/000.png, named "images/000.png" by
obj/transforms.json) are the object's views: they were quarantined camera_file_unparsable ("not a plain
name") with every picture a no_camera_file row. And `lumina curate --modality multiview --vae-factor 1`
ended "unknown option(s) vae_factor" though views are encoded by the same VAEs (helper H, session 52)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from encoders.cameras import spherical_to_c2w
from preprocess.multiview.group import group_multiview
from preprocess.multiview.plugin import MultiviewOptions, MultiviewPlugin
from preprocess.sources import SourceSpec, list_entries
from tests.multiview.test_view_decoding import AZIMUTHS, KEY, rendered_object


def _object(folder: Path, names: list[str], written: list[str] | None = None) -> None:
    """A 4-view object whose camera file names each view as ``names`` says; the files at ``written``."""
    frames = []
    for az, name, path in zip(AZIMUTHS, names, written or names):
        rgb, inside = rendered_object(az)
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.where(inside[..., None], rgb, 255).astype(np.uint8)).save(folder / path)
        frames.append({"file_path": name, "transform_matrix": spherical_to_c2w(20.0, az, 2.0).tolist()})
    (folder / "transforms.json").write_text(json.dumps({"frames": frames}))
    (folder / "caption.txt").write_text("a red test object")


def _curated(root: Path):
    inputs, leftovers = group_multiview(list_entries(SourceSpec(str(root))))
    return [MultiviewPlugin().analyse(i, "a red test object", KEY, MultiviewOptions())[0].record for i in inputs], leftovers


@pytest.mark.parametrize("names, written", [
    ([f"images/{i:03d}.png" for i in range(4)], None),
    ([f"./rgb/r_{i}" for i in range(4)], [f"rgb/r_{i}.png" for i in range(4)]),  # NeRF style: ./, no extension
])
def test_views_a_camera_file_names_in_a_subfolder_are_curated(tmp_path, names, written):
    _object(tmp_path / "obj", names, written)
    (rec,), leftovers = _curated(tmp_path)
    assert leftovers == [] and (rec.status, rec.reason) == ("accepted", None)
    assert sorted(rec.meta["views"]) == sorted(written or names)


def test_a_view_path_out_of_the_object_folder_is_refused_saying_how_to_name_views(tmp_path):
    _object(tmp_path / "obj", ["../000.png", "001.png", "002.png", "003.png"], ["000.png", "001.png", "002.png", "003.png"])
    (rec,), _ = _curated(tmp_path)
    assert rec.status == "quarantined" and rec.reason == (
        "camera_file_unparsable: view 0's file '../000.png' is no path under the sample's folder: name a view by its file "
        "name beside the camera file, or by its path in a subfolder of it ('images/000.png')")


def test_vae_factor_is_a_multiview_option_checked_against_the_size():
    assert MultiviewOptions(size=20, vae_factor=1).vae_factor == 1
    with pytest.raises(ValueError, match=r"^size 20 is not a multiple of vae_factor 8: .* give 16 or 24, or vae_factor 1 "
                                         r"\(--vae-factor 1\) if you will encode with --latent identity$"):
        MultiviewOptions(size=20)
    with pytest.raises(ValueError, match=r"give 8, or vae_factor 1"):  # below one latent pixel: only the size up
        MultiviewOptions(size=4)


def test_lumina_curate_takes_vae_factor_for_multiview(tmp_path, capsys):
    from flows.cli import main

    _object(tmp_path / "src" / "obj", [f"images/{i:03d}.png" for i in range(4)])
    code = main(["curate", str(tmp_path / "src"), "--modality", "multiview", "--home", str(tmp_path / "home"), "--local",
                 "--vae-factor", "1", "--set", "options.size=20", "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert json.loads(out.out)["counts"] == {"accepted": 1}


@pytest.mark.parametrize("suffix", [".tga", ".jp2", ".ppm", ".qoi"])
def test_views_in_the_formats_images_take_are_views(tmp_path, suffix):
    """Blender renders TGA and JPEG 2000 too: such views were 'not a view image' (views_present)."""
    names = [f"images/{i:03d}{suffix}" for i in range(4)]
    _object(tmp_path / "obj", names)
    (rec,), leftovers = _curated(tmp_path)
    assert leftovers == [] and (rec.status, rec.reason) == ("accepted", None)
    assert sorted(rec.meta["views"]) == names


def test_a_windows_path_names_the_view_in_its_subfolder(tmp_path):
    _object(tmp_path / "obj", [f"images\\{i:03d}.png" for i in range(4)], [f"images/{i:03d}.png" for i in range(4)])
    (rec,), leftovers = _curated(tmp_path)
    assert leftovers == [] and rec.status == "accepted" and rec.meta["views"][0].startswith("images/")


@pytest.mark.parametrize("name", ["/abs/000.png", "C:\\renders\\000.png", "images/../000.png", "images/.hidden/000.png"])
def test_a_path_that_is_not_under_the_object_folder_is_refused(tmp_path, name):
    _object(tmp_path / "obj", [name, "001.png", "002.png", "003.png"], ["000.png", "001.png", "002.png", "003.png"])
    (rec,), _ = _curated(tmp_path)
    assert rec.status == "quarantined" and "is no path under the sample's folder" in rec.reason
