"""flows.steps.train_step looks up the checkpoint a --resume continues once (it called
state.latest_resumable up to three times, each a header check of every file, and with checksums the
first a read of the checkpoint unless remembered), and passes that one on: the same run resumes, from
the same folder, given relative or found through the catalog, the manifest version pinned or not."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

import training.state
from tests.training.test_trainer import TINY
from training.trainer import TrainConfig


@pytest.fixture
def lookups(monkeypatch):
    """Each latest_resumable call made from flows.steps (resume_config's header-only one is its own)."""
    seen: list[str] = []
    real = training.state.latest_resumable

    def counted(out_dir, content=True):
        if sys._getframe(1).f_globals["__name__"] == "flows.steps":
            seen.append(str(out_dir))
        return real(out_dir, content=content)

    monkeypatch.setattr(training.state, "latest_resumable", counted)
    return seen


@pytest.mark.parametrize("pinned", [False, True])
def test_a_resume_looks_up_its_checkpoint_once(tiny_home, tmp_path, monkeypatch, lookups, pinned):
    from flows.steps import train_step

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(tiny_home.catalog, home / "catalog.duckdb")  # registrations stay in this test
    monkeypatch.chdir(tmp_path)
    manifest = tiny_home.train_manifest + ("@v1" if pinned else "")
    opts = dict(manifest=manifest, null_caption=tiny_home.null_caption, model_overrides=TINY, batch_size=8,
                log_every=1, checkpoint_every=1, keep_last=0, progress=False, tensorboard=False, shuffle_buffer=16)
    first = train_step(str(home), TrainConfig(steps=2, out_dir="run", **opts))
    assert lookups == []  # no --resume: nothing looked up
    run = tmp_path / "run"
    assert Path(first["checkpoint"]) == run / "checkpoint-0000002"
    # pinned: the folder given relative (resolved before the lookup); not pinned: found through the catalog
    again = train_step(str(home), TrainConfig(steps=3, resume=True, **opts, **({"out_dir": "run"} if pinned else {})))
    assert len(lookups) == 1, lookups
    assert (again["resumed_from_step"], again["steps"]) == (2, 3)
    assert Path(again["checkpoint"]) == run / "checkpoint-0000003"
    assert [s for s, _ in again["losses"]] == [1, 2, 3]
    done = train_step(str(home), TrainConfig(steps=3, resume=True, out_dir="run", **opts))  # nothing left to train
    assert len(lookups) == 2 and done["checkpoint"] == str(run / "checkpoint-0000003")
