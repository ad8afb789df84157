import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from catalog import load_manifest
from training.data import NullCaption, collate, load_examples
from training.stream import PLAN_VERSION
from training.trainer import TrainConfig, _ema_update, make_inputs, train

TINY = {"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4}


def tiny_cfg(home, out, **kw) -> TrainConfig:
    base = dict(catalog=home.catalog, manifest=home.train_manifest, out_dir=str(out), null_caption=home.null_caption,
                model_overrides=TINY, steps=6, batch_size=8, lr=3e-3, log_every=2, warmup_steps=2, progress=False, tensorboard=False)
    return TrainConfig(**{**base, **kw})


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


def test_training_learns_the_velocity_and_writes_a_loadable_checkpoint(tiny_home, tmp_path):
    """Not only "the loss falls": the trained (EMA) model must predict the true velocity x1 - x0,
    computed here, on held-out digits. Near noise (t = 0.05) that velocity is mostly -x0: a model
    trained on a wrong target (x1, x0 - x1) or never updated has no positive component along -x0."""
    from modelzoo import FlagDiT

    r = train(tiny_cfg(tiny_home, tmp_path, steps=60, batch_size=32, log_every=10, warmup_steps=5))
    assert r.steps == 60 and r.padding_fraction == 0.0
    model = FlagDiT.from_pretrained(r.checkpoint).eval()
    assert model.config.dim == 32 and model.config.cap_dim == 384 and model.config.in_channels == 3
    b = collate(load_examples(load_manifest(tiny_home.catalog, tiny_home.holdout_manifest))[:64])
    g = torch.Generator().manual_seed(0)
    x1 = b["x1"]
    x0 = torch.randn(x1.shape, generator=g)
    for t, min_slope, max_err in ((0.05, 0.25, 0.8), (0.5, 0.2, 0.55)):
        with torch.no_grad():
            v = model(t * x1 + (1 - t) * x0, torch.full((len(x1),), t), cap_feats=b["cap_feats"], cap_mask=b["cap_mask"])
        slope = ((v * -x0).sum() / x0.square().sum()).item()
        rel_err = ((v - (x1 - x0)).square().mean() / (x1 - x0).square().mean()).item()
        assert slope > min_slope and rel_err < max_err, (t, slope, rel_err)
    ckpt = tmp_path / "checkpoint-0000060"
    info = json.loads((ckpt / "training.json").read_text())
    assert info["manifest"] == tiny_home.train_manifest and set(info["encoders"]) == {"latent", "text"}
    assert info["latent_shape"] == [3, 1, 32, 32] and info["steps"] == 60
    assert NullCaption.load(ckpt / "null_caption.npz").cap_mask.sum() == 2
    assert (tmp_path / "metrics.csv").read_text().count("\n") == 61 and (tmp_path / "loss_curve.png").stat().st_size > 0


def test_ema_after_known_weights_equals_the_closed_form(tiny_home, tmp_path):
    """Start from known weights (init_from), record the raw weights after every step, and compare
    the published EMA with prod(d) w0 + sum_k (1 - d_k) prod_{j>k} d_j w_k, d_k = min(D, (1+k)/(10+k))."""
    from modelzoo import FlagDiT, get_config

    torch.manual_seed(123)
    start = FlagDiT(get_config("flag-dit-tiny", in_channels=3, cap_dim=384, **TINY))
    with torch.no_grad():
        for p in start.parameters():
            p.normal_(0, 0.05)
    start.save_pretrained(tmp_path / "start")
    n, D = 5, 0.3
    train(tiny_cfg(tiny_home, tmp_path / "run", steps=n, ema_decay=D, checkpoint_every=1, keep_last=n,
                   init_from=str(tmp_path / "start")))
    weights = [{k: v for k, v in start.state_dict().items()}]
    for k in range(1, n + 1):
        raw = load_file(str(tmp_path / "run" / f"checkpoint-{k:07d}" / "train_state.safetensors"))
        weights.append({name[6:]: v for name, v in raw.items() if name.startswith("model.")})
    d = [min(D, (1 + k) / (10 + k)) for k in range(n)]
    ema = load_file(str(tmp_path / "run" / f"checkpoint-{n:07d}" / "model.safetensors"))
    for name, _ in start.named_parameters():
        expected = torch.prod(torch.tensor(d)) * weights[0][name]
        for k in range(n):
            expected = expected + (1 - d[k]) * torch.prod(torch.tensor(d[k + 1:])) * weights[k + 1][name]
        torch.testing.assert_close(ema[name], expected, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(ema["final_layer.linear.weight"], weights[-1]["final_layer.linear.weight"])


def test_ema_update_moves_towards_the_model():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    before = a.weight.detach().clone()
    _ema_update(a, b, 0.75)
    assert torch.allclose(a.weight, 0.75 * before + 0.25 * b.weight)
    _ema_update(a, b, 0.0)
    assert torch.equal(a.weight, b.weight)


@pytest.mark.parametrize("rate", [0.0, 0.3, 1.0])
def test_measured_caption_dropout_matches_the_configured_rate(rate):
    """Over many steps, the share of captions the model receives as the null caption is the rate."""
    from modelzoo import FlowMatching

    B, L, D = 8, 6, 4
    null = NullCaption(torch.zeros(L, D), torch.tensor([True, False, False, False, False, False]))
    batch = {"x1": torch.zeros(B, 3, 1, 4, 4), "cap_feats": torch.ones(B, L, D), "cap_mask": torch.ones(B, L, dtype=torch.bool)}
    cfg = TrainConfig(caption_dropout=rate, seed=1)
    dropped = total = 0
    for step in range(150):
        item = {"batch": batch, "positions": list(range(B))}
        _, _, _, kw = make_inputs(item, null, FlowMatching(), cfg, step)
        is_null = (kw["cap_feats"] == 0).all(-1).all(-1)
        assert torch.equal(kw["cap_mask"][is_null], null.cap_mask.expand(int(is_null.sum()), -1))
        dropped += int(is_null.sum())
        total += B
    assert batch["cap_feats"].eq(1).all()  # the loader's batch is not modified in place
    assert abs(dropped / total - rate) < 0.05, dropped / total


def test_resume_continues_bit_identically(tiny_home, tmp_path):
    """2N steps straight == N steps, stop, --resume, N steps: the same losses and weights, bit for bit.
    The resume is a bare `--resume` (the stop message's advice), which used to build the default model
    and batch plan (a crash on loading, or another run): the run's settings come from its checkpoint,
    so the run's own settings here are none of the defaults. (Its own test trained 3 more runs.)"""
    N = 3
    opts = dict(log_every=1, shuffle_buffer=16, batch_size=6, lr=2e-3, seed=5, tokens_per_batch=320)
    straight = train(tiny_cfg(tiny_home, tmp_path / "a", steps=2 * N, **opts))
    train(tiny_cfg(tiny_home, tmp_path / "b", steps=N, **opts))
    half_written = tmp_path / "b" / f".checkpoint-{N + 1:07d}-x1y2"  # what a kill during a save leaves
    half_written.mkdir()
    (half_written / "train_state.safetensors").write_bytes(b"partial")
    bare = TrainConfig(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, out_dir=str(tmp_path / "b"),
                       null_caption=tiny_home.null_caption, resume=True, steps=2 * N, progress=False, tensorboard=False)
    resumed = train(bare)
    assert resumed.losses == straight.losses and len(resumed.losses) == 2 * N
    assert not half_written.exists()  # cleared at the start; resumed from the last complete one
    for name in ("model.safetensors", "train_state.safetensors"):
        a, b = (load_file(str(tmp_path / run / f"checkpoint-{2 * N:07d}" / name)) for run in ("a", "b"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    info = json.loads((tmp_path / "b" / f"checkpoint-{2 * N:07d}" / "training.json").read_text())["train_config"]
    assert (info["model_overrides"], info["batch_size"], info["lr"], info["seed"]) == (TINY, 6, 2e-3, 5)
    import csv

    def logged(run):  # the timing columns differ between runs; the rest must not
        with open(tmp_path / run / "metrics.csv") as f:
            return [(r["step"], r["loss"], r["grad_norm"], r["lr"], r["padding"]) for r in csv.DictReader(f)]

    assert logged("b") == logged("a") and len(logged("a")) == 2 * N
    # the seconds column goes on from the checkpoint's training time (it restarted at 0 after a resume)
    with open(tmp_path / "b" / "metrics.csv") as f:
        seconds = [float(r["seconds"]) for r in csv.DictReader(f)]
    trained = json.loads((tmp_path / "b" / f"checkpoint-{N:07d}" / "train_state.json").read_text())["seconds"]
    assert seconds == sorted(seconds) and seconds[N] >= trained >= seconds[N - 1] > 0
    # the shapes tally goes on across the resume too: every sample of the 2N steps is counted once
    # (4 samples of 72 tokens per batch of at most 320 tokens)
    shapes = [json.loads((tmp_path / run / f"checkpoint-{2 * N:07d}" / "training.json").read_text())["latent_shapes"]
              for run in ("a", "b")]
    assert shapes[0] == shapes[1] == [[[3, 1, 32, 32], 2 * N * 4]]


def test_resume_applies_a_changed_learning_rate_and_refuses_another_manifest(tiny_home, tmp_path, caplog):
    import csv

    train(tiny_cfg(tiny_home, tmp_path, steps=2, log_every=1, shuffle_buffer=16, lr=2e-3, warmup_steps=1))
    with caplog.at_level("WARNING", logger="training.resume_config"):
        train(tiny_cfg(tiny_home, tmp_path, steps=4, log_every=1, shuffle_buffer=16, lr=5e-4, warmup_steps=1, resume=True))
    assert "lr 0.002 -> 0.0005" in caplog.text
    with open(tmp_path / "metrics.csv") as f:
        assert [float(r["lr"]) for r in csv.DictReader(f)] == [2e-3, 2e-3, 5e-4, 5e-4]
    with pytest.raises(ValueError, match="was trained on manifest"):
        train(tiny_cfg(tiny_home, tmp_path, manifest=tiny_home.holdout_manifest, steps=6, shuffle_buffer=16, resume=True))


def test_a_log_window_open_at_a_checkpoint_is_summarised_whole_after_a_resume(tiny_home, tmp_path):
    """Checkpoints every 2 steps, log windows of 4: resuming from step 2, the catalog's summary of
    steps 1-4 used to cover only steps 3-4."""
    import shutil

    def run(out, **kw):
        summaries = []
        hook = lambda path, step, rows: summaries.extend(rows)  # noqa: E731
        train(tiny_cfg(tiny_home, out, steps=6, log_every=4, checkpoint_every=2, keep_last=5, shuffle_buffer=16, **kw),
              on_checkpoint=hook)
        return {r["step"]: (r["train_fm_loss"], r["grad_norm"], r["lr"], r["padding_fraction"]) for r in summaries}

    straight = run(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    for step in (4, 6):
        shutil.rmtree(tmp_path / "b" / f"checkpoint-{step:07d}")
    resumed = run(tmp_path / "b", resume=True)
    assert resumed == {4: straight[4], 6: straight[6]}


def test_init_from_builds_the_model_saved_with_the_weights(tiny_home, tmp_path, caplog):
    """A converted release says time_scale 1 and its patch order in config.json; shapes alone match
    the default config, so the weights loaded into a model with other conventions, without a word."""
    from modelzoo import FlagDiT

    first = train(tiny_cfg(tiny_home, tmp_path / "a", steps=2))
    cfg_path = Path(first.checkpoint) / "config.json"
    saved = json.loads(cfg_path.read_text())
    cfg_path.write_text(json.dumps({**saved, "time_scale": 1.0}))
    with caplog.at_level("INFO", logger="training.trainer"):
        stage = train(tiny_cfg(tiny_home, tmp_path / "b", steps=2, model_overrides={}, init_from=first.checkpoint))
    assert f"--init-from: a new stage from the weights of {first.checkpoint} (dim {TINY['dim']}" in caplog.text  # it was silent
    model = FlagDiT.from_pretrained(stage.checkpoint)
    assert model.config.time_scale == 1.0 and model.config.dim == TINY["dim"]
    cfg_path.write_text(json.dumps({**saved, "in_channels": 4}))
    with pytest.raises(ValueError, match="its model takes 4-channel latents"):
        train(tiny_cfg(tiny_home, tmp_path / "c", steps=2, model_overrides={}, init_from=first.checkpoint))
    # a model of another modality: re-encoding cannot give it its inputs, so the line says which it is
    info_path = Path(first.checkpoint) / "training.json"
    info_path.write_text(json.dumps({**json.loads(info_path.read_text()), "modality": "multiview"}))
    with pytest.raises(ValueError, match="it is a multiview model and this manifest holds image samples") as e:
        train(tiny_cfg(tiny_home, tmp_path / "d", steps=2, model_overrides={}, init_from=first.checkpoint, modality="image"))
    assert "encode with the encoders" not in str(e.value)


def test_train_step_registers_checkpoints_as_written_keeps_the_last_and_resumes_from_the_catalog(tiny_home, tmp_path,
                                                                                                 monkeypatch):
    import shutil

    from catalog import Catalog
    from flows.steps import train_step

    def whole_manifest(*a, **k):  # streaming reads the key index in batches; the whole manifest would not scale
        raise AssertionError("training loaded the whole manifest")

    monkeypatch.setattr(Catalog, "_read_manifest", whole_manifest)
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")  # registrations stay in this test
    opts = dict(manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption, model_overrides=TINY, batch_size=8,
                log_every=2, checkpoint_every=2, keep_last=1, progress=False, tensorboard=False)
    first = train_step(str(home), TrainConfig(steps=4, **opts))
    run_dir = Path(first["checkpoint"]).parent
    assert [p.name for p in sorted(run_dir.glob("checkpoint-*"))] == ["checkpoint-0000004"]  # step 2 pruned
    assert first["checkpoints"] == [str(run_dir / "checkpoint-0000004")]  # what is on disk, as lumina train prints
    second = train_step(str(home), TrainConfig(steps=6, resume=True, **opts))  # out_dir found through the catalog
    assert Path(second["checkpoint"]).parent == run_dir and second["steps"] == 6
    assert [s for s, _ in second["losses"]] == [2, 4, 6]
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        _, ckpts = cat.sql("SELECT step FROM checkpoints ORDER BY step")
        _, undigested = cat.sql("SELECT count(*) FROM checkpoints WHERE config->>'content_sha256' IS NULL")
        # the size trained, not just the preset's name (flag-dit-tiny is dim 128; --model-overrides made it 32)
        _, sizes = cat.sql("SELECT DISTINCT config->'architecture'->>'dim', config->'architecture'->>'n_layers' FROM checkpoints")
        _, curve = cat.sql("SELECT m.step, c.step FROM metrics m JOIN checkpoints c USING (checkpoint_id) "
                           "WHERE m.name = 'train_fm_loss' ORDER BY m.step")
    assert [r[0] for r in ckpts] == [2, 4, 6]
    assert undigested == [(0,)]  # what tells a folder's weights from others written there later
    assert sizes == [(str(TINY["dim"]), str(TINY["n_layers"]))]
    assert curve == [(2, 2), (4, 4), (6, 6)]  # each window's metrics hang off the checkpoint written after it


def test_a_step_that_raises_stops_the_read_ahead_thread(tiny_home, tmp_path, monkeypatch):
    """The error's traceback keeps the trainer's frame (and its loader) alive; the reader must not
    be left polling in a long-lived process (a worker that trains again, the test session)."""
    import threading

    import training.trainer as trainer

    real, calls = trainer.make_inputs, []

    def fails_on_the_second_step(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("a bad batch")
        return real(*a, **k)

    monkeypatch.setattr(trainer, "make_inputs", fails_on_the_second_step)
    before = {t.ident for t in threading.enumerate()}
    with pytest.raises(RuntimeError, match="a bad batch") as error:
        train(tiny_cfg(tiny_home, tmp_path, steps=5))
    readers = [t for t in threading.enumerate() if t.name == "batch-prefetch" and t.ident not in before and t.is_alive()]
    assert error.traceback and readers == []


@pytest.mark.parametrize("name, value", [("precision", "bf-16"), ("parallel", "fsdp2"), ("launcher", "slurm")])
def test_an_unknown_precision_parallel_or_launcher_is_refused(name, value):
    with pytest.raises(ValueError, match=f"{name} must be one of .*; got '{value}'"):
        TrainConfig(**{name: value})
    TrainConfig(precision="bf16", parallel="fsdp", launcher="ray")  # the allowed values pass


@pytest.mark.parametrize("name, value, message", [
    ("log_every", 0, "log_every must be at least 1"), ("shuffle_buffer", 0, "shuffle_buffer must be at least 1"),
    ("checkpoint_every", -1, "checkpoint_every must be at least 0"), ("batch_size", 0, "batch_size must be at least 1"),
    ("tokens_per_batch", 0, "tokens_per_batch must be at least 1"), ("bucket_ratio", 1.0, "bucket_ratio must be greater than 1"),
    ("bucket_ratio", float("nan"), "bucket_ratio must be greater than 1"),  # int(nan) at the first batch
    ("caption_dropout", 1.5, "caption_dropout must lie in"), ("lr", 0.0, "lr and grad_clip must be positive"),
    ("grad_clip", 0.0, "lr and grad_clip must be positive"), ("steps", 0, "steps must be at least 1")])
def test_numbers_out_of_range_are_refused_with_what_is_allowed(name, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{name: value})


@pytest.mark.parametrize("budget, warned", [(8, True), (72 * 8, False)])
def test_a_token_budget_below_one_sample_says_so(tiny_home, tmp_path, caplog, budget, warned):
    """--tokens-per-batch 8 under 72-token samples (64 patches, 8 [EOL]) trained batches of one over budget without a word."""
    with caplog.at_level("WARNING", logger="training.trainer"):
        train(tiny_cfg(tiny_home, tmp_path, steps=2, tokens_per_batch=budget))
    said = f"a sample of 72 tokens is longer than --tokens-per-batch {budget}: such samples train one per batch"
    assert (said in caplog.text) == warned, caplog.text
    assert caplog.text.count("is longer than --tokens-per-batch") == int(warned)


def test_without_a_progress_bar_each_log_window_is_a_line(tiny_home, tmp_path, caplog):
    """--no-progress with --log-every 5 printed nothing while training (metrics.csv and the catalog only)."""
    with caplog.at_level("INFO", logger="training.trainer"):
        train(tiny_cfg(tiny_home, tmp_path / "quiet", steps=4, log_every=2))  # tiny_cfg: progress=False
    lines = [m for m in caplog.messages if m.startswith("step ")]
    assert [m.split()[1] for m in lines] == ["2/4", "4/4"] and all("loss" in m and "[PAD]" in m for m in lines), lines


def test_resume_and_init_from_together_are_refused():
    """--resume loaded the run's own weights over --init-from's, after saying it used --init-from."""
    with pytest.raises(ValueError, match="--resume and --init-from exclude each other"):
        TrainConfig(resume=True, init_from="ckpt-0123")
    TrainConfig(resume=True), TrainConfig(init_from="ckpt-0123")  # each alone is fine


def test_lumina_train_with_a_number_out_of_range_says_so_in_one_line(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "flows.cli", "train", "--home", str(tmp_path), "--manifest", "m",
                           "--log-every", "0"], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "log_every must be at least 1" in proc.stderr


def test_fsdp_runs_in_one_process_without_torchrun(tiny_home, tmp_path):
    """`lumina train --parallel fsdp` under plain python: an in-memory process group of one, the
    sharded checkpoint format, the same losses as the plain model, and no group left behind."""
    import torch.distributed as dist

    plain = train(tiny_cfg(tiny_home, tmp_path / "plain", steps=2, log_every=1))
    sharded = train(tiny_cfg(tiny_home, tmp_path / "fsdp", steps=2, log_every=1, parallel="fsdp"))
    torch.testing.assert_close(sharded.losses, plain.losses, rtol=1e-5, atol=1e-6)
    assert (Path(sharded.checkpoint) / "train_state").is_dir() and (Path(sharded.checkpoint) / "model.safetensors").exists()
    assert not dist.is_initialized()


def test_resume_at_or_past_the_step_budget_trains_nothing_and_says_so(tiny_home, tmp_path, caplog):
    train(tiny_cfg(tiny_home, tmp_path, steps=3, log_every=1, shuffle_buffer=16))
    written = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "checkpoint-0000003").iterdir()}
    for steps, word in ((3, "already"), (2, "past")):
        caplog.clear()
        with caplog.at_level("WARNING", logger="training.trainer"):
            result = train(tiny_cfg(tiny_home, tmp_path, steps=steps, log_every=1, shuffle_buffer=16, resume=True))
        assert result.steps == 3 and len(result.losses) == 3
        assert f"checkpoint-0000003 is at step 3, {word} --steps {steps}: nothing to train" in caplog.text
        assert result.checkpoint == str(tmp_path / "checkpoint-0000003") and result.checkpoints == []
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-0000003"]
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "checkpoint-0000003").iterdir()} == written  # not rewritten


@pytest.fixture(scope="module")
def two_steps(tiny_home, tmp_path_factory) -> Path:
    """A run folder of 2 steps (checkpoint-0000002), for tests that copy it and resume."""
    out = tmp_path_factory.mktemp("two_steps") / "run"
    train(tiny_cfg(tiny_home, out, steps=2, log_every=1, shuffle_buffer=16))
    return out


@pytest.mark.parametrize("saved_plan, said", [
    (None, "checkpoint-0000002 records no batch plan (saved before 2026-12-04 23:00 UTC), so it was saved under plan 1 "
           f"or 2 (now {PLAN_VERSION}): the rest of epoch 0 is planned anew from batch 2"),
    (1, "checkpoint-0000002 was saved by a lumina whose batch plan differs (plan 1, now "),
    ("current", None)])
def test_a_resume_across_a_change_of_the_batch_plan_says_the_epoch_is_planned_anew(tiny_home, two_steps, tmp_path,
                                                                                  caplog, saved_plan, said):
    """A position indexes the batch plan it was made with; checkpoints written before the plan
    changed (d311934) resumed into the new plan's order without a word."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(two_steps, run)  # the same 2-step run for each case (its first train() call, made once)
    state_json = run / "checkpoint-0000002" / "train_state.json"
    state = json.loads(state_json.read_text())
    assert state["plan_version"] == PLAN_VERSION
    if saved_plan is None:  # as written before plan versions were recorded (plan 1 or 2: not known)
        del state["plan_version"]
    elif saved_plan != "current":
        state["plan_version"] = saved_plan
    state_json.write_text(json.dumps(state))
    with caplog.at_level("WARNING", logger="training.trainer"):
        result = train(tiny_cfg(tiny_home, run, steps=3, log_every=1, shuffle_buffer=16, resume=True))
    assert result.steps == 3
    if said is None:
        assert "batch plan" not in caplog.text, caplog.text
    else:
        assert said in caplog.text and caplog.text.count("batch plan") == 1, caplog.text


@pytest.mark.parametrize("modality, message", [("video", "--modality video does not match manifest .* image"),
                                               ("speach", "unknown modality 'speach'")])
def test_train_step_refuses_a_modality_other_than_the_manifests(tiny_home, tmp_path, modality, message):
    """The modality comes from the manifest's samples: a different or misspelled --modality is an
    error before training, not a checkpoint recorded as the wrong kind of model."""
    import shutil

    from flows.steps import train_step

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")
    cfg = TrainConfig(manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption, model_overrides=TINY,
                      steps=1, modality=modality, progress=False, tensorboard=False)
    with pytest.raises(ValueError, match=message):
        train_step(str(home), cfg)
    assert not list(home.rglob("checkpoint-*"))


def test_a_second_run_into_an_out_dir_with_checkpoints_is_refused_unless_it_resumes(tiny_home, tmp_path):
    train(tiny_cfg(tiny_home, tmp_path, steps=2, shuffle_buffer=16))
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("checkpoint-*/*")}
    with pytest.raises(FileExistsError, match="already holds checkpoint-0000002 of an earlier run: --resume"):
        train(tiny_cfg(tiny_home, tmp_path, steps=2, shuffle_buffer=16, seed=1))
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("checkpoint-*/*")} == before


def test_train_step_records_a_relative_out_dir_as_an_absolute_folder(tiny_home, tmp_path, monkeypatch):
    import shutil

    from catalog import Catalog
    from flows.steps import train_step

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")
    monkeypatch.chdir(tmp_path)
    train_step(str(home), TrainConfig(manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption, model_overrides=TINY,
                                      steps=1, out_dir="rel_run", progress=False, tensorboard=False))
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        uris = [u for (u,) in cat.sql("SELECT uri FROM checkpoints")[1]]
    assert uris == [str(tmp_path / "rel_run" / "checkpoint-0000001")]


def test_checkpoints_get_the_modes_the_umask_gives_not_private_ones(tiny_home, tmp_path):
    """mkdtemp makes the temporary folder 0700 and safetensors writes 0600: a team on shared storage
    could not read each other's checkpoints. Published folders and files follow the umask."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        train(tiny_cfg(tiny_home, tmp_path, steps=1, shuffle_buffer=16))
    finally:
        os.umask(old)
    ckpt = tmp_path / "checkpoint-0000001"
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [ckpt, *ckpt.iterdir()]}
    assert modes[ckpt.name] == 0o755 and modes["model.safetensors"] == 0o644, modes
    assert all(m in (0o755, 0o644) for m in modes.values()), modes


def test_train_step_refuses_a_manifest_without_text_encodings_in_one_line(tmp_path):
    from catalog import Catalog
    from flows.steps import train_step
    from tests.catalog.helpers import make_batch

    batch = make_batch(0, n=6)
    batch.encodings = [e for e in batch.encodings if e.kind == "latent"]  # latents encoded, captions not yet
    with Catalog.open(tmp_path / "catalog.duckdb") as cat:
        run = cat.start_run("curate", {})
        cat.register_batches([batch], run)
        cat.finish_run(run)
        cat.create_manifest("no-text", "split = 'train'")
    with pytest.raises(ValueError, match=r"manifest no-text@v1 has no text encodings .*lumina encode"):
        train_step(str(tmp_path), TrainConfig(manifest="no-text", progress=False, tensorboard=False))


def test_resume_stays_on_the_manifest_version_it_trained_on(tiny_home, tmp_path):
    """After a refresh made v2 of the manifest, `--resume` used v2 with v1's data position."""
    import shutil

    from catalog import Catalog
    from flows.steps import train_step

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")
    name = tiny_home.train_manifest
    opts = dict(manifest=name, null_caption=tiny_home.null_caption, model_overrides=TINY, batch_size=8, log_every=1,
                progress=False, tensorboard=False, shuffle_buffer=16)
    first = train_step(str(home), TrainConfig(steps=2, **opts))
    with Catalog.open(home / "catalog.duckdb") as cat:
        assert cat.create_manifest(name, "split = 'train' AND key < '8'").version == 2
    again = train_step(str(home), TrainConfig(steps=4, resume=True, **opts))
    info = json.loads((Path(again["checkpoint"]) / "training.json").read_text())
    assert (info["manifest"], info["manifest_version"], again["steps"]) == (name, 1, 4)
    assert Path(again["checkpoint"]).parent == Path(first["checkpoint"]).parent
    with pytest.raises(ValueError, match="was trained on version 1 of manifest"):
        train_step(str(home), TrainConfig(steps=6, resume=True, **{**opts, "manifest": f"{name}@v2"}))


def test_keep_last_zero_keeps_every_checkpoint(tiny_home, tmp_path):
    train(tiny_cfg(tiny_home, tmp_path, steps=3, checkpoint_every=1, keep_last=0))
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == [f"checkpoint-{s:07d}" for s in (1, 2, 3)]


def test_init_from_a_converted_release_records_its_architecture(tiny_home, tmp_path):
    """A release converted by lumina convert has config.json but no training.json: the new run must
    record that model's shape, not the command's defaults (a later --resume compares them)."""
    first = train(tiny_cfg(tiny_home, tmp_path / "a", steps=1))
    (Path(first.checkpoint) / "training.json").unlink()
    stage = train(tiny_cfg(tiny_home, tmp_path / "b", steps=1, model_overrides={}, init_from=first.checkpoint))
    recorded = json.loads((Path(stage.checkpoint) / "training.json").read_text())["train_config"]["model_overrides"]
    assert {k: recorded[k] for k in TINY} == TINY


def test_resume_with_loader_workers_saves_the_same_files_as_a_straight_run(tiny_home, tmp_path):
    """With loader workers the DataLoader drew its base seed from the global RNG the checkpoint had
    just restored, so the resumed run's saved RNG state differed from a straight run's."""
    kw = dict(log_every=1, shuffle_buffer=16, loader_workers=1)
    train(tiny_cfg(tiny_home, tmp_path / "a", steps=4, **kw))
    train(tiny_cfg(tiny_home, tmp_path / "b", steps=2, **kw))
    train(tiny_cfg(tiny_home, tmp_path / "b", steps=4, resume=True, **kw))
    for name in ("model.safetensors", "train_state.safetensors"):
        a, b = (load_file(str(tmp_path / run / "checkpoint-0000004" / name)) for run in ("a", "b"))
        assert "rng.torch" in a or name == "model.safetensors"
        assert a.keys() == b.keys() and [k for k in a if not torch.equal(a[k], b[k])] == [], name


def test_the_over_budget_line_comes_again_only_for_a_longer_sample(tiny_home, tmp_path, caplog, monkeypatch):
    """It was said once, naming the first sample over budget: raised to that, the next run named a longer one."""
    import training.trainer as trainer

    lengths = iter([80, 80, 100, 90])
    real = trainer.batch_loader

    def loader(*a, **kw):
        for item in real(*a, **kw):
            yield {**item, "tokens": next(lengths, 72)}

    monkeypatch.setattr(trainer, "batch_loader", loader)
    with caplog.at_level("WARNING", logger="training.trainer"):
        train(tiny_cfg(tiny_home, tmp_path, steps=4, tokens_per_batch=75))
    said = [r.getMessage().split(":")[0] for r in caplog.records if "longer than --tokens-per-batch" in r.getMessage()]
    assert said == ["a sample of 80 tokens is longer than --tokens-per-batch 75",
                    "a sample of 100 tokens is longer than --tokens-per-batch 75"]
