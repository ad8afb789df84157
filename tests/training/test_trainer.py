import json

import torch

from catalog import load_manifest
from training.data import NullCaption, collate, load_examples
from training.trainer import TrainConfig, _ema_update, train

TINY = {"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4}


def test_manifest_examples_carry_latents_and_caption_features(tiny_home):
    m = load_manifest(tiny_home.catalog, tiny_home.train_manifest)
    ex = load_examples(m)
    assert len(ex) == len(m.members) > 100
    assert ex[0].latent.shape == (3, 1, 32, 32) and ex[0].latent.min() >= -1
    assert ex[0].cap_feats.shape == (32, 384) and ex[0].cap_mask.dtype == torch.bool
    assert all(e.split == "train" for e in ex)
    b = collate(ex[:4])
    assert b["x1"].shape == (4, 3, 1, 32, 32)
    mixed = collate([ex[0], ex[1].__class__(**{**ex[1].__dict__, "latent": torch.zeros(3, 1, 16, 32)})])
    assert isinstance(mixed["x1"], list)  # different sizes stay a list for the model to pad


def test_training_reduces_the_loss_and_writes_a_loadable_checkpoint(tiny_home, tmp_path):
    from modelzoo import FlagDiT

    cfg = TrainConfig(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, out_dir=str(tmp_path), null_caption=tiny_home.null_caption,
                      model_overrides=TINY, steps=60, batch_size=32, lr=3e-3, log_every=10, warmup_steps=5)
    r = train(cfg)
    assert r.steps == 60
    assert r.losses[-1][1] < 0.6 * r.losses[0][1]  # it learns
    model = FlagDiT.from_pretrained(r.checkpoint)
    assert model.config.dim == 32 and model.config.cap_dim == 384 and model.config.in_channels == 3
    info = json.loads((tmp_path / "checkpoint-0000060" / "training.json").read_text())
    assert info["manifest"] == tiny_home.train_manifest and set(info["encoders"]) == {"latent", "text"}
    null = NullCaption.load(tmp_path / "checkpoint-0000060" / "null_caption.npz")
    assert null.cap_mask.sum() == 2


def test_ema_update_moves_towards_the_model():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    before = a.weight.detach().clone()
    _ema_update(a, b, 0.75)
    assert torch.allclose(a.weight, 0.75 * before + 0.25 * b.weight)
    _ema_update(a, b, 0.0)
    assert torch.equal(a.weight, b.weight)
