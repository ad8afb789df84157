"""What the trainer says about its batches: the small-manifest warning from the batch plan (it said
"every batch holds all 21" of batches of 20 and 1), each epoch's batches in the log, and the batches
of one a too-small token budget forces, warned once with counts."""

from __future__ import annotations

import logging
import re

import pytest

from tests.training.test_trainer import tiny_cfg
from training.buckets import BatchBudget
from training.stream import ManifestIndex, ShardStream
from training.synthetic import write_synthetic_shards
from training.trainer import _say_small_manifest, train


def tokens(shape):
    T, H, W = shape[-3:]
    return T * ((H // 2) * (W // 2 + 1) + (1 if T > 1 else 0))


@pytest.mark.parametrize("odd, said", [
    (True, "manifest t@v1 has 21 members, fewer than batch_size 64: each epoch is 2 batches, of 19 and 2 samples "
           "(samples of different token counts are batched apart, to keep [PAD] low)"),
    (False, "manifest t@v1 has 21 members, fewer than batch_size 64: every batch holds all 21")])
def test_the_small_manifest_warning_says_the_batches_the_plan_makes(tmp_path, caplog, odd, said):
    shapes = [(4, 1, 8, 8)] * 20 + [(4, 1, 16, 8) if odd else (4, 1, 8, 8)]
    m = write_synthetic_shards(tmp_path, shapes, per_shard=8)
    index = ManifestIndex(m)
    index.manifest_id = "t@v1"
    stream = ShardStream(index, BatchBudget(max_samples=64), tokens, seed=0)
    with caplog.at_level(logging.WARNING, logger="training.trainer"):
        _say_small_manifest(stream, "t@v1", 21, 64)
    assert [r.getMessage() for r in caplog.records] == [said]


def test_the_log_sums_up_each_epochs_batches_and_warns_of_forced_batches_of_one(tiny_home, tmp_path, caplog):
    from catalog import load_manifest_header

    members = load_manifest_header(tiny_home.catalog, tiny_home.train_manifest).num_members
    per_epoch = -(-members // 64)
    with caplog.at_level(logging.INFO, logger="training"):
        train(tiny_cfg(tiny_home, tmp_path / "a", steps=per_epoch + 1, batch_size=64, log_every=per_epoch + 1))
    lines = [r.getMessage() for r in caplog.records if r.name == "training.trainer"]
    epoch_0 = [ln for ln in lines if ln.startswith("epoch 0:")]
    assert len(epoch_0) == 1 and re.fullmatch(rf"epoch 0: {per_epoch} batches, [\d.]+ samples per batch on average, 0 batches hold "
                                              r"a single sample, \[PAD\] 0\.0%", epoch_0[0]), lines
    assert "epoch 1, batch 0 (so far): 1 batch, " in "\n".join(lines)
    caplog.clear()
    # 32x32 digits are 72 tokens with the tiny model's patches: two do not fit in 100, so every batch holds one
    with caplog.at_level(logging.INFO, logger="training"):
        train(tiny_cfg(tiny_home, tmp_path / "b", steps=3, log_every=2, tokens_per_batch=100))
    warned = [r.getMessage() for r in caplog.records if "held one sample each" in r.getMessage()]
    assert warned == ["2 of batches 0-1 of epoch 0 held one sample each: 2 samples have more than half of "
                      "--tokens-per-batch 100 (up to 72 tokens), so no other sample fits beside one and each gets an "
                      "optimizer step of its own; --tokens-per-batch 144 or more batches them in pairs (said once)"]
