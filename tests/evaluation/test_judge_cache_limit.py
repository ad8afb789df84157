"""The judge cache (<workspace>/cache/judges) is bounded by $LUMINA_JUDGE_CACHE_MB: after each write the
judges used least recently are removed (a hit counts as a use); it grew without end before."""

from __future__ import annotations

import functools
import os
import time

import pytest
import torch

import evaluation.image.judge as image_judge
from evaluation.config import JUDGE_CACHE_ENV, judge_cache_limit
from evaluation.judging import evict


@pytest.fixture
def fits(monkeypatch):
    calls = []
    real = image_judge.fit

    @functools.wraps(real)
    def counted(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(image_judge, "fit", counted)
    return calls


def _data():
    g = torch.Generator().manual_seed(1)
    return torch.rand(16, 1, 8, 8, generator=g) * 2 - 1, torch.randint(0, 10, (16,), generator=g)


def _train(cache, seed):  # another seed: another judge, under another key
    return image_judge.train_judge(*_data(), steps=2, seed=seed, cache_dir=cache)


def _keys(cache):
    return {p.stem for p in cache.glob("*.safetensors")}, {p.stem for p in cache.glob("*.json")}


def _age(cache, key, seconds_ago):
    for p in cache.glob(f"{key}.*"):
        t = time.time() - seconds_ago
        os.utime(p, (t, t))


def test_the_least_recently_used_judges_go_once_the_cache_is_over_its_limit(tmp_path, fits, monkeypatch):
    monkeypatch.setenv(JUDGE_CACHE_ENV, "")  # the default: 100 MB
    _train(tmp_path, 0)
    (a,) = _keys(tmp_path)[0]
    entry = sum(p.stat().st_size for p in tmp_path.iterdir())
    monkeypatch.setenv(JUDGE_CACHE_ENV, str(2.5 * entry / 1e6))  # room for two judges
    _age(tmp_path, a, 300)
    _train(tmp_path, 1)
    (b,) = _keys(tmp_path)[0] - {a}
    _age(tmp_path, b, 200)
    assert len(fits) == 2 and _keys(tmp_path) == ({a, b},) * 2

    _train(tmp_path, 0)  # a hit on the older one: used now, so b is the least recently used
    assert len(fits) == 2
    _train(tmp_path, 2)
    (c,) = _keys(tmp_path)[0] - {a, b}
    assert len(fits) == 3 and _keys(tmp_path) == ({a, c},) * 2, "the judge used least recently (b) was to go"
    _train(tmp_path, 0)  # still there: a hit
    assert len(fits) == 3
    _train(tmp_path, 1)  # b was removed: trained again, and now c is the least recently used
    assert len(fits) == 4 and _keys(tmp_path) == ({a, b},) * 2


def test_the_new_judge_stays_and_foreign_files_are_left_alone(tmp_path, fits, monkeypatch):
    (tmp_path / "notes.txt").write_text("a user's file")
    stale = tmp_path / f".{'0' * 32}.safetensors.123.tmp"  # a writer killed mid-write, an hour ago
    stale.write_bytes(b"x" * 10)
    _age(tmp_path, "." + "0" * 32, 3700)
    fresh = tmp_path / f".{'1' * 32}.json.456.tmp"  # another evaluation writing now
    fresh.write_bytes(b"x")
    monkeypatch.setenv(JUDGE_CACHE_ENV, "0.001")  # less than one judge
    _train(tmp_path, 0)
    _train(tmp_path, 1)
    assert len(fits) == 2 and len(_keys(tmp_path)[0]) == 1  # only the newest
    _train(tmp_path, 1)
    assert len(fits) == 2  # the newest is a hit
    assert (tmp_path / "notes.txt").exists() and fresh.exists() and not stale.exists()
    assert evict(tmp_path, 0) == 1 and _keys(tmp_path) == (set(), set())  # evict() alone: keeps nothing asked


def test_zero_keeps_no_judge_and_a_bad_value_is_refused_in_one_line(tmp_path, fits, monkeypatch):
    monkeypatch.setenv(JUDGE_CACHE_ENV, "0")
    _train(tmp_path, 0)
    _train(tmp_path, 0)
    assert len(fits) == 2 and not any(tmp_path.iterdir())
    monkeypatch.setenv(JUDGE_CACHE_ENV, "1.5")
    assert judge_cache_limit() == 1_500_000
    for bad in ("lots", "-1", "nan", "inf"):
        monkeypatch.setenv(JUDGE_CACHE_ENV, bad)
        with pytest.raises(ValueError, match=f"^{JUDGE_CACHE_ENV} must be a number of megabytes .*got '{bad}'$"):
            judge_cache_limit()


def test_lumina_evaluate_refuses_a_bad_limit_before_evaluating(monkeypatch, capsys):
    import flows.steps
    from flows.cli import main

    ran = []
    monkeypatch.setattr(flows.steps, "evaluate_step", lambda home, cfg: ran.append(cfg) or {})
    monkeypatch.setenv(JUDGE_CACHE_ENV, "100MB")
    assert main(["evaluate", "--manifest", "m", "--checkpoint", "c"]) == 2 and not ran
    err = capsys.readouterr().err
    assert err.startswith(f"lumina evaluate: error: {JUDGE_CACHE_ENV} must be") and err.count("\n") == 1
