"""The due-training outbox on a small synthetic catalog (bench/mutation module refresh_outbox):
update_live_manifests makes training due on growth and never consumes it itself; consume_due_training
consumes it once announced; a refresh with no new version returns the latest version ``again`` while it is
due, unconsumed and no train run (not failed) took it; flows/refresh.py's _finish announces each update
before it consumes it. tests/flows/test_refresh_due_not_lost.py runs the same through whole refreshes."""

from __future__ import annotations

import pytest

from catalog import Catalog
from catalog.source_index import (LiveManifest, ManifestUpdate, consume_due_training, declare_live_manifest,
                                  live_manifests, update_live_manifests)

from .helpers import TEXT, VAE_A, VAE_B, make_batch

WHERE = "modality = 'image' AND split = 'train'"


def _trained(cat) -> dict:
    return {m.name: m.trained_version for m in live_manifests(cat)}


@pytest.fixture
def cat(catalog_copy):
    cat = Catalog.open(catalog_copy)
    yield cat
    cat.close()


def _live(cat, growth: int | None = 4, name: str = "live", where: str = WHERE, options=None, **kw) -> list[ManifestUpdate]:
    """Declared live, then its first version (the starting point, not due)."""
    declare_live_manifest(cat, LiveManifest(name, where, train_min_growth=growth,
                                            train_options={"steps": 3} if options is None else options, **kw))
    return update_live_manifests(cat)


def _grow(cat, b: int = 10) -> None:
    cat.register_batches([make_batch(b)], "run-base")  # 4 new train members


def test_a_first_version_is_the_starting_point_not_a_due_training(cat):
    [first] = _live(cat)
    n = cat.manifest_header("live").num_members
    assert first == ManifestUpdate("live", 1, None, n, 0, 0, False, {"steps": 3})
    assert _trained(cat) == {"live": 1}
    assert update_live_manifests(cat) == []  # no growth, nothing due


@pytest.mark.parametrize("growth,due", [(4, True), (5, False), (None, False)])
def test_growth_of_train_min_growth_members_makes_training_due_and_nothing_consumes_it_but_the_caller(cat, growth, due):
    _live(cat, growth)
    n1 = cat.manifest_header("live").num_members
    _grow(cat)
    [update] = update_live_manifests(cat)
    assert update == ManifestUpdate("live", 2, 1, n1 + 4, n1, 4, due, {"steps": 3})
    assert _trained(cat) == {"live": 1}  # not consumed by the refresh itself
    again = update_live_manifests(cat)  # no new version: the due one comes back until consumed
    assert again == ([ManifestUpdate("live", 2, 1, n1 + 4, n1, 4, True, {"steps": 3}, again=True)] if due else [])
    assert update_live_manifests(cat, consume_due=False) == again and _trained(cat) == {"live": 1}
    consume_due_training(cat, update)
    assert _trained(cat) == {"live": 2 if due else 1}  # an update that is not due consumes nothing
    assert update_live_manifests(cat) == ([] if due else again)


def test_growth_counts_from_the_consumed_version_not_the_previous_one(cat):
    _live(cat, growth=6)
    n1 = cat.manifest_header("live").num_members
    _grow(cat, 10)
    [v2] = update_live_manifests(cat)
    assert (v2.added_since_training, v2.train_due) == (4, False)
    _grow(cat, 11)
    [v3] = update_live_manifests(cat)  # 8 members since v1, the baseline: due
    assert v3 == ManifestUpdate("live", 3, 2, n1 + 8, n1 + 4, 8, True, {"steps": 3})
    [again] = update_live_manifests(cat)
    assert again == ManifestUpdate("live", 3, 2, n1 + 8, n1 + 4, 8, True, {"steps": 3}, again=True)
    consume_due_training(cat, again)
    _grow(cat, 12)
    [v4] = update_live_manifests(cat)  # 4 since v3, the version consumed
    assert (v4.version, v4.added_since_training, v4.train_due) == (4, 4, False)


@pytest.mark.parametrize("status,taken", [("running", True), ("completed", True), ("cancelled", True), ("failed", False)])
def test_a_due_version_a_train_run_took_is_consumed_quietly_unless_it_failed(cat, status, taken):
    _live(cat)
    _grow(cat)
    update_live_manifests(cat)
    run = cat.start_run("train", {"manifest": "live", "manifest_version": 2})
    if status != "running":
        cat.finish_run(run, status=status)
    before = update_live_manifests(cat, consume_due=False)  # `lumina refresh`: never moves the baseline
    assert (before == []) == taken and _trained(cat) == {"live": 1}
    after = update_live_manifests(cat)
    assert (after == []) == taken and _trained(cat) == {"live": 2 if taken else 1}


def test_a_train_run_of_another_version_or_manifest_takes_nothing(cat):
    _live(cat)
    _grow(cat)
    update_live_manifests(cat)
    cat.start_run("train", {"manifest": "live", "manifest_version": 1})
    cat.start_run("train", {"manifest": "other", "manifest_version": 2})
    cat.start_run("evaluate", {"manifest": "live", "manifest_version": 2})
    assert [u.again for u in update_live_manifests(cat)] == [True] and _trained(cat) == {"live": 1}


def test_a_live_manifest_that_selects_nothing_is_passed_over_and_the_others_go_on(cat):
    declare_live_manifest(cat, LiveManifest("a-nothing", "modality = 'video'", train_min_growth=1))
    [first] = _live(cat, name="b-live")  # after "a-nothing" in name order
    assert first.name == "b-live" and _trained(cat) == {"a-nothing": None, "b-live": 1}
    _grow(cat)
    assert [u.id for u in update_live_manifests(cat)] == ["b-live@v2"]
    assert [u.id for u in update_live_manifests(cat)] == ["b-live@v2"]  # again


def test_a_due_version_consumed_elsewhere_first_is_not_due_again(cat):
    """The latest version consumed (trained_version at the head): nothing is returned again."""
    _live(cat)
    _grow(cat)
    [update] = update_live_manifests(cat)
    consume_due_training(cat, update)
    consume_due_training(cat, ManifestUpdate("live", 1, None, 0, 0, 0, True, {}))  # a late consume: never back
    assert _trained(cat) == {"live": 2} and update_live_manifests(cat) == []


# --------------------------------------------------------------------------- flows/refresh.py _finish


def _finish(cat, updates, consume_due=True, tmp_path=None, live=None):
    from contracts.layout import Workspace
    from flows.refresh import RefreshHooks, RefreshResult, _finish, _unversioned

    seen, progress = [], []

    def on_manifest(u):
        seen.append((u.id, _trained(cat)["live"]))  # what the catalog held when it was announced

    result = RefreshResult("src", "image", False)
    out = _finish(result, updates, RefreshHooks(on_manifest=on_manifest, progress=lambda *a: progress.append(a)),
                  Workspace(tmp_path), {"scan": 1.0}, cat, live, consume_due, _unversioned(cat, live))
    assert progress == [(1.0, "done")]
    return out, seen


def test_finish_announces_each_update_then_consumes_the_due_ones(cat, tmp_path):
    _live(cat)
    _grow(cat)
    [update] = update_live_manifests(cat)
    out, seen = _finish(cat, [update], tmp_path=tmp_path)
    assert seen == [("live@v2", 1)] and _trained(cat) == {"live": 2}  # announced before it was consumed
    assert out.manifests == [{"manifest": "live@v2", "members": update.num_members, "previous_members":
                              update.previous_members, "added_since_training": 4, "train_due": True}]
    assert out.notes == [] and out.seconds == {"scan": 1.0}


def test_finish_without_consuming_says_how_to_train_and_keeps_it_due(cat, tmp_path):
    _live(cat)
    _grow(cat)
    [update] = update_live_manifests(cat)
    out, seen = _finish(cat, [update], consume_due=False, tmp_path=tmp_path)
    assert seen == [("live@v2", 1)] and _trained(cat) == {"live": 1}
    assert out.notes == [f"training on live is due (4 new members) and stays due: lumina train --manifest live@v2 "
                         f"--home {tmp_path} --set steps=3 (or let the Prefect refresh deployment announce it)"]


@pytest.mark.parametrize("options,sets", [({}, ""), ({"steps": 3, "lr": 0.1}, " --set lr=0.1 --set steps=3")])
def test_finish_without_consuming_names_each_train_option(cat, tmp_path, options, sets):
    _live(cat, options=options)
    _grow(cat)
    [update] = update_live_manifests(cat)
    out, _ = _finish(cat, [update], consume_due=False, tmp_path=tmp_path)
    assert out.notes == [f"training on live is due (4 new members) and stays due: lumina train --manifest live@v2 "
                         f"--home {tmp_path}{sets} (or let the Prefect refresh deployment announce it)"]


def test_finish_says_a_due_training_announced_again(cat, tmp_path):
    _live(cat)
    _grow(cat)
    update_live_manifests(cat)
    [again] = update_live_manifests(cat)
    out, seen = _finish(cat, [again], tmp_path=tmp_path)
    assert seen == [("live@v2", 1)] and _trained(cat) == {"live": 2}
    assert len(out.notes) == 1 and out.notes[0].startswith("training on live is due at live@v2 since an earlier refresh")
    assert out.notes[0].endswith("announced now")


def test_finish_consumes_nothing_that_is_not_due(cat, tmp_path):
    [first] = _live(cat)
    consume = []
    import catalog.source_index as si

    orig = si.consume_due_training
    si.consume_due_training = lambda *a: consume.append(a)
    try:
        out, seen = _finish(cat, [first], tmp_path=tmp_path)
    finally:
        si.consume_due_training = orig
    assert seen == [("live@v1", 1)] and consume == [] and out.notes == []


def test_finish_says_a_live_manifest_that_selects_nothing_yet(cat, tmp_path):
    [first] = _live(cat)
    nothing = LiveManifest("nothing", "modality = 'video'")
    declare_live_manifest(cat, nothing)
    out, _ = _finish(cat, [first], tmp_path=tmp_path, live=[LiveManifest("live", WHERE), nothing])
    assert out.notes == ["live manifest nothing selects nothing yet (modality = 'video'): no version; every refresh "
                         "tries again"]


# --------------------------------------------------------------------------- more of _update_live_manifests and _still_due


def test_a_live_manifest_whose_selection_mixes_encoders_is_passed_over_saying_how_to_pin_it(cat, caplog):
    """"a-mixed" takes both VAEs' samples and gets no version (a warning); "b-pinned", pinned to one VAE, still
    grows: the pin reaches the freeze, and the manifest before it does not stop it."""
    _live(cat, name="b-pinned", encoders=[VAE_A, TEXT])
    declare_live_manifest(cat, LiveManifest("a-mixed", "modality = 'image'", train_min_growth=1))
    cat.register_batches([make_batch(20, vae=VAE_B), make_batch(21)], "run-base")
    with caplog.at_level("WARNING", logger="catalog.source_index"):
        assert [u.id for u in update_live_manifests(cat)] == ["b-pinned@v2"]
    [record] = [r for r in caplog.records if "gets no new version" in r.getMessage()]
    assert record.name == "catalog.source_index"
    message = record.getMessage()
    head, tail = message.split(". Pin its encoders ")
    assert head.startswith("live manifest a-mixed gets no new version: manifest 'a-mixed': the selected samples mix "
                           "encoders of the same kind (") and VAE_A in head and VAE_B in head and head.endswith(")")
    assert "latents from different encoders" not in head  # the error's advice is not the one for a live manifest
    assert tail == ("(lumina refresh ... --live a-mixed=WHERE --live-encoder FINGERPRINT, or live_manifests.a-mixed.encoders "
                    "in the deployment) or narrow its selection to samples of one encoder per kind")


def test_a_live_version_is_described_as_declared_else_as_the_live_selection(cat):
    _live(cat, name="plain")
    _live(cat, name="told", description="mine")
    assert cat.manifest_header("plain").description == "live selection"
    assert cat.manifest_header("told").description == "mine"


def test_a_live_manifest_with_no_new_version_does_not_stop_the_next_one(cat):
    _live(cat, name="a-batch0", where="modality = 'image' AND meta->>'batch' = '0'")  # the new batch adds none
    _live(cat, name="b-live")
    _grow(cat)
    assert [u.id for u in update_live_manifests(cat)] == ["b-live@v2"]
    assert cat.manifest_header("a-batch0").version == 1


def test_a_name_frozen_before_it_was_declared_live_counts_growth_from_its_version_then(cat):
    cat.freeze_manifest("live", WHERE)  # v1, by `lumina catalog manifest create`
    n1 = cat.manifest_header("live").num_members
    declare_live_manifest(cat, LiveManifest("live", WHERE, train_min_growth=4))
    assert update_live_manifests(cat) == [] and _trained(cat) == {"live": None}  # nothing new: nothing set yet
    _grow(cat)
    [update] = update_live_manifests(cat)
    assert update == ManifestUpdate("live", 2, 1, n1 + 4, n1, 4, True, {})  # counted from v1, the version then
    assert _trained(cat) == {"live": 1}


def test_with_train_min_growth_0_every_new_version_is_due_once(cat):
    _live(cat, growth=0)
    _grow(cat)
    [update] = update_live_manifests(cat)
    assert update.train_due and update.added_since_training == 4
    consume_due_training(cat, update)
    assert update_live_manifests(cat) == []  # consumed: not due again for 0 new members
