"""A kill between publishing a periodic checkpoint folder and registering it in the catalog (the fault
suite's "the second checkpoint folder published"): --resume registered the folder but not the log
windows' rows that came with it, which were then only in the killed run's metrics.csv. The folder
records them (train_state.json's catalog_rows) and the resume brings in those the catalog lacks, once."""

import shutil
from collections import Counter

import pytest

from tests.training.conftest import ray_cluster_group
from tests.training.test_resume_safety import _catalog_curve
from tests.training.test_trainer import tiny_cfg
from training.catalog_hook import CatalogRegistrar
from training.trainer import train


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the trainer handles it, nothing after it runs."""


def _run(tiny_home, catalog, out, kill=None, **kw):
    """train() with the hook lumina train uses (the fault suite's settings: windows and checkpoints
    every 2 steps), under a catalog run of its own; ``kill(hook, path, step, rows)`` stands in for it."""
    from catalog import Catalog

    with Catalog.open(catalog) as cat:
        run_id = cat.start_run("train", {})
    cfg = tiny_cfg(tiny_home, out, **{"steps": 6, "log_every": 2, "checkpoint_every": 2, "keep_last": 0, "shuffle_buffer": 16, **kw})
    hook = CatalogRegistrar(str(catalog), run_id, cfg.manifest, 1, cfg.model)
    return train(cfg, on_checkpoint=hook if kill is None else lambda *a: kill(hook, *a))


def _counts(catalog, run_dir) -> Counter:
    """(step, name) of the run folder's training rows, tokens/s included: each must be there once."""
    from catalog import Catalog

    with Catalog.open(catalog, read_only=True) as cat:
        _, rows = cat.sql("SELECT m.step, m.name FROM metrics m JOIN checkpoints c USING (checkpoint_id) "
                          "WHERE m.split = 'train' AND c.uri LIKE ?", [f"{run_dir}/%"])
    return Counter(rows)


def _before_registering_4(hook, path, step, rows):
    if step == 4:
        raise Killed
    hook(path, step, rows)


def _after_registering_4(hook, path, step, rows):
    hook(path, step, rows)
    if step == 4:
        raise Killed


@pytest.fixture(scope="module")
def straight(tiny_home, tmp_path_factory):
    """A run never killed, in a catalog the tests share (each reads its own run folder's rows)."""
    tmp = tmp_path_factory.mktemp("straight")
    catalog = tmp / "catalog.duckdb"
    shutil.copy(tiny_home.catalog, catalog)
    _run(tiny_home, catalog, tmp / "a")
    return catalog, _catalog_curve(catalog, tmp / "a"), _counts(catalog, tmp / "a")


@pytest.mark.parametrize("kill", [_before_registering_4, _after_registering_4, "between the checkpoint and its rows"])
@pytest.mark.parametrize("steps", [6, 4])  # 4: the resume trains nothing, and only registers the folder
def test_a_resume_brings_in_the_rows_a_kill_kept_from_the_catalog_once(tiny_home, tmp_path, straight, kill, steps,
                                                                      monkeypatch):
    catalog, expected, counts = straight
    out = tmp_path / "b"
    if kill == "between the checkpoint and its rows":  # registered, then killed in its first row's transaction
        from catalog import Catalog

        real = Catalog.log_metrics

        def log_metrics(self, run_id, metrics, step=None, **kw):
            if step == 4:
                raise Killed
            return real(self, run_id, metrics, step=step, **kw)

        monkeypatch.setattr(Catalog, "log_metrics", log_metrics)
        kill = None
    with pytest.raises(Killed):
        _run(tiny_home, catalog, out, kill=kill)
    monkeypatch.undo()
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-0000002", "checkpoint-0000004"]
    assert (4 in {s for s, _ in _counts(catalog, out)}) == (kill is _after_registering_4)  # what the kill kept from it
    resumed = _run(tiny_home, catalog, out, resume=True, steps=steps)
    assert resumed.resumed_from_step == 4 and resumed.steps == steps
    want = [r for r in expected if r[0] <= steps]
    got = _catalog_curve(catalog, out)
    assert [(s, n) for s, n, _ in got] == [(s, n) for s, n, _ in want]  # every window up to the stop, once
    assert [v for *_, v in got] == pytest.approx([v for *_, v in want])  # the values the killed run measured
    assert _counts(catalog, out) == Counter({k: n for k, n in counts.items() if k[0] <= steps})  # tokens/s too
    again = _run(tiny_home, catalog, out, resume=True, steps=steps)  # a resume with nothing lost adds nothing
    assert again.resumed_from_step == steps and _counts(catalog, out) == Counter({k: n for k, n in counts.items()
                                                                                  if k[0] <= steps})


@pytest.mark.slow
@ray_cluster_group
def test_a_resume_under_the_ray_launcher_brings_them_in_too(tiny_home, tmp_path, straight, ray_address, monkeypatch):
    """Ray Train's rank 0 calls the same hook (pickled to it) from the same trainer: the rows the
    folder records reach the catalog once there too."""
    import ray

    from tests.training.test_distributed import RAY_TRAIN_TEST_ENV

    for k, v in RAY_TRAIN_TEST_ENV.items():
        monkeypatch.setenv(k, v)

    from catalog import Catalog
    from training.ray_launcher import train_with_ray

    catalog, expected, counts = straight
    out = tmp_path / "b"
    with pytest.raises(Killed):
        _run(tiny_home, catalog, out, kill=_before_registering_4)
    with Catalog.open(catalog) as cat:
        run_id = cat.start_run("train", {})
    cfg = tiny_cfg(tiny_home, out, steps=6, log_every=2, checkpoint_every=2, keep_last=0, shuffle_buffer=16, resume=True,
                   launcher="ray", workers=1, num_threads=1)
    try:
        result, _ = train_with_ray(cfg, CatalogRegistrar(str(catalog), run_id, cfg.manifest, 1, cfg.model))
    finally:
        ray.shutdown()
    assert result.resumed_from_step == 4 and result.steps == 6
    got = _catalog_curve(catalog, out)
    assert [(s, n) for s, n, _ in got] == [(s, n) for s, n, _ in expected]
    assert [v for *_, v in got] == pytest.approx([v for *_, v in expected])
    assert _counts(catalog, out) == counts


def test_an_fsdp_checkpoint_records_them_too(tiny_home, tmp_path, straight):
    """FSDP2 (one process here, as a torchrun rank 0): the sharded state's train_state.json records
    the rows, and the resume brings in those the kill lost."""
    catalog, expected, counts = straight
    out = tmp_path / "b"
    with pytest.raises(Killed):
        _run(tiny_home, catalog, out, kill=_before_registering_4, parallel="fsdp")
    resumed = _run(tiny_home, catalog, out, resume=True)
    assert resumed.resumed_from_step == 4 and (out / "checkpoint-0000004" / "train_state").is_dir()  # sharded
    got = _catalog_curve(catalog, out)
    assert [(s, n) for s, n, _ in got] == [(s, n) for s, n, _ in expected]
    assert _counts(catalog, out) == counts
