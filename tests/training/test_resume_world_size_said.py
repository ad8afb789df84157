"""A run resumed with another number of processes (torchrun --nproc_per_node 2, then plain python)
goes on with the same global batches, but nothing said the number changed, and the checkpoint did
not record it. It records world_size now, and the resume says the change."""

from __future__ import annotations

import json
import logging

from training.state import STATE_JSON
from training.trainer import TrainConfig, train


def _config(tiny_home, run, steps, **kw) -> TrainConfig:
    return TrainConfig(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                       out_dir=str(run), model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4},
                       steps=steps, batch_size=4, progress=False, tensorboard=False, **kw)


def test_a_resume_with_another_number_of_processes_says_so(tiny_home, tmp_path, caplog):
    run = tmp_path / "run"
    first = train(_config(tiny_home, run, 2))
    state = json.loads((run / "checkpoint-0000002" / STATE_JSON).read_text())
    assert state["world_size"] == 1
    with caplog.at_level(logging.INFO, logger="training.trainer"):
        train(_config(tiny_home, run, 3, resume=True))
    assert not [r for r in caplog.records if "process(es)" in r.getMessage()]  # the same number: nothing said
    state = json.loads((run / "checkpoint-0000003" / STATE_JSON).read_text())
    state["world_size"] = 2  # as a torchrun --nproc_per_node 2 run wrote it
    (run / "checkpoint-0000003" / STATE_JSON).write_text(json.dumps(state))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="training.trainer"):
        train(_config(tiny_home, run, 4, resume=True))
    said = [r.getMessage() for r in caplog.records if "process(es)" in r.getMessage()]
    assert said == ["--resume: the run trained on 2 process(es) up to step 3 and goes on with 1: the batches stay the same "
                    "(--batch-size and --tokens-per-batch are per step, each process takes its share of a batch)"], said
    assert first.steps == 2
