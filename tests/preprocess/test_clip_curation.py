"""CLIP scores in curation: `lumina curate --clip PATH [--aesthetic PATH]` on a tiny random-weight
open_clip (saved with open_clip's own saver) and LAION-layout heads saved with torch.save.

Expected scores come from open_clip called directly on the original images, so the tests check
that curation feeds each sample's own image and caption to the model, applies the head, compares
with the configured threshold, and records verdict rows and reasons in the catalog.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.encoders.tiny_models import save_hf_clip_text, save_open_clip

CAPTIONS = ["a red fox in the snow", "an old bicycle", "three green apples", "a busy harbour at dawn",
            "a violin on a chair", "a lighthouse", "a bowl of noodles"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Seven tinted noise images (sharp, contrasty, not near duplicates of each other) with captions."""
    root = tmp_path_factory.mktemp("clip_corpus")
    rng = np.random.default_rng(0)
    images = {}
    for i, caption in enumerate(CAPTIONS):
        tint = rng.uniform(0.3, 1.0, 3)
        img = (rng.integers(0, 256, (40, 48, 3)) * tint).astype(np.uint8)
        Image.fromarray(img).save(root / f"img{i}.png")
        (root / f"img{i}.txt").write_text(caption)
        images[f"img{i}.png"] = img
    return root, images


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return save_open_clip(tmp_path_factory.mktemp("clip") / "tiny-open-clip")


@pytest.fixture(scope="module")
def reference(clip_dir, corpus):
    """open_clip itself: normalised image embeddings of the originals, and text embeddings of the captions."""
    import open_clip

    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{clip_dir}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{clip_dir}")
    _, images = corpus
    names = sorted(images)
    with torch.no_grad():
        img = model.encode_image(torch.stack([preprocess(Image.fromarray(images[n])) for n in names]))
        txt = model.encode_text(tokenizer([CAPTIONS[int(n[3])] for n in names]))
    img = torch.nn.functional.normalize(img, dim=-1)
    txt = torch.nn.functional.normalize(txt, dim=-1)
    return names, img, txt


def _split_threshold(scores: dict[str, float]) -> float:
    """A threshold in the widest gap among the middle scores: some images fall below it, some above."""
    s = sorted(scores.values())
    i = max(range(2, len(s) - 1), key=lambda j: s[j] - s[j - 1])
    assert s[i] - s[i - 1] > 1e-3, s  # far from any score: float noise cannot move an image across
    return round((s[i] + s[i - 1]) / 2, 6)


def _catalog_rows(home: Path, flt: str) -> dict[str, tuple]:
    """file name -> (status, reason, score, threshold, passed, filter_version) for one CLIP filter."""
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, rows = cat.sql("SELECT s.source_uri, s.status, s.reason, v.score, v.threshold, v.passed, v.filter_version "
                          "FROM samples s JOIN verdicts v USING (key) WHERE v.filter = ?", [flt])
    return {Path(r[0]).name: r[1:] for r in rows}


def _curate(*args: str) -> int:
    from flows.cli import main

    return main(["curate", *map(str, args), "--local", "--json"])


def test_aesthetic_head_rejects_exactly_the_images_below_its_threshold(tmp_path, corpus, clip_dir, reference, capsys):
    names, img, _ = reference
    # a linear LAION-v1 head whose score is a known function of the embedding: 10 * cos(e, e_ref)
    head = torch.nn.Linear(img.shape[1], 1)
    with torch.no_grad():
        head.weight.copy_(10 * img[3:4])
        head.bias.zero_()
    torch.save(head.state_dict(), tmp_path / "head.pth")
    expected = dict(zip(names, (10 * img @ img[3]).tolist()))
    th = _split_threshold(expected)

    root, _ = corpus
    home = tmp_path / "home"
    assert _curate(root, "--home", home, "--clip", clip_dir, "--aesthetic", tmp_path / "head.pth",
                   "--min-aesthetic", th, "--min-clip-similarity", -1.0) == 0
    out = json.loads(capsys.readouterr().out)

    rows = _catalog_rows(home, "aesthetic")
    assert sorted(rows) == names  # a verdict row per image
    below = {n for n, s in expected.items() if s < th}
    assert 0 < len(below) < len(names)
    assert {n for n, r in rows.items() if r[0] == "rejected"} == below
    for n, (status, reason, score, threshold, passed, version) in rows.items():
        assert score == pytest.approx(expected[n], abs=1e-4) and threshold == pytest.approx(th) and version == "1"
        assert passed == (n not in below)
        assert reason == (f"aesthetic: score {score:.4g} vs threshold {th:g}" if n in below else None)
    assert out["counts"] == {"accepted": len(names) - len(below), "rejected": len(below)}
    assert out["reasons"] == {"aesthetic": len(below)}
    sims = _catalog_rows(home, "clip_similarity")  # computed for every image, and all pass at -1
    assert sorted(sims) == names and all(r[4] for r in sims.values())
    from catalog import Catalog

    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:  # the scores are kept with the sample too
        _, meta = cat.sql("SELECT source_uri, CAST(meta->>'aesthetic' AS DOUBLE) FROM samples")
    assert {Path(u).name: m for u, m in meta} == pytest.approx(expected, abs=1e-4)


def test_caption_similarity_below_threshold_rejects_with_its_reason(tmp_path, corpus, clip_dir, reference):
    names, img, txt = reference
    expected = dict(zip(names, (img * txt).sum(-1).tolist()))  # each image against its own caption
    th = _split_threshold(expected)
    config = tmp_path / "curate.yaml"  # the same options from YAML: options.clip
    config.write_text(json.dumps({"options": {"clip": {"path": str(clip_dir), "batch_size": 3,
                                                       "thresholds": {"min_clip_similarity": th}}}}))
    root, _ = corpus
    home = tmp_path / "home"
    assert _curate(root, "--home", home, "--config", config) == 0

    rows = _catalog_rows(home, "clip_similarity")
    below = {n for n, s in expected.items() if s < th}
    assert 0 < len(below) < len(names)
    assert {n for n, r in rows.items() if r[0] == "rejected"} == below
    for n in below:
        status, reason, score, threshold, passed, _ = rows[n]
        assert score == pytest.approx(expected[n], abs=1e-4) and threshold == pytest.approx(th) and not passed
        assert reason == f"clip_similarity: score {score:.4g} vs threshold {th:g}"
    assert _catalog_rows(home, "aesthetic") == {}  # no head given: no aesthetic verdicts


def test_the_clip_is_built_once_per_worker_not_per_image(tmp_path, corpus, clip_dir, monkeypatch):
    from preprocess.curate import AnalyseStage, CurateConfig, curate
    from preprocess.filters import clip_scores
    from preprocess.image.plugin import ImagePlugin
    from preprocess.runner import _StageActor
    from preprocess.sources import SourceSpec, list_entries

    built = []

    class CountedClip(clip_scores.Clip):
        def __init__(self, *a, **kw):
            built.append(a)
            super().__init__(*a, **kw)

    monkeypatch.setattr(clip_scores, "Clip", CountedClip)
    root, _ = corpus
    opts = {"clip": {"path": str(clip_dir), "batch_size": 2, "thresholds": {"min_clip_similarity": -1.0}}}  # 7 images: 4 batches
    result = curate(root, tmp_path / "home", CurateConfig(options=opts), backend="local")
    assert result.counts == {"accepted": 7} and len(built) == 1

    # the Ray Data actor pool's worker: one stage per actor, set up once, then a batch per call
    plugin = ImagePlugin()
    inputs, _ = plugin.group(list_entries(SourceSpec(str(root))), plugin.options(opts))
    cands = [c for part in AnalyseStage(plugin, CurateConfig(options=opts), None).process(inputs) for c in part]
    batches = [cands[i : i + 2] for i in range(0, len(cands), 2)]
    stage = plugin.scoring_stage(plugin.options(opts))
    built.clear()
    actor = _StageActor(stage)
    outs = [pickle.loads(actor({"i": i, "batch": [pickle.dumps(b)]})["out"][0]) for i, b in enumerate(batches)]
    assert len(built) == 1
    assert [len(o) for o in outs] == [2, 2, 2, 1] and all(o.verdicts[-1].filter == "clip_similarity" for b in outs for o in b)


def test_without_clip_no_clip_code_runs(tmp_path, corpus, monkeypatch):
    from contracts.records import Batch
    from encoders import clip
    from preprocess.curate import CurateConfig, curate
    from preprocess.filters import clip_stage
    from preprocess.image.plugin import ImageOptions, ImagePlugin

    def forbidden(*a, **kw):
        raise AssertionError("CLIP code ran without --clip")

    monkeypatch.setattr(clip.Clip, "__init__", forbidden)
    monkeypatch.setattr(clip_stage.ClipScoreStage, "__init__", forbidden)
    assert ImagePlugin().scoring_stage(ImageOptions()) is None
    root, _ = corpus
    result = curate(root, tmp_path / "home", CurateConfig(), backend="local")
    assert result.counts == {"accepted": 7}
    verdicts = [v for p in result.batch_paths for v in Batch.read(p).verdicts]
    assert verdicts and not {v.filter for v in verdicts} & {"aesthetic", "clip_similarity"}
    # and in a fresh interpreter, curation imports nothing of CLIP (no extra time in the demo)
    code = ("import sys; from preprocess.curate import CurateConfig, curate; "
            f"curate({str(root)!r}, {str(tmp_path / 'fresh')!r}, CurateConfig(), backend='local'); "
            "print(sorted(m for m in ('open_clip', 'encoders.clip', 'preprocess.filters.clip_scores', 'preprocess.filters.clip_stage') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2], timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "[]"


def test_wrong_clip_paths_end_in_one_line_and_exit_2(tmp_path, corpus, clip_dir, capsys):
    root, _ = corpus
    text_only = save_hf_clip_text(tmp_path / "text-only")
    capsys.readouterr()  # the savers' progress bars
    cases = [
        (["--clip", tmp_path / "missing"], "no CLIP at"),
        (["--clip", clip_dir, "--aesthetic", tmp_path / "missing.pth"], "no aesthetic head at"),
        (["--aesthetic", tmp_path / "head.pth"], "give the CLIP too"),
        (["--clip", text_only], "no image tower"),
    ]
    for args, message in cases:
        assert _curate(root, "--home", tmp_path / "home", *args) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "home" / "catalog.duckdb").exists()  # refused before a run was opened


def test_refresh_scores_new_inputs_as_curate_does(tmp_path, corpus, clip_dir, reference):
    """`lumina refresh` builds curation from its own pieces: it must not skip the configured scores."""
    from catalog import Catalog
    from flows.refresh import refresh_source
    from preprocess.curate import CurateConfig
    from preprocess.encode import EncodeConfig

    names, img, txt = reference
    expected = dict(zip(names, (img * txt).sum(-1).tolist()))
    th = _split_threshold(expected)
    root, _ = corpus
    cfg = CurateConfig(options={"clip": {"path": str(clip_dir), "thresholds": {"min_clip_similarity": th}}})
    home = tmp_path / "home"
    refresh_source(str(root), home, cfg, encode_cfg=EncodeConfig(text="phone"), backend="local")
    rows = _catalog_rows(home, "clip_similarity")
    assert sorted(rows) == names
    assert {n for n, r in rows.items() if r[0] == "rejected"} == {n for n, s in expected.items() if s < th}
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        assert cat.sql("SELECT count(*) FROM samples")[1][0][0] == len(names)
