"""Camera conditioning steers the views: a tiny Flag-DiT trained on toy view sets whose look is set
by each view's camera alone (views listed in random azimuth order, so the view's position says
nothing) follows permuted cameras: the pose judge's predictions permute with them, same noise
and caption."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evaluation.multiview.judge import judge_views, pose_bin, train_view_judge
from evaluation.multiview.metrics import permuted
from evaluation.sampling import generate
from encoders.cameras import CAMERA_DIM, camera_vector
from training.data import Example, NullCaption, collate

V, S = 4, 8
COLOURS = [(1.0, -1.0, -1.0), (-1.0, 1.0, -1.0), (-1.0, -1.0, 1.0), (1.0, 1.0, 1.0)]


def toy_sets(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[n, 3, V, S, S] views and [n, V, CAMERA_DIM] cameras: a view at azimuth bin b is a square of
    colour COLOURS[b] (the toy's 'pose'), views in random azimuth order."""
    rng = np.random.default_rng(seed)
    x = -np.ones((n, 3, V, S, S), np.float32)
    cams = np.zeros((n, V, CAMERA_DIM), np.float32)
    for i in range(n):
        for v, b in enumerate(rng.permutation(V)):
            az = 90.0 * b + rng.uniform(10, 80)
            cams[i, v] = camera_vector(20.0, az, 1.0)
            x[i, :, v, 2:6, 2:6] = torch.tensor(COLOURS[b])[:, None, None].numpy()
    return torch.from_numpy(x), torch.from_numpy(cams)


@pytest.fixture
def one_thread():
    """Small matrices on 2 shared cores: one thread ran this test 2-5x faster than two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_permuted_cameras_permute_pose_predictions(one_thread):
    from modelzoo import FlagDiT, FlowMatching, get_config

    torch.manual_seed(0)
    x, cams = toy_sets(256, seed=0)
    feats, mask = torch.zeros(8, 16), torch.ones(8, dtype=torch.bool)  # one caption for all
    examples = [Example(f"k{i}", x[i], feats, mask, "a toy", "train", frame_cond=cams[i]) for i in range(len(x))]
    model = FlagDiT(get_config("flag-dit-tiny", in_channels=3, cap_dim=16, dim=64, n_layers=2, n_heads=4, patch_size=4,
                               multiple_of=32, frame_cond_dim=CAMERA_DIM))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    fm = FlowMatching(timesteps="logit_normal")
    for step in range(250):  # batches of 16: as sure as 32 (1.0 and 1.0 on seeds 0-3), half the CPU
        b = collate([examples[j] for j in torch.randint(len(examples), (16,)).tolist()])
        loss = fm.training_loss(model, b["x1"], cap_feats=b["cap_feats"], cap_mask=b["cap_mask"], frame_cond=b["frame_cond"])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()

    real, real_cams = toy_sets(64, seed=1)
    pose = torch.tensor([[pose_bin(c, V) for c in cs] for cs in real_cams])
    judge = train_view_judge(real, pose, V, steps=150)
    assert judge.test_accuracy > 0.95

    held = [Example(f"h{i}", real[i], feats, mask, "a toy", "holdout", frame_cond=real_cams[i]) for i in range(16)]
    cfg = type("Cfg", (), dict(batch_size=16, cfg_scale=1.0, solver="euler", steps=8, shift=1.0))()
    null = NullCaption(torch.zeros(8, 16), torch.ones(8, dtype=torch.bool))
    pred = judge_views(judge.judge, generate(model, null, held, cfg, seed=3).clamp(-1, 1))
    perm = [2, 3, 0, 1]
    pred_perm = judge_views(judge.judge, generate(model, null, permuted(held, perm), cfg, seed=3).clamp(-1, 1))
    assert (pred == pose[:16]).float().mean() > 0.8  # views stand where their cameras say
    assert (pred_perm == pred[:, perm]).float().mean() > 0.8  # and move when the cameras move
