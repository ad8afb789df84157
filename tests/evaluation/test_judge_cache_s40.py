"""The judge cache (evaluation/judging.cached_fit): an evaluation on the same held-out data loads
the judge an earlier one trained, with exactly the figures a fresh training gives; other data,
another argument or a broken cache file trains it again."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import pytest
import torch

import evaluation.image.judge as image_judge
import evaluation.multiview.judge as multiview_judge
import evaluation.speech.judge as speech_judge
import evaluation.video.judge as video_judge


def _digits(n=24, side=16, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, side, side, generator=g) * 2 - 1, torch.randint(0, 10, (n,), generator=g)


@pytest.fixture
def fits(monkeypatch):
    """Counts the trainings (judging.fit as each judge module calls it)."""
    calls = []
    for mod in (image_judge, speech_judge, video_judge, multiview_judge):
        real = mod.fit

        @functools.wraps(real)
        def counted(*a, _real=real, **k):
            calls.append(1)
            return _real(*a, **k)

        monkeypatch.setattr(mod, "fit", counted)
    return calls


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a, b):
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _cases():
    x, y = _digits()
    g = torch.Generator().manual_seed(2)
    clips = torch.rand(8, 1, 3, 16, 16, generator=g) * 2 - 1
    sets = torch.rand(8, 3, 2, 16, 16, generator=g) * 2 - 1
    mels = torch.randn(12, 1, 80, speech_judge.WIDTH, generator=g)
    return {
        "image": (lambda d, **k: image_judge.train_judge(*d, steps=6, **k), (x, y),
                  lambda r: (r.judge, (r.test_accuracy, r.num_train, r.num_test))),
        "speech": (lambda d, **k: speech_judge.train_judge(*d, steps=6, **k), (mels, torch.arange(12) % 10),
                   lambda r: (r.judge, (r.test_accuracy, r.num_train, r.num_test))),
        "video": (lambda d, **k: video_judge.train_clip_judge(*d, steps=6, **k), (clips, torch.arange(8) % 10, torch.arange(8) % 4),
                  lambda r: (r.digit, (r.digit_frame_accuracy, r.digit_accuracy, r.direction_accuracy, r.num_train_clips,
                                       r.num_test_clips, r.side))),
        "multiview": (lambda d, **k: multiview_judge.train_view_judge(*d, 3, steps=6, **k),
                      (sets, (torch.arange(16) % 3).view(8, 2)),
                      lambda r: (r.judge, (r.test_accuracy, r.num_train, r.num_test, r.test_sets))),
    }


@pytest.mark.parametrize("modality", ["image", "speech", "video", "multiview"])
def test_a_hit_is_what_a_fresh_training_gives_without_training(modality, tmp_path, fits):
    train, data, read = _cases()[modality]
    fresh = train(data)  # no cache: as before
    judge0, figures0 = read(fresh)
    rng0 = torch.get_rng_state()
    assert len(fits) == 1 and not any(tmp_path.iterdir())

    miss = train(data, cache_dir=tmp_path)
    assert len(fits) == 2 and len(list(tmp_path.glob("*.safetensors"))) == 1 and len(list(tmp_path.glob("*.json"))) == 1
    from contracts.layout import _umask

    # safetensors writes 0600: a shared workspace's cache is readable as its umask allows
    assert {p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {0o666 & ~_umask()}
    torch.manual_seed(123)  # what ran in between: the hit leaves torch's generator as the training did
    hit = train(data, cache_dir=tmp_path)
    assert len(fits) == 2, "a hit trained the judge again"
    assert torch.equal(torch.get_rng_state(), rng0)
    for report in (miss, hit):
        judge, figures = read(report)
        assert figures == figures0
        _same(_weights(judge), _weights(judge0))
        assert not judge.training
        probe = data[0][:4] if modality != "multiview" else data[0][:4, :, 0]
        if modality == "video":
            probe = video_judge.frames_of(data[0][:2])
        assert torch.equal(judge.predict(probe), judge0.predict(probe))


@pytest.mark.parametrize("modality", ["image", "speech", "video", "multiview"])
def test_one_changed_sample_or_argument_trains_again(modality, tmp_path, fits):
    train, data, _ = _cases()[modality]
    train(data, cache_dir=tmp_path)
    changed = data[0].clone()
    changed[3].view(-1)[0] += 0.5  # one value of one held-out sample
    train((changed, *data[1:]), cache_dir=tmp_path)
    assert len(fits) == 2 and len(list(tmp_path.glob("*.safetensors"))) == 2
    labels = data[1].clone()
    labels.view(-1)[0] = (labels.view(-1)[0] + 1) % 3
    train((data[0], labels, *data[2:]), cache_dir=tmp_path)
    train(data, cache_dir=tmp_path, seed=1)
    assert len(fits) == 4 and len(list(tmp_path.glob("*.safetensors"))) == 4
    train(data, cache_dir=tmp_path)
    assert len(fits) == 4


def test_thread_count_and_version_are_in_the_key(tmp_path, fits, monkeypatch):
    data = _digits()
    image_judge.train_judge(*data, steps=4, cache_dir=tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(threads + 1)  # the same seed trains other weights at another thread count
    try:
        image_judge.train_judge(*data, steps=4, cache_dir=tmp_path)
    finally:
        torch.set_num_threads(threads)
    monkeypatch.setattr(image_judge.DigitJudge, "VERSION", image_judge.DigitJudge.VERSION + 1)
    image_judge.train_judge(*data, steps=4, cache_dir=tmp_path)
    assert len(fits) == 3


@pytest.mark.parametrize("damage", ["cut", "other_key", "json_gone"])
def test_a_broken_cache_file_is_ignored_with_one_warning_and_written_over(damage, tmp_path, fits, caplog):
    data = _digits()
    first = image_judge.train_judge(*data, steps=4, cache_dir=tmp_path)
    (weights,) = tmp_path.glob("*.safetensors")
    meta = weights.with_suffix(".json")
    if damage == "cut":
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "other_key":
        meta.write_text(meta.read_text().replace(weights.stem, "0" * len(weights.stem)))
    else:
        meta.unlink()
    with caplog.at_level(logging.WARNING, logger="evaluation.judging"):
        again = image_judge.train_judge(*data, steps=4, cache_dir=tmp_path)
    warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 1 and "does not load" in warned[0].getMessage() and len(fits) == 2
    assert again.test_accuracy == first.test_accuracy
    _same(_weights(again.judge), _weights(first.judge))
    caplog.clear()
    image_judge.train_judge(*data, steps=4, cache_dir=tmp_path)  # written over: a hit now
    assert len(fits) == 2 and not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([weights.name, meta.name])  # no tmp files left


def test_evaluate_twice_trains_the_judge_once_with_the_same_metrics(tiny_home, tiny_checkpoint, tmp_path, fits, monkeypatch, caplog):
    """lumina evaluate's path: evaluate() hands the cache to the modality's judge through EvalContext."""
    import evaluation.image.metrics as image_metrics
    from evaluation.evaluate import EvalConfig, evaluate

    # the real train_judge and cache, at few steps (the default 400 is ~14 s CPU)
    monkeypatch.setattr(image_metrics, "train_judge", functools.partial(image_judge.train_judge, steps=8))
    catalog = str(Path(tiny_checkpoint).parent.parent / "catalog.duckdb")

    def run(cache, **kw):
        cfg = EvalConfig(checkpoint=str(tiny_checkpoint), catalog=catalog, manifest=tiny_home.holdout_manifest,
                         out_dir=str(tmp_path / "eval"), steps=1, samples_per_class=1, grid_size=1, **kw)
        return evaluate(cfg, judge_cache=cache).metrics

    cache = tmp_path / "cache" / "judges"
    fresh = run(None)
    assert len(fits) == 1 and not cache.exists()
    first = run(cache)
    assert len(fits) == 2 and len(list(cache.glob("*.safetensors"))) == 1
    with caplog.at_level(logging.INFO, logger="evaluation.judging"):
        second = run(cache)
    assert len(fits) == 2, "the second evaluation trained its judge again"
    assert any("judge: loaded from cache" in r.getMessage() for r in caplog.records)
    assert "judge_test_accuracy" in fresh and fresh == first == second
    run(cache, max_heldout=20)  # other held-out examples: another judge
    assert len(fits) == 3 and len(list(cache.glob("*.safetensors"))) == 2


def test_evaluate_step_keeps_judges_in_the_workspace(tiny_home, tiny_checkpoint, tmp_path, monkeypatch):
    import evaluation.evaluate as ev
    from flows.steps import evaluate_step

    seen = {}

    def evaluate(cfg, judge_cache=None):  # where evaluate_step points the cache, without sampling
        seen["cache"] = judge_cache
        result = ev.EvalResult({"heldout_fm_loss": 0.5}, sampling=ev.sampling_settings(cfg))
        ev.write_metrics_json(result, cfg.out_dir)
        return result

    monkeypatch.setattr(ev, "evaluate", evaluate)
    home = Path(tiny_checkpoint).parent.parent
    evaluate_step(str(home), ev.EvalConfig(manifest=tiny_home.holdout_manifest, checkpoint=str(tiny_checkpoint),
                                           out_dir=str(tmp_path / "eval")))
    assert Path(seen["cache"]) == home.resolve() / "cache" / "judges"
