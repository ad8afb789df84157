"""A resume that changes the batch plan's settings mid-epoch (a smaller token budget after an
out-of-memory stop, another seed or shuffle buffer) keeps the batches already trained on and plans
the rest of the epoch over the samples not drawn yet: each sample still comes once per epoch. Before,
the rest of the epoch was planned afresh: up to a quarter of it came twice and as many never."""

import json
from collections import Counter

import pytest

from tests.training.test_stream import mixed, tokens  # noqa: F401 - the fixture
from training.buckets import BatchBudget
from training.stream import EpochHead, ManifestIndex, PlanSettings, Position, ShardStream, replanned_head

BASE = PlanSettings(seed=3, shuffle_buffer=50, budget=BatchBudget(max_tokens=600, max_samples=16))


def stream(manifest, settings, head=None):
    s = ShardStream(ManifestIndex(manifest), settings.budget, tokens, settings.seed, settings.shuffle_buffer)
    s.head = head
    return s


def epoch_draws(plan, epoch=0):
    """Keys per batch of `epoch` from an iterator of (position, batch)."""
    out = []
    for pos, batch in plan:
        if pos.epoch != epoch:
            break
        out.append([r.key for r in batch])
    return out


CHANGES = {
    "smaller token budget": PlanSettings(3, 50, BatchBudget(max_tokens=300, max_samples=16)),
    "larger token budget": PlanSettings(3, 50, BatchBudget(max_tokens=1200, max_samples=16)),
    "batch size": PlanSettings(3, 50, BatchBudget(max_tokens=600, max_samples=8)),
    "bucket ratio": PlanSettings(3, 50, BatchBudget(max_tokens=600, max_samples=16, bucket_ratio=1.2)),
    "shuffle buffer": PlanSettings(3, 1000, BATCH := BatchBudget(max_tokens=600, max_samples=16)),
    "seed": PlanSettings(4, 50, BATCH),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("stop", [1, 7])
def test_each_sample_comes_once_in_an_epoch_resumed_with_other_settings(mixed, change, stop):  # noqa: F811
    now = CHANGES[change]
    before = epoch_draws(stream(mixed, BASE).plan())[:stop]
    head = replanned_head(None, Position(0, stop), BASE, now)
    assert head == EpochHead(0, ((BASE, stop),))
    rest = epoch_draws(stream(mixed, now, head).plan(Position(0, stop)))
    drawn = Counter(k for batch in before + rest for k in batch)
    assert len(drawn) == len(mixed.members) and set(drawn.values()) == {1}, (change, stop)
    # the batches already trained on are the head of the re-planned epoch, as a later resume recomputes it
    assert epoch_draws(stream(mixed, now, head).plan())[:stop] == before
    # the next epoch is planned with the new settings alone
    later = stream(mixed, now, head).plan(Position(1, 0))
    assert epoch_draws(later, epoch=1) == epoch_draws(stream(mixed, now).plan(Position(1, 0)), epoch=1)


def test_two_changes_in_one_epoch_chain_and_unchanged_settings_keep_the_head(mixed):  # noqa: F811
    first, second = CHANGES["smaller token budget"], CHANGES["seed"]
    a = epoch_draws(stream(mixed, BASE).plan())[:3]
    head = replanned_head(None, Position(0, 3), BASE, first)
    b = epoch_draws(stream(mixed, first, head).plan(Position(0, 3)))[:4]
    head = replanned_head(head, Position(0, 7), first, second)
    assert head == EpochHead(0, ((BASE, 3), (first, 4)))
    assert replanned_head(head, Position(0, 9), second, second) == head  # a plain resume later in the epoch
    assert replanned_head(head, Position(1, 2), second, second) is None  # the epoch it describes is over
    rest = epoch_draws(stream(mixed, second, head).plan(Position(0, 7)))
    drawn = Counter(k for batch in a + b + rest for k in batch)
    assert len(drawn) == len(mixed.members) and set(drawn.values()) == {1}


def test_an_unchanged_resume_or_one_at_an_epochs_start_replans_nothing(mixed):  # noqa: F811
    assert replanned_head(None, Position(0, 5), BASE, BASE) is None
    assert replanned_head(None, Position(2, 0), BASE, CHANGES["seed"]) is None


def test_the_head_survives_its_json(mixed):  # noqa: F811
    head = EpochHead(3, ((BASE, 3), (CHANGES["bucket ratio"], 4)))
    assert EpochHead.from_json(json.loads(json.dumps(head.to_json()))) == head and EpochHead.from_json(None) is None


def test_the_trainer_resumed_with_a_smaller_batch_mid_epoch_draws_each_sample_once_and_keeps_that_over_a_later_resume(
        tiny_home, tmp_path, monkeypatch):
    """Through `train`: 3 steps of 8, --resume with --batch-size 4 for 5 steps, a plain --resume to the
    epoch's end. The head is saved in the checkpoint, so the last resume re-plans the same way."""
    import training.trainer as trainer
    from tests.training.test_trainer import tiny_cfg

    seen: list[tuple[int, str]] = []
    make_inputs = trainer.make_inputs

    def recording(item, *a, **kw):
        seen.extend((item["position"].epoch, k) for k, w in zip(item["keys"], item["weights"].tolist()) if w > 0)
        return make_inputs(item, *a, **kw)

    monkeypatch.setattr(trainer, "make_inputs", recording)
    from catalog import load_manifest_header

    n = load_manifest_header(tiny_home.catalog, tiny_home.train_manifest).num_members
    out = tmp_path / "run"
    trainer.train(tiny_cfg(tiny_home, out, steps=3, batch_size=8, shuffle_buffer=16, log_every=1))
    trainer.train(tiny_cfg(tiny_home, out, steps=8, batch_size=4, shuffle_buffer=16, log_every=1, resume=True))
    state = json.loads((out / "checkpoint-0000008" / "train_state.json").read_text())
    assert state["epoch_head"]["epoch"] == 0 and [n for _, n in state["epoch_head"]["segments"]] == [3]
    to_epoch_end = 8 + -(-(n - 8 * 3 - 4 * 5) // 4) + 2  # a partial last batch or two, then into epoch 1
    trainer.train(tiny_cfg(tiny_home, out, steps=to_epoch_end, batch_size=4, shuffle_buffer=16, log_every=50, resume=True))
    epoch0 = Counter(k for e, k in seen if e == 0)
    assert set(epoch0.values()) == {1} and len(epoch0) == n
    assert len(epoch0) > 8 * 3 + 4 * 5 and any(e == 1 for e, _ in seen)  # the epoch ended within the run
