"""lumina evaluate reads the held-out manifest before it loads the checkpoint."""

import pytest

import evaluation.evaluate as ev
from catalog import Catalog
from catalog.errors import CatalogError
from tests.evaluation.fakes import stub_evaluate_loaders


def test_a_missing_manifest_fails_before_the_model_loads(tmp_path, monkeypatch):
    with Catalog.open(tmp_path / "catalog.duckdb"):
        pass
    loaded = []
    monkeypatch.setattr(ev, "load_checkpoint", lambda path: loaded.append(path))
    with pytest.raises(CatalogError, match="nope"):
        ev.evaluate(ev.EvalConfig(catalog=str(tmp_path / "catalog.duckdb"), manifest="nope", checkpoint=str(tmp_path)))
    assert loaded == []


@pytest.mark.parametrize("judge, warned", [(0.0, True), (0.25, True), (0.9, False)])
def test_an_accuracy_read_by_a_judge_no_better_than_chance_is_flagged(caplog, judge, warned):
    with caplog.at_level("WARNING", logger="evaluation.evaluate"):
        ev.warn_if_the_judge_is_no_judge({"digit_accuracy": 0.25, "judge_test_accuracy": judge, "chance_accuracy": 0.25})
    assert ("no better than chance" in caplog.text) == warned


def test_the_video_and_multiview_judges_are_checked_against_their_chance_too(caplog):
    """A video evaluation printed judge_digit_accuracy 0.0 against a chance of 0.167 without a word."""
    with caplog.at_level("WARNING", logger="evaluation.evaluate"):
        ev.warn_if_the_judge_is_no_judge({"judge_digit_accuracy": 0.0, "digit_chance": 1 / 6, "judge_digit_frame_accuracy": 0.1,
                                          "judge_direction_accuracy": 0.9, "direction_chance": 0.25,
                                          "pose_judge_accuracy": 0.2, "pose_chance": 0.25,
                                          "object_judge_accuracy": 0.8, "object_chance": 1 / 6})
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2 and "the digit judge scores 0.000" in warned[0] and "the pose judge scores 0.200" in warned[1]


def test_the_image_grid_is_full_whatever_the_captions():
    """--grid-size 16 drew 8 samples on a corpus without digit captions (half the grid empty)."""
    from evaluation.image.metrics import pick_grid

    digits, others = [f"d{i}" for i in range(20)], [f"o{i}" for i in range(20)]
    assert pick_grid(digits, others, 16) == digits[:8] + others[:8]
    assert pick_grid([], others, 16) == others[:16]
    assert pick_grid(digits, [], 4) == digits[:4]
    assert pick_grid(digits, others[:3], 16) == digits[:13] + others[:3]
    assert len(pick_grid(digits[:2], others[:3], 16)) == 5


def test_the_judge_warning_is_returned_for_the_results_notes(caplog):
    notes = ev.warn_if_the_judge_is_no_judge({"judge_test_accuracy": 0.1, "chance_accuracy": 0.25, "pose_judge_accuracy": 0.9,
                                              "pose_chance": 0.25})
    assert notes == ["the judge scores 0.100 on real held-out data, no better than chance (0.250): the accuracies it reads "
                     "for generated samples mean nothing; evaluate on a larger held-out manifest"]
    assert ev.warn_if_the_judge_is_no_judge({"judge_test_accuracy": 0.9, "chance_accuracy": 0.25}) == []


def test_notes_of_the_modality_and_the_judge_reach_metrics_json(tmp_path, monkeypatch):
    """A speech evaluation's shortfalls (too few clips, a capped count) were log lines only: a user
    reading metrics.json later saw figures resting on two clips without a word."""
    import json

    def evaluator(ctx):
        ctx.notes.append("only 2 takes of digit 7")
        return {"judge_test_accuracy": 0.1, "chance_accuracy": 0.25}, {}

    stub_evaluate_loaders(monkeypatch, hook=evaluator)
    result = ev.evaluate(ev.EvalConfig(catalog="c", manifest="m", checkpoint=str(tmp_path), out_dir=str(tmp_path / "eval")))
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved["notes"] == result.notes and len(result.notes) == 2
    assert result.notes[0] == "only 2 takes of digit 7" and result.notes[1].startswith("the judge scores 0.100")


def test_a_judge_exactly_at_chance_in_float32_is_flagged():
    """A multi-view pose judge at 1/6 in float32 (0.16666667163) against chance 1/6 in float64 passed unnoted."""
    import numpy as np

    for k in (3, 6, 10):
        judge = float(np.float32(1 / k))
        assert judge > 1 / k and ev.warn_if_the_judge_is_no_judge({"pose_judge_accuracy": judge, "pose_chance": 1 / k})
    assert not ev.warn_if_the_judge_is_no_judge({"pose_judge_accuracy": 1 / 6 + 0.01, "pose_chance": 1 / 6})


def test_a_vae_of_another_fingerprint_is_refused_before_the_heldout_loss(tmp_path, monkeypatch):
    """--vae of another VAE was checked where the evaluation first decodes, after the held-out loss
    (minutes on a large manifest): the decoder now loads beside the checkpoint (helper A, session 51)."""
    import catalog

    done = []

    def wrong_vae(c, vae=None, device=None):
        raise ValueError("the VAE at /v is sd15@1, but the latents were made by sd15@0")

    for name, value in {"load_examples": lambda m: ["an example"], "check_same_encoders": lambda m, c: None,
                        "check_moved_encoder_flags": lambda c, vae=None: None, "checkpoint_modality": lambda c: "image",
                        "modality_hook": lambda table, m, name: lambda ctx: done.append("sampled"),
                        "load_checkpoint": lambda c, device="cpu": (None, None), "load_decoder": wrong_vae,
                        "heldout_loss": lambda model, examples, seed=0, device="cpu": done.append("heldout loss")}.items():
        monkeypatch.setattr(ev, name, value)

    class Manifest(list):
        name, version = "m", 1

    monkeypatch.setattr(catalog, "load_manifest", lambda *a, **k: Manifest(["an example"]))
    monkeypatch.setattr(catalog, "load_manifest_header", lambda *a, **k: type("H", (), {"num_members": 1}))
    with pytest.raises(ValueError, match="latents were made by"):
        ev.evaluate(ev.EvalConfig(catalog="c", manifest="m", checkpoint=str(tmp_path), out_dir=str(tmp_path / "eval"), vae="/v"))
    assert done == []
