"""What a resumed run trains with (training/resume_config.py), on hand-written checkpoint folders:
each setting the run defines comes back unless given, refusals name what differs, changed
optimizer settings reach the restored optimizer, and a resume with nothing left to train says so."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from safetensors.torch import save_file

from training.resume_config import (ADOPTED, ARCHITECTURE, DATA_PLAN, OPTIMIZER, apply_optimizer_settings,
                                    nothing_to_train, resumed_config, saved_train_config)
from training.state import DamagedCheckpoint
from training.trainer import TrainConfig

# a value other than the default for every setting a resume takes from the run
SAVED = {"manifest": "digits", "manifest_version": 3, "model": "flag-dit-s", "model_overrides": {"n_layers": 3},
         "lr": 2e-3, "weight_decay": 0.05, "warmup_steps": 7, "grad_clip": 0.5,
         "batch_size": 6, "tokens_per_batch": 320, "bucket_ratio": 1.5, "shuffle_buffer": 16, "seed": 5,
         "caption_dropout": 0.25, "timesteps": "uniform",
         "steps": 40, "ema_decay": 0.99, "log_every": 4, "checkpoint_every": 10, "keep_last": 2, "precision": "bf16",
         "grad_checkpointing": True, "max_nonfinite_steps": 5, "max_seconds": 600.0,
         "num_threads": 1, "parallel": "fsdp", "compile": True, "loader_workers": 3, "async_checkpoint": True,
         "tensorboard": False}


def checkpoint(tmp_path, saved: dict | None = None, step: int | None = None):
    ckpt = tmp_path / "checkpoint-0000004"
    ckpt.mkdir(parents=True)
    (ckpt / "training.json").write_text(json.dumps({"train_config": SAVED if saved is None else saved}))
    if step is not None:  # a folder --resume accepts: weights and resume state that load
        (ckpt / "config.json").write_text("{}")
        save_file({"w": torch.ones(1)}, str(ckpt / "model.safetensors"))
        save_file({"model.w": torch.ones(1)}, str(ckpt / "train_state.safetensors"))
        (ckpt / "train_state.json").write_text(json.dumps({"step": step}))
    return ckpt


def cli(**given) -> TrainConfig:
    """A command line's config: what it gave, recorded as given."""
    return TrainConfig(manifest=given.pop("manifest", "digits"), resume=True, given=tuple(given), **given)


def test_the_lists_cover_every_setting_that_defines_the_run():
    assert set(ARCHITECTURE + OPTIMIZER + DATA_PLAN) <= set(ADOPTED)
    assert set(ADOPTED) == {k for k in SAVED if k not in ("manifest", "manifest_version")}


def test_a_bare_resume_takes_every_setting_that_defines_the_run_from_the_checkpoint(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="training.resume_config"):
        cfg = resumed_config(cli(), checkpoint(tmp_path))
    for name in ADOPTED:
        assert getattr(cfg, name) == SAVED[name], name
    assert cfg.manifest_version == 3  # the version it trained on, not the newest a refresh made since
    # how it ran too: a bare --resume on torch's default threads was not bit-identical, and one in DDP
    # without async checkpoints or TensorBoard continued another run than the one stopped
    assert (cfg.num_threads, cfg.parallel, cfg.compile, cfg.loader_workers, cfg.async_checkpoint, cfg.tensorboard) == (
        1, "fsdp", True, 3, True, False)
    assert "num_threads=1" in caplog.text and "parallel='fsdp'" in caplog.text
    assert cfg.resume and cfg.manifest == "digits"
    assert "--resume: the run's own settings for what was not given: model='flag-dit-s', " in caplog.text
    assert "lr=0.002" in caplog.text and "seed=5" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_checkpoint_without_its_settings_is_refused(tmp_path):
    """Every checkpoint is written with its run's settings: without them a bare --resume trained on with the
    library's defaults (batch 64, lr 0.001, seed 0) without a word."""
    cfg = cli(lr=5e-4)
    with pytest.raises(DamagedCheckpoint) as e:
        resumed_config(cfg, tmp_path)  # no training.json
    assert str(e.value) == (
        f"--resume: {tmp_path} records none of its run's settings ({tmp_path / 'training.json'} is missing), so the "
        "run cannot be continued as it was; put that file back from a copy of the run, move the folder out of the run "
        f"folder to continue from the checkpoint before it, or --init-from {tmp_path} to start a new stage from its weights")
    assert isinstance(e.value, ValueError)  # one line from the command lines
    assert saved_train_config(tmp_path) == {}  # what --init-from reads: a converted release has none
    (tmp_path / "training.json").write_text(json.dumps({"steps": 4}))  # no train_config in it
    with pytest.raises(DamagedCheckpoint, match=r"training.json records no train_config\), so the run cannot"):
        resumed_config(cfg, tmp_path)
    assert saved_train_config(tmp_path) == {}


def test_a_given_setting_equal_to_the_saved_one_is_neither_warned_about_nor_logged(tmp_path, caplog):
    saved = {"manifest": "digits", "lr": 2e-3, "seed": 5}
    with caplog.at_level(logging.INFO, logger="training.resume_config"):
        cfg = resumed_config(cli(lr=2e-3, seed=5), checkpoint(tmp_path, saved))
    assert (cfg.lr, cfg.seed) == (2e-3, 5) and caplog.text == ""


def test_another_manifest_is_refused_whatever_version_either_names(tmp_path):
    ckpt = checkpoint(tmp_path, {**SAVED, "manifest": "digits@v3"})
    with pytest.raises(ValueError, match=r"^--resume: .* was trained on manifest 'digits@v3', not 'letters@v3': its data "):
        resumed_config(cli(manifest="letters@v3"), ckpt)
    with pytest.raises(ValueError, match="not 'letters'"):
        resumed_config(cli(manifest="letters"), ckpt)
    assert resumed_config(cli(manifest="digits"), ckpt).manifest == "digits"
    assert resumed_config(cli(manifest="digits@v3"), ckpt).manifest_version == 3
    # a bare --resume whose manifest is not known yet, or a run saved without one: nothing to compare
    assert resumed_config(cli(manifest=""), ckpt).lr == 2e-3
    assert resumed_config(cli(manifest="letters"), checkpoint(tmp_path / "b", {"lr": 2e-3})).lr == 2e-3


def test_another_version_of_the_manifest_is_refused_by_flag_or_by_name(tmp_path):
    ckpt = checkpoint(tmp_path)
    message = r"^--resume: .* was trained on version 3 of manifest 'digits', not 4: its data position belongs"
    with pytest.raises(ValueError, match=message):
        resumed_config(cli(manifest="digits@v4"), ckpt)
    with pytest.raises(ValueError, match=message):
        resumed_config(cli(manifest_version=4), ckpt)
    assert resumed_config(cli(manifest_version=3), ckpt).manifest_version == 3
    assert resumed_config(cli(manifest="digits@v3"), ckpt).manifest_version == 3
    # saved before versions were recorded: whatever the command says
    old = checkpoint(tmp_path / "old", {k: v for k, v in SAVED.items() if k != "manifest_version"})
    assert resumed_config(cli(manifest="digits@v4"), old).manifest_version is None
    assert resumed_config(cli(manifest_version=4), old).manifest_version == 4


def test_another_model_given_is_refused_naming_the_saved_one(tmp_path):
    ckpt = checkpoint(tmp_path)
    with pytest.raises(ValueError) as e:
        resumed_config(cli(model="flag-dit-tiny"), ckpt)
    assert str(e.value) == (f"--resume: {ckpt} holds a flag-dit-s with overrides {{\"n_layers\": 3}}; --model "
                            "\"flag-dit-tiny\" describes another model (dim 64, n_heads 4, multiple_of 32; the "
                            "checkpoint's: dim 384, n_heads 6, multiple_of 256; leave it out to continue)")  # n_layers: the run's own 3
    with pytest.raises(ValueError, match=r'--model-overrides \{"n_layers": 4\} describes another model'):
        resumed_config(cli(model_overrides={"n_layers": 4}), ckpt)
    assert resumed_config(cli(model="flag-dit-s", model_overrides={"n_layers": 3}), ckpt).model == "flag-dit-s"


def test_a_changed_optimizer_setting_is_kept_with_a_warning_that_does_not_speak_of_the_batches(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="training.resume_config"):
        cfg = resumed_config(cli(lr=5e-4, grad_clip=1.0), checkpoint(tmp_path))
    assert (cfg.lr, cfg.grad_clip, cfg.seed) == (5e-4, 1.0, 5)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["--resume with changed settings: lr 0.002 -> 0.0005, grad_clip 0.5 -> 1.0"]


@pytest.mark.parametrize("name, value", [("seed", 9), ("batch_size", 8), ("tokens_per_batch", None), ("bucket_ratio", 1.1),
                                         ("shuffle_buffer", 32), ("caption_dropout", 0.0), ("timesteps", "logit_normal")])
def test_a_changed_batch_plan_or_seed_is_kept_with_a_warning_that_the_batches_differ(tmp_path, caplog, name, value):
    with caplog.at_level(logging.WARNING, logger="training.resume_config"):
        cfg = resumed_config(cli(**{name: value}), checkpoint(tmp_path))
    assert getattr(cfg, name) == value
    assert [r.getMessage() for r in caplog.records] == [
        f"--resume with changed settings: {name} {SAVED[name]!r} -> {value!r}; the batches from here on are not those "
        "the stopped run would have trained on"]


def test_a_library_call_adopts_what_is_left_at_the_default_and_keeps_what_is_not(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="training.resume_config"):
        cfg = resumed_config(TrainConfig(manifest="digits", resume=True, seed=7), checkpoint(tmp_path))
    assert (cfg.seed, cfg.lr, cfg.steps, cfg.model) == (7, 2e-3, 40, "flag-dit-s")
    assert "seed 5 -> 7" in caplog.text


def test_a_saved_value_no_longer_valid_asks_for_it_on_the_command_line(tmp_path):
    ckpt = checkpoint(tmp_path, {"manifest": "digits", "checkpoint_every": -1})  # older code: every step
    with pytest.raises(ValueError) as e:
        resumed_config(cli(), ckpt)
    assert str(e.value).startswith(f"--resume: a setting saved in {ckpt}/training.json is no longer valid (checkpoint_every "
                                   "must be at least 0")
    assert str(e.value).endswith("; give that setting on the command line")
    assert resumed_config(cli(checkpoint_every=5), ckpt).checkpoint_every == 5


def _optimizer():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    opt = torch.optim.AdamW([{"params": a.parameters()}, {"params": b.parameters()}], lr=2e-3, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 4))
    for _ in range(2):
        opt.step()
        sched.step()
    return opt, sched


def test_a_changed_learning_rate_and_weight_decay_reach_the_restored_optimizer_and_its_schedule(tmp_path):
    opt, sched = _optimizer()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([2e-3 * 0.75] * 2)
    apply_optimizer_settings(TrainConfig(lr=0.5, weight_decay=0.3), opt, sched)
    assert [g["lr"] for g in opt.param_groups] == [0.375, 0.375]  # at step 2 of the warm-up: 3/4 of the new rate
    assert [g["weight_decay"] for g in opt.param_groups] == [0.3, 0.3]
    assert [g["initial_lr"] for g in opt.param_groups] == [0.5, 0.5]
    sched.step()
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.5]  # the schedule goes on from the new rate
    state = sched.state_dict()
    assert state["base_lrs"] == [0.5, 0.5]


def test_the_saved_settings_applied_again_change_nothing():
    opt, sched = _optimizer()
    before = [dict(g, params=None) for g in opt.param_groups]
    apply_optimizer_settings(TrainConfig(lr=2e-3, weight_decay=0.05), opt, sched)
    assert [dict(g, params=None) for g in opt.param_groups] == before


def test_nothing_to_train_only_for_a_resume_whose_checkpoint_is_at_or_past_the_steps(tmp_path):
    out = tmp_path / "run"
    ckpt = checkpoint(out, {**SAVED, "steps": 4}, step=4)
    assert nothing_to_train(TrainConfig(manifest="digits", out_dir=str(out))) is None  # not a resume
    assert nothing_to_train(TrainConfig(manifest="digits", resume=True)) is None  # no folder yet: the catalog's
    assert nothing_to_train(TrainConfig(manifest="digits", resume=True, out_dir=str(tmp_path / "empty"))) is None
    assert nothing_to_train(cli(out_dir=str(out), steps=6)) is None  # --steps raised: trains on
    assert nothing_to_train(cli(out_dir=str(out), steps=5)) is None
    done = nothing_to_train(cli(out_dir=str(out)))  # a bare --resume: the run's own 4 steps, done
    assert done == {"checkpoint": str(ckpt), "steps": 4,
                    "nothing_to_train": "--resume: checkpoint-0000004 is at step 4, already --steps 4: nothing to train "
                                        "(raise --steps to go on)"}
    assert nothing_to_train(cli(out_dir=str(out), steps=3))["nothing_to_train"] == (
        "--resume: checkpoint-0000004 is at step 4, past --steps 3: nothing to train (raise --steps to go on)")
    # a library call: steps left at the default count as not given
    assert nothing_to_train(TrainConfig(manifest="digits", resume=True, out_dir=str(out)))["steps"] == 4
    assert nothing_to_train(TrainConfig(manifest="digits", resume=True, out_dir=str(out), steps=9)) is None


def test_nothing_to_train_without_saved_steps_uses_the_commands(tmp_path):
    out = tmp_path / "run"
    checkpoint(out, {"manifest": "digits"}, step=4)
    assert nothing_to_train(cli(out_dir=str(out))) is None  # the default 1000 steps
    assert nothing_to_train(cli(out_dir=str(out), steps=4))["nothing_to_train"].endswith(
        "already --steps 4: nothing to train (raise --steps to go on)")


def test_the_model_given_as_saved_still_leaves_every_other_setting_to_the_run(tmp_path):
    """`--resume --model flag-dit-s` (the run's own model, first in the list) must not end the adoption there."""
    cfg = resumed_config(cli(model="flag-dit-s"), checkpoint(tmp_path))
    assert {name: getattr(cfg, name) for name in ADOPTED} == {name: SAVED[name] for name in ADOPTED}


def test_steps_given_at_the_default_value_count_as_given(tmp_path):
    """`--resume --steps 1000` (the default) asks for 1000 steps: it trains on from the run's own 4."""
    out = tmp_path / "run"
    checkpoint(out, {**SAVED, "steps": 4}, step=4)
    assert nothing_to_train(cli(out_dir=str(out), steps=1000)) is None
    assert nothing_to_train(TrainConfig(manifest="digits", resume=True, out_dir=str(out), steps=1000))["steps"] == 4


def test_a_checkpoint_without_saved_settings_is_refused_before_a_run_is_registered(tmp_path):
    out = tmp_path / "run"
    ckpt = checkpoint(out, step=4)
    (ckpt / "training.json").write_text(json.dumps({"steps": 4}))  # no train_config
    for steps in (1000, 4):
        with pytest.raises(DamagedCheckpoint, match=f"^--resume: {ckpt} records none of its run's settings"):
            nothing_to_train(TrainConfig(manifest="digits", resume=True, out_dir=str(out), steps=steps))
