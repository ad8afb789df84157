"""training/resume_config.py's functions added since its last mutation run (bench/mutation module resume_config):
manifest_of_run_folder (the manifest `--resume --out-dir RUN` takes when --manifest is left out), resumed_launcher
(a Ray Train run resumed in Ray Train workers again) and nothing_to_train's header-only look. Hand-written
training.json files, no training."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from training import resume_config
from training.resume_config import manifest_of_run_folder, resumed_launcher


def _ckpt(folder, name: str, train_config) -> None:
    (folder / name).mkdir(parents=True)
    (folder / name / "training.json").write_text(json.dumps({"train_config": train_config}))


def test_the_newest_by_step_number_not_by_name(tmp_path):
    _ckpt(tmp_path, "checkpoint-9999999", {"manifest": "old@v1"})
    _ckpt(tmp_path, "checkpoint-10000000", {"manifest": "new@v2"})  # 8 digits: after 9999999, before it as text
    assert manifest_of_run_folder(tmp_path) == "new"
    _ckpt(tmp_path / "unpadded", "checkpoint-9", {"manifest": "nine"})
    _ckpt(tmp_path / "unpadded", "checkpoint-10", {"manifest": "ten"})
    assert manifest_of_run_folder(tmp_path / "unpadded") == "ten"


@pytest.mark.parametrize("bad", [123, ["digits"], {"name": "digits"}, ""])
def test_a_manifest_that_is_no_name_is_passed_over(tmp_path, bad):
    _ckpt(tmp_path, "checkpoint-0000002", {"manifest": "digits@v3"})
    _ckpt(tmp_path, "checkpoint-0000004", {"manifest": bad})
    assert manifest_of_run_folder(tmp_path) == "digits"


def _cfg(launcher="local", workers=1, given=None):
    return SimpleNamespace(launcher=launcher, workers=workers, given=given)


@pytest.fixture
def ray_ckpt(tmp_path):
    _ckpt(tmp_path, "checkpoint-0000004", {"launched_by": "ray", "workers": 3, "launcher": "local"})
    return tmp_path / "checkpoint-0000004"


def test_a_ray_train_run_resumes_in_as_many_ray_train_workers(ray_ckpt, caplog):
    cfg = _cfg()
    with caplog.at_level("INFO", logger=resume_config.log.name):
        resumed_launcher(cfg, ray_ckpt)
    assert (cfg.launcher, cfg.workers) == ("ray", 3)
    assert "the run trained in 3 Ray Train workers: launching them again" in caplog.text
    cfg = _cfg(given=["steps"])  # the command gave other flags: still Ray, its workers
    resumed_launcher(cfg, ray_ckpt)
    assert (cfg.launcher, cfg.workers) == ("ray", 3)


def test_workers_given_are_kept_and_launcher_given_stays_in_this_process(ray_ckpt):
    cfg = _cfg(workers=2, given=["workers"])
    resumed_launcher(cfg, ray_ckpt)
    assert (cfg.launcher, cfg.workers) == ("ray", 2)
    cfg = _cfg(workers=1, given=["launcher"])
    resumed_launcher(cfg, ray_ckpt)
    assert (cfg.launcher, cfg.workers) == ("local", 1)


def test_a_ray_run_without_workers_recorded_keeps_the_commands(tmp_path):
    _ckpt(tmp_path, "checkpoint-0000002", {"launched_by": "ray"})
    cfg = _cfg(workers=4)
    resumed_launcher(cfg, tmp_path / "checkpoint-0000002")
    assert (cfg.launcher, cfg.workers) == ("ray", 4)


@pytest.mark.parametrize("saved", [{}, {"launched_by": None, "workers": 3}, {"launched_by": "torchrun", "workers": 3}])
def test_a_run_not_launched_by_ray_is_left_as_the_command_says(tmp_path, saved):
    _ckpt(tmp_path, "checkpoint-0000002", saved)
    cfg = _cfg()
    resumed_launcher(cfg, tmp_path / "checkpoint-0000002")
    assert (cfg.launcher, cfg.workers) == ("local", 1)


def test_a_resume_launched_by_ray_already_changes_nothing(ray_ckpt):
    cfg = _cfg(launcher="ray", workers=2)
    resumed_launcher(cfg, ray_ckpt)
    assert (cfg.launcher, cfg.workers) == ("ray", 2)


def test_under_torchrun_its_processes_are_the_launcher(ray_ckpt, monkeypatch):
    import torch.distributed as dist

    monkeypatch.setattr(dist, "is_torchelastic_launched", lambda: True)
    cfg = _cfg()
    resumed_launcher(cfg, ray_ckpt)
    assert (cfg.launcher, cfg.workers) == ("local", 1)


def test_nothing_to_train_reads_headers_only(tmp_path, monkeypatch):
    """Its content is compared by the entry point (once, rank 0) and the trainer, not again here."""
    import training.state as state

    seen = []
    monkeypatch.setattr(state, "latest_resumable", lambda out, **kw: seen.append(kw) or None)
    assert resume_config.nothing_to_train(SimpleNamespace(resume=True, out_dir=str(tmp_path))) is None
    assert len(seen) == 1 and "content" in seen[0] and not seen[0]["content"]
