"""Evaluation reads at most --max-heldout members of its held-out manifest: it loaded every member,
latents and all, into memory."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_load_manifest_first_is_the_head_of_the_full_manifest(tiny_home):
    from catalog import load_manifest

    full = load_manifest(tiny_home.catalog, tiny_home.holdout_manifest)
    head = load_manifest(tiny_home.catalog, tiny_home.holdout_manifest, first=5)
    assert len(full) > 5 and head.members == full.members[:5]
    assert (head.id, head.encoders, head.where) == (full.id, full.encoders, full.where)
    assert load_manifest(tiny_home.catalog, tiny_home.holdout_manifest, first=10 ** 6).members == full.members


def test_evaluate_reads_at_most_max_heldout_members_and_says_so(tiny_home, tmp_path, monkeypatch, caplog):
    import evaluation.evaluate as ev
    from catalog import load_manifest
    from training.trainer import TrainConfig, train

    r = train(TrainConfig(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, out_dir=str(tmp_path / "run"),
                          null_caption=tiny_home.null_caption, steps=1, batch_size=4, progress=False, tensorboard=False,
                          model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4}))
    seen = []

    def stop_after_loading(manifest):
        seen.append([m.key for m in manifest.members])
        raise RuntimeError("loaded")

    monkeypatch.setattr(ev, "load_examples", stop_after_loading)
    full = load_manifest(tiny_home.catalog, tiny_home.holdout_manifest)
    for limit, expected in ((7, full.members[:7]), (None, full.members)):
        with caplog.at_level("INFO", logger="evaluation.evaluate"), pytest.raises(RuntimeError, match="loaded"):
            ev.evaluate(ev.EvalConfig(checkpoint=r.checkpoint, catalog=tiny_home.catalog, manifest=tiny_home.holdout_manifest,
                                      out_dir=str(tmp_path / "eval"), max_heldout=limit))
        assert seen.pop() == [m.key for m in expected]
    assert f"evaluating on 7 of the {len(full)} members of {full.id} (--max-heldout)" in caplog.text
    with pytest.raises(ValueError, match="--max-heldout must be at least 1"):
        ev.evaluate(ev.EvalConfig(checkpoint=r.checkpoint, catalog=tiny_home.catalog, manifest=tiny_home.holdout_manifest,
                                  max_heldout=0))
    assert Path(r.checkpoint).is_dir()
