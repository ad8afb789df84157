"""Technical quality: planted blurry, washed-out and blank images fail their own filter; real digits and shapes pass."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from preprocess.filters.quality import QUALITY_FILTERS, QualityThresholds, frames_quality, quality_verdicts, rejection_reason, technical_quality


def _large_circle(size=48, colour=(220, 40, 40)) -> Image.Image:
    img = Image.new("RGB", (size, size))
    ImageDraw.Draw(img).ellipse([8, 8, size - 8, size - 8], fill=colour)
    return img


PLANTED = {"blurry": "sharpness", "washed_out": "contrast", "blank": "solid_colour"}  # the demo's planted kind -> its filter


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from preprocess.image.demo_corpus import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("quality-corpus"), num_digits=None, num_shapes=300, seed=0)  # every digit


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.parametrize("kind", list(PLANTED))
def test_planted_image_is_rejected_by_its_own_filter_with_its_score(corpus, kind):
    filter_name = PLANTED[kind]
    scores = technical_quality(_rgb(corpus.root / corpus.planted[kind]))
    verdicts = quality_verdicts(f"planted-{kind}", scores, QualityThresholds())
    assert [v.filter for v in verdicts] == list(QUALITY_FILTERS)  # one verdict per named filter
    first_failed = next(v for v in verdicts if not v.passed)
    assert first_failed.filter == filter_name
    score_name = QUALITY_FILTERS[filter_name][0]
    assert first_failed.score == pytest.approx(scores[score_name]) and first_failed.threshold is not None
    assert rejection_reason(verdicts).startswith(f"{filter_name}: ")


def test_blurry_fails_only_its_own_filter(corpus):
    failed = [v.filter for v in quality_verdicts("blurry", technical_quality(_rgb(corpus.root / corpus.planted["blurry"]))) if not v.passed]
    assert failed == ["sharpness"]
    sharp = [v for v in quality_verdicts("sharp", technical_quality(np.asarray(_large_circle()))) if not v.passed]
    assert sharp == []  # the same circle unblurred passes everything: the blur is what fails


def test_real_digits_and_shapes_pass_every_filter(corpus):
    th = QualityThresholds()
    for folder in ("digits", "shapes"):
        for path in sorted((corpus.root / folder).glob("*.png")):
            failed = [(v.filter, round(v.score, 4)) for v in quality_verdicts(path.name, technical_quality(_rgb(path)), th) if not v.passed]
            assert not failed, (path.name, failed)


def test_sharpness_is_size_normalised():
    from skimage import data

    photo = Image.fromarray(data.astronaut())
    big = technical_quality(np.asarray(photo.resize((640, 427))))["sharpness"]
    small = technical_quality(np.asarray(photo.resize((32, 32), Image.BOX)))["sharpness"]
    blurred = technical_quality(np.asarray(photo.resize((640, 427)).filter(ImageFilter.GaussianBlur(12))))["sharpness"]
    assert 0.1 < small / big < 10  # one scale: the same photo scores within an order of magnitude at 20x the size
    assert blurred < big / 10


def test_scores_on_known_inputs():
    blank = technical_quality(np.zeros((40, 30, 3), np.uint8))
    assert blank["solid_fraction"] == 1.0 and blank["shadow_clip"] == 1.0 and blank["sharpness"] == 0 and blank["contrast"] == 0
    white = technical_quality(np.full((32, 32, 3), 255, np.uint8))
    assert white["highlight_clip"] == 1.0
    grey_noise = np.repeat(np.random.default_rng(0).integers(0, 256, (32, 32, 1), dtype=np.uint8), 3, axis=-1)
    colour_noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert technical_quality(grey_noise)["colourfulness"] < 1e-3 < technical_quality(colour_noise)["colourfulness"]
    assert technical_quality(np.asarray(_large_circle()))["solid_fraction"] < 0.97


def test_frames_quality_takes_the_median_frame():
    sharp, blurry = np.asarray(_large_circle()), np.asarray(_large_circle().filter(ImageFilter.GaussianBlur(3)))
    black = np.zeros_like(sharp)
    clip = frames_quality([sharp, sharp, black, sharp])  # one fade-to-black frame
    assert [v.filter for v in quality_verdicts("clip", clip) if not v.passed] == []
    mostly_blurry = frames_quality([blurry, blurry, sharp])
    assert [v.filter for v in quality_verdicts("clip", mostly_blurry) if not v.passed] == ["sharpness"]


def test_curation_records_each_quality_verdict_with_score_and_threshold(tmp_path):
    """Through the image stage: the planted images are rejected with their filter, score and threshold."""
    from contracts.records import Batch
    from preprocess.curate import CurateConfig, curate
    from preprocess.image.demo_corpus import write_demo_corpus

    small = write_demo_corpus(tmp_path / "src", num_digits=12, num_shapes=6, seed=0)
    result = curate(small.root, tmp_path / "home", CurateConfig(), backend="local")
    batches = [Batch.read(p) for p in result.batch_paths]
    samples = {Path(s.source_uri).name: s for b in batches for s in b.samples}
    verdicts = {(v.key, v.filter): v for b in batches for v in b.verdicts}
    for kind, filter_name in PLANTED.items():
        s = samples[Path(small.planted[kind]).name]
        v = verdicts[(s.key, filter_name)]
        assert s.status == "rejected" and s.reason.startswith(f"{filter_name}:") and not v.passed
        assert v.score == pytest.approx(technical_quality(_rgb(small.root / small.planted[kind]))[QUALITY_FILTERS[filter_name][0]])
        assert v.threshold == getattr(QualityThresholds(), QUALITY_FILTERS[filter_name][1])
    accepted = [s for s in samples.values() if s.status == "accepted"]
    assert len(accepted) == 12 + 6 and {v.filter for b in batches for v in b.verdicts if v.key == accepted[0].key} >= set(QUALITY_FILTERS)


def test_thresholds_come_from_the_stage_config(tmp_path):
    from contracts.config import parse_assignments
    from preprocess.curate import CurateConfig, curate
    from preprocess.image.demo_corpus import write_demo_corpus

    small = write_demo_corpus(tmp_path / "src", num_digits=3, num_shapes=2, seed=0)
    cfg = CurateConfig(**parse_assignments(["options.quality.min_sharpness=0.01"]))  # as `lumina curate --set ...` gives it
    result = curate(small.root, tmp_path / "home", cfg, backend="local")
    assert "sharpness" not in result.reasons and result.reasons["contrast"] == 1 and result.reasons["solid_colour"] == 1
