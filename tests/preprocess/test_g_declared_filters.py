"""Each modality plugin declares the filters its curation runs, by the names its verdicts carry, with
their versions (ModalityPlugin.filter_versions; the generic curation's are GENERIC_FILTERS), and
preprocess.modality.curation_versions returns them beside the caption normalisation. Runs record
them and a refresh compares them with the catalog's verdicts by those names, so a filter whose
verdicts the declaration lacks (a new filter, a version constant bumped without its declaration
following) is caught here: each modality's demo corpus is curated at its smallest (the planted bad
inputs included) and every (filter, version) its verdicts carry must be declared. The other way,
every declared filter must have been seen, but for those that only run on inputs the demo lacks."""

from __future__ import annotations

import pytest

from contracts.records import Batch, VerdictRecord
from preprocess.curate import CurateConfig, curate
from preprocess.modality import GENERIC_FILTERS, PLUGINS, curation_versions, get_plugin

# declared filters the small demo corpora never run, and why (each a refusal or a model's)
NOT_IN_THE_DEMO = {
    "media_size": "an input over max_media_bytes",
    "caption_length": "a caption over max_caption_bytes",
    "exact_dedup": "(multiview and speech: their small corpora plant no exact copy)",
    "too_many_pixels": "a decoder's pixel cap",
    "multi_page_image": "a multi-page TIFF",
    "animated_image": "an animated image",
    "too_many_frames": "a video over max_frames",
    "no_frames": "a video stream without a frame",
    "still_image": "a one-frame video",
}


def _image(tmp):
    from preprocess.image.demo_corpus import write_demo_corpus

    return write_demo_corpus(tmp, num_digits=2, num_shapes=1).root, {"vae_factor": 1}


def _video(tmp):
    from preprocess.video.demo_corpus import write_demo_corpus
    from tests.video.planted import DEMO_OPTIONS

    return write_demo_corpus(tmp, num_clips=2).root, DEMO_OPTIONS


def _multiview(tmp):
    from preprocess.multiview.demo_corpus import write_multiview_corpus

    return write_multiview_corpus(tmp, num_objects=1).root, {}


def _speech(tmp):
    from preprocess.speech.demo_corpus import write_speech_corpus

    return write_speech_corpus(tmp, voices=1, rates=(130,), pitches=(35,), phrases=False).root, {}


CORPORA = {"image": _image, "video": _video, "multiview": _multiview, "speech": _speech}


def _verdicts(modality: str, tmp) -> set[tuple[str, str]]:
    root, options = CORPORA[modality](tmp / "source")
    result = curate(root, tmp / "home", CurateConfig(modality=modality, options=options), backend="local")
    verdicts = [v for p in result.batch_paths for v in Batch.read(p).verdicts]
    if modality == "image":  # its CLIP scoring stage needs a model: its verdicts as that stage makes them
        from preprocess.filters.clip_config import ClipThresholds, clip_verdicts

        verdicts += clip_verdicts("k", ClipThresholds(), aesthetic=5.0, similarity=0.3)
    assert verdicts and all(isinstance(v, VerdictRecord) for v in verdicts)
    return {(v.filter, v.version) for v in verdicts}


@pytest.mark.parametrize("modality", sorted(CORPORA))
def test_every_filter_a_curation_runs_is_declared_with_the_version_its_verdicts_carry(modality, tmp_path):
    plugin = get_plugin(modality)
    declared = curation_versions(plugin)
    seen = _verdicts(modality, tmp_path)
    undeclared = sorted(seen - set(declared.items()))
    assert not undeclared, (f"{modality}: verdicts (filter, version) not in curation_versions: {undeclared}; declare "
                            f"them in {type(plugin).__name__}.filter_versions (or GENERIC_FILTERS)")
    never = set(declared) - {"caption normalisation"} - {f for f, _ in seen} - set(NOT_IN_THE_DEMO)
    assert not never, f"{modality}: declared filters no verdict of the demo carries: {sorted(never)}"


def test_the_versions_are_the_caption_normalisation_and_the_filters_by_name():
    """Filter names, not files; the generic filters once, from one place; a plugin's declaration
    overrides none of them; caption normalisation only where the plugin normalises captions."""
    from preprocess.curate import FILTER_VERSION

    assert set(CORPORA) == {m.value for m in PLUGINS}  # a new modality: its demo corpus in CORPORA above
    for modality in CORPORA:
        plugin = get_plugin(modality)
        versions = curation_versions(plugin)
        assert not set(GENERIC_FILTERS) & set(plugin.filter_versions), modality
        assert {f: versions[f] for f in GENERIC_FILTERS} == dict.fromkeys(GENERIC_FILTERS, FILTER_VERSION)
        assert not [k for k in versions if "/" in k or k.endswith(".py") or "VERSION" in k], versions
        assert all(isinstance(v, str) and v for v in versions.values()), versions
        assert ("caption normalisation" in versions) == bool(plugin.caption_version), modality
    assert curation_versions(get_plugin("speech"))["caption normalisation"] == get_plugin("speech").caption_version
    assert list(curation_versions(get_plugin("speech")))[0] == "caption normalisation"
