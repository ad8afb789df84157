"""`lumina sample --size HxW --frames N` -> the latent shape to sample: pixels over the encoder's
downsampling, and one clear error for a size or frame count that gives nothing to sample."""

import json
from pathlib import Path

import numpy as np
import pytest

from evaluation.sample import latent_shape


@pytest.fixture
def ckpt(tmp_path):
    (tmp_path / "training.json").write_text(json.dumps({"latent_shape": [4, 1, 4, 4]}))
    (tmp_path / "latent_encoder.json").write_text(json.dumps({"downsample": 8}))
    return tmp_path


def test_size_and_frames_in_pixels_become_the_latent_shape(ckpt):
    assert latent_shape(ckpt, None, None) == [4, 1, 4, 4]
    assert latent_shape(ckpt, "32x48", 1) == [4, 1, 4, 6]
    assert latent_shape(ckpt, "8X8", None) == [4, 1, 1, 1]
    (ckpt / "training.json").write_text(json.dumps({"latent_shape": [4, 8, 4, 4]}))  # a video checkpoint
    assert latent_shape(ckpt, "32x48", 3) == [4, 3, 4, 6]


def test_frames_on_a_single_frame_checkpoint_is_an_error(ckpt):
    """--frames 4 (or --views 4) on an image checkpoint was ignored without a word: one image came out."""
    (ckpt / "training.json").write_text(json.dumps({"latent_shape": [4, 1, 4, 4], "train_config": {"modality": "image"}}))
    with pytest.raises(ValueError, match=r"--frames \(or --views\) 4: this checkpoint was trained on single-frame latents \(image\)"):
        latent_shape(ckpt, None, 4)


@pytest.mark.parametrize("size", ["0x32", "32x0", "-8x32", "7x32", "32x7", "abc", "32x"])
def test_a_size_with_no_latent_pixel_is_an_error(ckpt, size):
    with pytest.raises(ValueError, match="--size"):
        latent_shape(ckpt, size, None)


@pytest.mark.parametrize("frames", [0, -2])
def test_no_frames_is_an_error(ckpt, frames):
    with pytest.raises(ValueError, match=r"--frames \(or --views\) must be at least 1"):
        latent_shape(ckpt, None, frames)


@pytest.mark.parametrize("size, frames", [("32x32", None), (None, 4)])
def test_speech_takes_its_length_from_the_prompt_and_refuses_size_and_frames(tmp_path, size, frames):
    from types import SimpleNamespace

    from evaluation.speech.sample import prepare

    with pytest.raises(ValueError, match="--size, --frames and --views do not apply"):
        prepare(SimpleNamespace(size=size, frames=frames, prompt="seven"), tmp_path, [80, 1, 1, 100])


@pytest.mark.parametrize("prompt", ["...", "  ", "?!"])
def test_a_speech_prompt_without_phones_is_refused(tmp_path, prompt):
    """It wrote a fifth of a second of noise and exited 0."""
    from types import SimpleNamespace

    from evaluation.speech.sample import prepare

    with pytest.raises(ValueError, match="has no phones to say"):
        prepare(SimpleNamespace(size=None, frames=None, prompt=prompt), tmp_path, [80, 1, 1, 100])


@pytest.mark.parametrize("out, modality, expected", [("sample", "speech", "sample.wav"), ("sample", "image", "sample.png"),
                                                     ("a/clip.GIF", "video", "a/clip.GIF"), ("x.jpg", "image", "x.jpg"),
                                                     ("turn.gif", "multiview", "turn.gif")])
def test_out_gets_the_modalitys_suffix_when_it_has_none(out, modality, expected):
    from pathlib import Path

    from evaluation.sample import out_path

    assert out_path(out, modality) == Path(expected)


def test_a_multiview_sample_asked_for_as_gif_writes_its_strip_and_turntable_beside_it(tmp_path):
    import numpy as np

    from evaluation.multiview.render import save_samples

    views = np.random.default_rng(0).uniform(-1, 1, (3, 4, 8, 8))
    assert save_samples([views], tmp_path / "turn.gif") == [tmp_path / "turn.png", tmp_path / "turn.gif"]
    assert (tmp_path / "turn.gif").read_bytes()[:6] == b"GIF89a" and (tmp_path / "turn.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("out, modality", [("x.mp3", "speech"), ("x.png", "video"), ("x.jpg", "multiview")])
def test_out_with_a_suffix_the_writer_cannot_write_is_an_error(out, modality):
    from evaluation.sample import out_path

    with pytest.raises(ValueError, match=f"--out {out}: {modality} samples are written as"):
        out_path(out, modality)


@pytest.mark.parametrize("elevation", [90, 95, -90])
def test_multiview_elevation_must_leave_a_ring(tmp_path, elevation):
    from types import SimpleNamespace

    from evaluation.multiview.sample import MultiviewSampleOptions, prepare

    with pytest.raises(ValueError, match="--elevation must be between -90 and 90"):
        MultiviewSampleOptions(elevation=elevation)
    shape, extra = prepare(SimpleNamespace(frames=4, num=1), tmp_path, [3, 4, 16, 16], MultiviewSampleOptions(elevation=30))
    assert shape == [3, 4, 16, 16] and tuple(extra["frame_cond"].shape) == (1, 4, 8)


@pytest.mark.parametrize("options, said", [({"elevation": 20.0}, "--elevation is for multiview checkpoints; this one is video"),
                                           ({"elevation": 20.0, "radius": 2.0},
                                            "--elevation and --radius are for multiview checkpoints; this one is video"),
                                           ({"elevatoin": 20.0}, "options.elevatoin: lumina sample has no such option")])
def test_elevation_on_a_checkpoint_that_is_not_multiview_is_an_error(ckpt, options, said):
    import json
    import re

    from evaluation.sample import SampleConfig, sample_to_files

    info = json.loads((ckpt / "training.json").read_text())
    (ckpt / "training.json").write_text(json.dumps({**info, "modality": "video"}))
    with pytest.raises(ValueError, match=re.escape(said)):
        sample_to_files(SampleConfig(checkpoint=str(ckpt), prompt="a 3 moving left", options=options))


def test_a_size_off_the_encoders_grid_is_an_error_that_names_the_sizes_it_can_write(ckpt):
    with pytest.raises(ValueError, match=r"multiple of 8 pixels .* got '30x45': 24x40 or 32x48"):
        latent_shape(ckpt, "30x45", None)


def test_a_checkpoint_without_training_json_says_what_it_is(tmp_path):
    with pytest.raises(ValueError, match="no training.json: a model without recorded encoders"):
        latent_shape(tmp_path, None, None)


def test_sample_and_evaluate_refuse_encoders_other_than_the_checkpoints(tiny_home, tmp_path):
    """A text encoder whose weights changed at its recorded path (the VAE was already checked), and
    a held-out manifest made by other encoders than the training data's, gave numbers without a word."""
    from evaluation.evaluate import EvalConfig, evaluate
    from evaluation.sample import SampleConfig, sample_to_files
    from training.trainer import TrainConfig, train

    r = train(TrainConfig(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, out_dir=str(tmp_path / "run"),
                          null_caption=tiny_home.null_caption, steps=1, batch_size=4, progress=False, tensorboard=False,
                          model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4}))
    ckpt = Path(r.checkpoint)
    text = json.loads((ckpt / "text_encoder.json").read_text())
    (ckpt / "text_encoder.json").write_text(json.dumps({**text, "fingerprint": "minilm@0000000000000000"}))
    with pytest.raises(ValueError, match="not minilm@0000000000000000, which the checkpoint.s captions were encoded by: the encoder changed since"):
        sample_to_files(SampleConfig(checkpoint=str(ckpt), prompt="a 3", out=str(tmp_path / "x.png"), steps=1))
    info = json.loads((ckpt / "training.json").read_text())
    (ckpt / "training.json").write_text(json.dumps({**info, "encoders": {**info["encoders"], "text": "clip@1234"}}))
    with pytest.raises(ValueError, match=r"was encoded by text all-MiniLM.*trained on text clip@1234"):
        evaluate(EvalConfig(checkpoint=str(ckpt), catalog=tiny_home.catalog, manifest=tiny_home.holdout_manifest,
                            out_dir=str(tmp_path / "eval")))


def test_multiview_radius_sets_the_rings_camera_distance(tmp_path):
    """Cameras at the demo's distance (1.0) were the only ones lumina sample could ask for; a user's
    renders at 2.5 got camera vectors the model never saw. Without --radius and without a reachable
    catalog the demo's distance stays."""
    from types import SimpleNamespace

    from encoders.cameras import camera_vector
    from evaluation.multiview.sample import MultiviewSampleOptions, prepare

    cfg = SimpleNamespace(frames=4, num=1)
    _, far = prepare(cfg, tmp_path, [3, 4, 16, 16], MultiviewSampleOptions(elevation=30, radius=2.5))
    _, near = prepare(cfg, tmp_path, [3, 4, 16, 16], MultiviewSampleOptions(elevation=30, radius=None))
    az0 = 0.0
    assert np.allclose(far["frame_cond"][0, :, :].numpy()[:, 6], camera_vector(30, az0, 2.5)[6])
    assert np.allclose(near["frame_cond"][0, :, :].numpy()[:, 6], camera_vector(30, az0, 1.0)[6])
    with pytest.raises(ValueError, match="--radius must be positive"):
        MultiviewSampleOptions(elevation=30, radius=-1.0)
    with pytest.raises(ValueError, match=r"--radius must be positive \(and finite\); got inf"):  # an inf radius in every camera vector
        MultiviewSampleOptions(elevation=30, radius=float("inf"))
