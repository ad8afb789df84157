"""The trainer holds the manifest's shards to the sizes the catalog records before it builds
anything (training/stream.py ManifestIndex.check_shards): a shard deleted or cut since it was
encoded was found only when an epoch's plan reached it (15 steps in, in helper C's run; hours in
on a real corpus). And the first sample, which sizes the model, is taken through first_ref: a first
shard written again with other keys ended in a bare StopIteration traceback, exit 1."""

from __future__ import annotations

import pytest

from training.stream import DamagedShard, ManifestIndex, ShardStream
from training.trainer import TrainConfig, train


def _config(tiny_home, tmp_path) -> TrainConfig:
    return TrainConfig(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                       out_dir=str(tmp_path / "run"), model_overrides={"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4},
                       steps=2, batch_size=4, progress=False, tensorboard=False)


@pytest.mark.parametrize("where", ["check_shards", "first_ref"])
def test_a_damaged_shard_stops_the_run_before_its_first_step(tiny_home, tmp_path, monkeypatch, where):
    checked = []

    def damaged(self, *args):
        checked.append(where)
        raise DamagedShard(f"encoded shard X is cut short ({where})")

    monkeypatch.setattr(ManifestIndex if where == "check_shards" else ShardStream, where, damaged)
    with pytest.raises(DamagedShard, match=rf"^encoded shard X is cut short \({where}\)$"):
        train(_config(tiny_home, tmp_path))
    assert checked == [where]
    assert not list((tmp_path / "run").glob("checkpoint-*"))  # nothing trained


def test_whole_shards_pass_the_check_and_the_run_trains(tiny_home, tmp_path, monkeypatch):
    calls = []
    check = ManifestIndex.check_shards
    monkeypatch.setattr(ManifestIndex, "check_shards", lambda self: (calls.append(self.recorded_bytes is not None), check(self))[1])
    result = train(_config(tiny_home, tmp_path))
    assert calls == [True] and result.steps == 2
