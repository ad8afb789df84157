"""A team's own speech corpus (a walkthrough, 2026-12-06: 39 espeak-ng takes of 25-682 mel frames,
--tokens-per-batch 1024): four takes are over half the budget, and each trains alone. The warning
came at the first log window, which had met one of them (568 frames), and advised
"--tokens-per-batch 1136 or more batches them in pairs": at 1136 the other three (583, 594, 682)
were still alone. The trainer knows every member's shape from the catalog before planning a batch,
so the advice now covers the manifest's longest."""

from __future__ import annotations

import logging

import numpy as np

from training.monitor import BatchLog
from training.stream import ManifestIndex, Position
from training.trainer import TrainConfig, train

# the walkthrough's frame counts of the takes over half of 1024, and a few of the others
SHAPES = [("a.tar", (80, 1, 1, w), 1) for w in (568, 583, 594, 682)] + [("a.tar", (80, 1, 1, 40), 30),
                                                                        ("b.tar", (80, 1, 1, 126), 5)]


class Frames:
    """One token per mel frame: the speech demo's (1, 1) patches."""

    def __call__(self, shape):
        return shape[-1]


def test_the_index_counts_the_recorded_shapes_and_the_over_half_samples_are_the_manifests():
    from training.trainer import over_half

    index = ManifestIndex(manifest_id="sp@v1", hashed=[(["a.tar", "b.tar"], np.array([0, 1]), np.array([1, 2], np.uint64))],
                          shapes=iter(SHAPES))  # an iterator: read once for the checks and the counts
    assert index.shape_counts[(80, 1, 1, 40)] == 30 and sum(index.shape_counts.values()) == 39
    assert index.shapes is not None and index.records_shape("a.tar", (80, 1, 1, 682))
    assert over_half(index, Frames(), 1024) == (4, 682)
    assert over_half(index, Frames(), 1364) is None and over_half(index, Frames(), None) is None
    assert over_half(ManifestIndex(manifest_id="m@v1"), Frames(), 1024) is None  # no shapes known: nothing said


def test_the_advice_names_the_manifests_longest_when_the_batches_so_far_met_a_shorter_one(caplog):
    log = logging.getLogger("test.lone")
    items = [[288, 364], [46] * 6, [568], [109, 126]]  # the walkthrough's first log window
    for over, want in (((4, 682), "the manifest holds 4 such samples, up to 682 tokens: --tokens-per-batch 1364 or more"),
                       ((1, 568), "of its own; --tokens-per-batch 1136 or more")):  # the longest was met: as before
        b = BatchLog(1024, over)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="test.lone"):
            for i, sizes in enumerate(items):
                b.add({"position": Position(0, i), "global_size": len(sizes), "tokens": sum(sizes),
                       "padded_tokens": len(sizes) * max(sizes), "epoch_ends": False})
            b.say(log)
        said = [r.getMessage() for r in caplog.records]
        assert len(said) == 1 and said[0].startswith("1 of batches 0-3 of epoch 0 held one sample each: 1 sample has "
                                                     "more than half of --tokens-per-batch 1024 (up to 568 tokens)"), said
        assert want in said[0] and said[0].endswith("batches them in pairs (said once)"), said


def test_train_gives_the_warning_the_manifests_over_half_samples(tiny_home, tmp_path, caplog, monkeypatch):
    """Through train(): the catalog's shapes reach the warning. The tiny workspace's digits are all
    32x32 (72 tokens, over half of 100); one 32x64 shape more in the index (136 tokens) is named."""
    real = ManifestIndex.from_catalog
    counted = {}

    def with_a_longer_one(*a, **kw):
        index = real(*a, **kw)
        counted.update(getattr(index, "shape_counts", None) or {})
        index.shape_counts = {**counted, (3, 1, 32, 64): 1}
        return index

    monkeypatch.setattr(ManifestIndex, "from_catalog", with_a_longer_one)
    with caplog.at_level(logging.WARNING, logger="training"):
        train(TrainConfig(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                          out_dir=str(tmp_path / "run"), steps=2, log_every=2, tokens_per_batch=100, progress=False,
                          tensorboard=False, model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4}))
    said = [r.getMessage() for r in caplog.records if "held one sample each" in r.getMessage()]
    members = counted.get((3, 1, 32, 32))
    assert len(said) == 1 and (f"(up to 72 tokens), so no other sample fits beside one and each gets an optimizer step of "
                               f"its own; the manifest holds {(members or 0) + 1} such samples, up to 136 tokens: "
                               f"--tokens-per-batch 272 or more batches them in pairs (said once)") in said[0], said
    assert list(counted) == [(3, 1, 32, 32)]
