"""The CLIP scores' options: YAML shapes, flags over YAML, refusals. No model is loaded here."""

import argparse

import pytest

from contracts.config import ConfigError, from_mapping
from flows.cli_config import add_clip_args, clip_options
from preprocess.filters.clip_config import ClipScoring, ClipThresholds
from preprocess.image.plugin import ImageOptions


def _flags(*argv):
    p = argparse.ArgumentParser()
    add_clip_args(p)
    return p.parse_args(list(argv))


def test_yaml_shapes_and_defaults():
    assert ImageOptions().clip == ClipScoring() and not ImageOptions().clip.enabled
    assert ClipThresholds() == ClipThresholds(min_aesthetic=5.0, min_clip_similarity=0.28)
    short = from_mapping(ImageOptions, {"clip": "/models/clip"})
    assert short.clip == ClipScoring(path="/models/clip") and short.clip.enabled
    full = from_mapping(ImageOptions, {"clip": {"path": "/m", "aesthetic": "/h.pth", "thresholds": {"min_aesthetic": 6.5}}})
    assert full.clip.thresholds == ClipThresholds(min_aesthetic=6.5, min_clip_similarity=0.28)
    with pytest.raises(ConfigError, match="min_aestetic"):
        from_mapping(ImageOptions, {"clip": {"path": "/m", "thresholds": {"min_aestetic": 6.5}}})
    with pytest.raises(ValueError, match="give the CLIP too"):
        from_mapping(ImageOptions, {"clip": {"aesthetic": "/h.pth"}})
    with pytest.raises(ValueError, match="num_actors"):
        ClipScoring(path="/m", num_actors=0)


def test_flags_merge_over_yaml_options(tmp_path):
    clip = tmp_path / "clip"
    clip.mkdir()
    (clip / "open_clip_config.json").write_text("{}")
    yaml_opts = {"size": 32, "clip": {"path": "/elsewhere", "thresholds": {"min_aesthetic": 4.5, "min_clip_similarity": 0.3}}}
    merged = clip_options(_flags("--clip", str(clip), "--min-aesthetic", "6.5"), yaml_opts)
    assert merged == {"size": 32, "clip": {"path": str(clip), "thresholds": {"min_aesthetic": 6.5, "min_clip_similarity": 0.3}}}
    assert clip_options(_flags(), {"size": 32}) == {"size": 32}  # no flags, no clip: options untouched
    assert clip_options(_flags(), {"clip": str(clip)}) == {"clip": {"path": str(clip)}}
    with pytest.raises(FileNotFoundError, match="no CLIP at"):
        clip_options(_flags(), yaml_opts)  # the YAML's path is checked too


@pytest.mark.parametrize("clip, said", [
    ({"thresholds": {"min_clip_similarity": 1.5}}, r"clip.thresholds: min_clip_similarity must be between -1 and 1"),
    ({"thresholds": {"min_clip_similarity": -1.01}}, "min_clip_similarity must be between -1 and 1"),
    ({"thresholds": {"min_aesthetic": float("inf")}}, "min_aesthetic must be finite"),
    ({"gpus_per_actor": float("inf")}, "gpus_per_actor must be >= 0 and finite"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
])
def test_a_threshold_no_image_could_pass_is_refused_in_one_line(clip, said):
    # a cosine threshold above 1 (or an infinite aesthetic one) rejected every image of the run
    with pytest.raises(ConfigError, match=said):
        from_mapping(ImageOptions, {"clip": {"path": "/m", **clip}}, where="image options")


def test_the_ends_of_the_cosine_range_are_thresholds_one_may_ask_for():
    assert ClipThresholds(min_clip_similarity=-1.0).min_clip_similarity == -1.0
    assert ClipThresholds(min_clip_similarity=1.0, min_aesthetic=-3.0).min_aesthetic == -3.0
