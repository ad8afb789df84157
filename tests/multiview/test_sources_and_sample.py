"""Webdataset tars group into the same samples as folders (same keys), and `lumina sample`'s
multi-view hook and writer: ring cameras at the asked view count and elevation, a strip and a GIF."""

from __future__ import annotations

import tarfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image

from contracts.records import Batch
from preprocess.curate import CurateConfig, curate
from encoders.cameras import azimuth_of_vector, camera_vector
from preprocess.multiview.demo_corpus import write_multiview_corpus


def test_tar_and_folder_give_the_same_samples(tmp_path):
    corpus = write_multiview_corpus(tmp_path / "src", num_objects=3)
    tar_path = tmp_path / "shard-000.tar"
    with tarfile.open(tar_path, "w") as tar:
        for folder in sorted((corpus.root / "objects").iterdir()):
            for f in sorted(folder.iterdir()):
                role = "txt" if f.name == "caption.txt" else f.name
                tar.add(f, arcname=f"{folder.name}.{role}")
    cfg = CurateConfig(modality="multiview")
    keys = lambda r: sorted(s.key for p in r.batch_paths for s in Batch.read(p).samples if s.status == "accepted")  # noqa: E731
    from_tar = curate(str(tar_path), tmp_path / "h1", cfg, backend="local")
    from_folder = curate(corpus.root / "objects", tmp_path / "h2", cfg, backend="local")
    assert len(keys(from_tar)) == 3 and keys(from_tar) == keys(from_folder)


def test_sample_hook_and_writer(tmp_path):
    from evaluation.multiview.render import save_samples
    from evaluation.multiview.sample import MultiviewSampleOptions, prepare

    cfg = SimpleNamespace(frames=8, num=2)
    shape, extra = prepare(cfg, tmp_path, [3, 4, 32, 32], MultiviewSampleOptions(elevation=35.0))
    assert shape == [3, 8, 32, 32] and tuple(extra["frame_cond"].shape) == (2, 8, 8)
    az = [azimuth_of_vector(v.numpy()) for v in extra["frame_cond"][0]]
    assert np.allclose(np.diff(az), 45.0, atol=1e-3)
    assert np.allclose(extra["frame_cond"][0, 0].numpy(), camera_vector(35.0, az[0], 1.0), atol=1e-6)

    views = [np.linspace(-1, 1, 3 * 8 * 4 * 4, dtype=np.float32).reshape(3, 8, 4, 4)] * 2
    paths = save_samples(views, tmp_path / "out.png")
    assert [p.suffix for p in paths] == [".png", ".gif", ".png", ".gif"]
    gif = Image.open(paths[1])
    assert gif.n_frames == 8 and Image.open(paths[0]).size == (8 * 6 * 4, 6 * 4)


def test_a_picture_the_camera_file_does_not_name_is_recorded_apart_and_leaves_the_sample_as_it_was(tmp_path):
    """An extra picture in a sample's folder is no view: it neither changes the sample's key nor
    goes unrecorded (`unlisted_view`)."""
    import shutil

    corpus = write_multiview_corpus(tmp_path / "src", num_objects=2)
    objects = corpus.root / "objects"
    with_extra = tmp_path / "with_extra"
    shutil.copytree(objects, with_extra)
    first = sorted(with_extra.iterdir())[0]
    shutil.copy(next(first.glob("*.png")), first / "extra_render.png")
    cfg = CurateConfig(modality="multiview")
    rows = lambda r: {s.key: (s.status, s.reason, s.source_uri) for p in r.batch_paths for s in Batch.read(p).samples}  # noqa: E731
    plain = rows(curate(str(objects), tmp_path / "h1", cfg, backend="local"))
    extra = rows(curate(str(with_extra), tmp_path / "h2", cfg, backend="local"))
    leftover = {k: v for k, v in extra.items() if k not in plain}
    assert [(status, reason, Path(uri).name) for status, reason, uri in leftover.values()] == [
        ("rejected", "unlisted_view: extra_render.png (not in cameras.json)", "extra_render.png")]
    assert {k: v[:2] for k, v in extra.items() if k in plain} == {k: v[:2] for k, v in plain.items()}


def test_a_view_that_does_not_decode_is_quarantined_with_the_decoders_message(tmp_path):
    import shutil

    corpus = write_multiview_corpus(tmp_path / "src", num_objects=2)
    folder = tmp_path / "objects"
    shutil.copytree(corpus.root / "objects", folder)
    sample = sorted(folder.iterdir())[0]
    view = sorted(sample.glob("*.png"))[1]
    view.write_bytes(view.read_bytes()[:100])  # cut short
    result = curate(str(folder), tmp_path / "home", CurateConfig(modality="multiview"), backend="local")
    reasons = [s.reason for p in result.batch_paths for s in Batch.read(p).samples if s.status == "quarantined"]
    assert len(reasons) == 1 and reasons[0].startswith(f"view_decode_error: {view.name}: OSError: "), reasons
    assert len(reasons[0]) > len(f"view_decode_error: {view.name}: OSError: ")  # the decoder's own words


def test_renders_on_a_white_backdrop_are_judged_by_their_object(tmp_path):
    """The usual render style (Zero123, Objaverse) puts the object on white: the backdrop counted as
    burnt-out highlights (highlight_clip 0.94 vs 0.3) and every set was rejected. A set whose views
    have different focal lengths is refused (the cameras carry no field of view), and a set the
    quality filters reject keeps its own size, as a rejected image does."""
    import json
    import shutil

    from preprocess.multiview.views import foreground_mask

    corpus = write_multiview_corpus(tmp_path / "src", num_objects=2)
    white = tmp_path / "white"
    shutil.copytree(corpus.root / "objects", white)
    for png in white.glob("*/*.png"):
        rgb = np.asarray(Image.open(png).convert("RGB")).copy()
        rgb[~foreground_mask(rgb)] = 255
        Image.fromarray(rgb).save(png)
    cfg = CurateConfig(modality="multiview")
    rows = lambda r: [(s.status, s.reason, s.width) for p in r.batch_paths for s in Batch.read(p).samples]  # noqa: E731
    assert rows(curate(str(white), tmp_path / "h1", cfg, backend="local")) == [("accepted", None, 32)] * 2

    size = Image.open(next(white.glob("*/*.png"))).size[0]
    strict = CurateConfig(modality="multiview", options={"min_sharpness": 1e6})
    assert [(s, r.split(":")[0], w) for s, r, w in rows(curate(str(white), tmp_path / "h2", strict, backend="local"))] == [
        ("rejected", "sharpness", size)] * 2

    first = sorted(white.iterdir())[0]
    cams = json.loads((first / "cameras.json").read_text())
    cams["views"][1]["fx"] = cams["views"][1]["fx"] * 4
    (first / "cameras.json").write_text(json.dumps(cams))
    reasons = sorted((r or "").split(":")[0] for _, r, _ in rows(curate(str(white), tmp_path / "h3", cfg, backend="local")))
    assert reasons == ["", "camera_intrinsics"]
