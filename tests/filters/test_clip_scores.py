"""CLIP scorers on a tiny open_clip / HF CLIP with random weights and LAION-layout aesthetic heads."""

import numpy as np
import pytest
import torch

from preprocess.filters.clip_scores import ClipScorer, ClipThresholds, clip_verdicts, load_aesthetic_head
from tests.encoders.tiny_models import OPEN_CLIP_TINY, save_hf_clip, save_open_clip

EMBED = OPEN_CLIP_TINY["embed_dim"]


def _images(n=5):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (32 + 8 * i, 40, 3), dtype=np.uint8) for i in range(n)]


@pytest.fixture(scope="module")
def heads(tmp_path_factory):
    """The two published LAION head layouts, at the tiny embedding width."""
    root = tmp_path_factory.mktemp("aesthetic")
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(EMBED, 32), torch.nn.Dropout(0.2), torch.nn.Linear(32, 16), torch.nn.Dropout(0.2),
                              torch.nn.Linear(16, 8), torch.nn.Dropout(0.1), torch.nn.Linear(8, 4), torch.nn.Linear(4, 1))
    torch.save({f"layers.{k}": v for k, v in mlp.state_dict().items()}, root / "v2_mlp.pth")  # keys layers.0 ... layers.7
    linear = torch.nn.Linear(EMBED, 1)
    torch.save(linear.state_dict(), root / "v1_linear.pth")  # keys weight, bias
    return {"mlp": (root / "v2_mlp.pth", mlp.eval()), "linear": (root / "v1_linear.pth", linear)}


@pytest.fixture(scope="module")
def scorer(tmp_path_factory, heads):
    return ClipScorer(save_open_clip(tmp_path_factory.mktemp("oc") / "m"), heads["mlp"][0], device="cpu", batch_size=2)


def test_one_normalised_embedding_per_image_feeds_every_score(scorer, heads):
    imgs = _images()
    emb = scorer.embed_images(imgs)  # batches of 2, 2, 1
    assert emb.shape == (5, EMBED) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    one = scorer.embed_images(imgs[3:4])
    assert np.allclose(one[0], emb[3], atol=1e-5)  # batching does not change a sample's embedding
    with torch.no_grad():
        want = heads["mlp"][1](torch.from_numpy(emb)).numpy()[:, 0]
    np.testing.assert_allclose(scorer.aesthetic(emb), want, rtol=1e-5, atol=1e-6)
    caps = ["a red circle", "a digit", "a blue square", "noise", ""]
    sim = scorer.text_similarity(emb, caps)
    text = scorer.clip.text_embeddings(caps)
    np.testing.assert_allclose(sim, (emb * text).sum(1), rtol=1e-5, atol=1e-6)
    assert np.all(np.abs(sim) <= 1 + 1e-5)


def test_linear_head_and_dimension_check(heads, tmp_path):
    head = load_aesthetic_head(heads["linear"][0], EMBED)
    x = torch.nn.functional.normalize(torch.randn(3, EMBED), dim=-1)
    assert torch.allclose(head(x), heads["linear"][1](x))
    with pytest.raises(ValueError, match="768"):
        load_aesthetic_head(heads["linear"][0], 768)


def test_hf_clip_folder_scores_too(tmp_path):
    s = ClipScorer(save_hf_clip(tmp_path / "hf"), device="cpu")
    emb = s.embed_images(_images(2))
    assert emb.shape == (2, 16) and s.text_similarity(emb, ["a", "b"]).shape == (2,)
    with pytest.raises(ValueError, match="aesthetic head"):
        s.aesthetic(emb)


def test_verdicts_carry_score_and_threshold():
    th = ClipThresholds()
    v = clip_verdicts("k", th, aesthetic=4.9, similarity=0.31)
    assert [(x.filter, x.score, x.threshold, x.passed) for x in v] == [("aesthetic", 4.9, 5.0, False), ("clip_similarity", 0.31, 0.28, True)]
    assert [x.filter for x in clip_verdicts("k", ClipThresholds(min_aesthetic=4.5), aesthetic=4.9)] == ["aesthetic"]
    assert clip_verdicts("k", ClipThresholds(min_aesthetic=4.5), aesthetic=4.9)[0].passed
