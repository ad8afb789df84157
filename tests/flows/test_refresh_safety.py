"""What a new user's walkthrough of `lumina refresh` broke: a refresh with the wrong --modality
retired every sample of the right one, identical files lost their sample, an empty (unmounted)
source removed everything, `lumina refresh` consumed a due training that only the Prefect flow
announces, new files were curated with default options, and two refreshes of a source ran at once."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from catalog import Catalog
from catalog.source_index import LiveManifest, Retirement, retire
from flows.refresh import EmptySourceError, RefreshHooks, refresh_source, reuse_curation
from preprocess.curate import CurateConfig
from preprocess.encode import EncodeConfig

ENCODE = EncodeConfig(text="phone")


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    from preprocess.image.demo_corpus import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("stage"), num_digits=8, num_shapes=0).root / "digits"


def _copy(stage: Path, dst: Path, numbers, as_stem=None) -> None:
    for i in numbers:
        for suffix in (".png", ".txt"):
            shutil.copy(stage / f"digit_{i:05d}{suffix}", dst / f"{as_stem or f'digit_{i:05d}'}{suffix}")


def _src(tmp_path, digits, numbers=range(4)) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    _copy(digits, src, numbers)
    return src


def _refresh(src, home, modality="image", live=None, **kw):
    live = [LiveManifest("live", "modality = 'image'", train_min_growth=1)] if live is None else live
    return refresh_source(str(src), home, CurateConfig(modality=modality), encode_cfg=ENCODE, live=live, backend="local", **kw)


def _sql(home: Path, query: str, params=()):
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        return con.execute(query, list(params)).fetchall()
    finally:
        con.close()


def _by_file(home: Path, modality="image") -> dict[str, tuple[str, str | None]]:
    return {Path(u).name + ("" if s != "rejected" else "#" + k): (s, r) for k, u, s, r in _sql(
        home, "SELECT key, source_uri, status, reason FROM samples WHERE modality = ?", [modality])}


def test_a_refresh_with_the_wrong_modality_retires_nothing_and_says_which(tmp_path, digits):
    src, home = _src(tmp_path, digits), tmp_path / "home"
    assert _refresh(src, home).curated == {"accepted": 4}
    wrong = _refresh(src, home, modality="speech", live=[])
    assert (wrong.superseded, wrong.removed) == (0, 0), wrong
    assert any("refresh with modality image (--modality image; a flow run: its modality parameter)" in n for n in wrong.notes), wrong.notes
    assert _sql(home, "SELECT status, count(*) FROM samples WHERE modality = 'image' GROUP BY 1") == [("accepted", 4)]
    assert _refresh(src, home).noop  # and the right one has nothing to do


def test_the_right_refresh_repairs_what_a_wrong_modality_refresh_superseded(tmp_path, digits):
    """Catalogs damaged before the fix: images superseded by speech unsupported_type rows."""
    src, home = _src(tmp_path, digits), tmp_path / "home"
    _refresh(src, home)
    _refresh(src, home, modality="speech", live=[])
    with Catalog.open(home / "catalog.duckdb") as cat:
        images = [k for (k,) in cat.sql("SELECT key FROM samples WHERE modality = 'image'")[1]]
        speech = cat.sql("SELECT key FROM samples WHERE modality = 'speech' LIMIT 1")[1][0][0]
        rid = cat.start_run("refresh", {})
        retire(cat, [Retirement(k, "superseded", f"superseded: by {speech}", speech) for k in images], rid)
        cat.finish_run(rid)
    fixed = _refresh(src, home)
    assert not fixed.noop and fixed.repaired == 4, fixed
    assert _sql(home, "SELECT status, count(*) FROM samples WHERE modality = 'image' GROUP BY 1") == [("accepted", 4)]
    assert _refresh(src, home).noop


def test_a_copy_added_under_an_earlier_name_is_the_duplicate_and_the_sample_keeps_its_file(tmp_path, digits):
    """The copy sorts before the sample's file: both were marked exact_duplicate and the sample was
    superseded, so no accepted row held that content (review of 2026-12-05)."""
    from flows.steps import curate_step

    src, home = _src(tmp_path, digits), tmp_path / "home"
    curate_step(str(src), str(home), CurateConfig(), backend="local")  # then a first refresh re-curates both twins
    _copy(digits, src, [2], as_stem="a_copy_of_2")
    _refresh(src, home)
    files = _by_file(home)
    assert files["digit_00002.png"] == ("accepted", None)
    (dup,) = [v for k, v in files.items() if k.startswith("a_copy_of_2.png")]
    assert dup[0] == "rejected" and dup[1].startswith("exact_duplicate: same content as ")
    assert _sql(home, "SELECT count(*) FROM samples WHERE status = 'superseded'") == [(0,)]


def test_a_copy_added_later_is_an_exact_duplicate_and_the_sample_keeps_its_file(tmp_path, digits):
    src, home = _src(tmp_path, digits), tmp_path / "home"
    _refresh(src, home)
    versions = _sql(home, "SELECT count(*) FROM manifests WHERE name = 'live'")
    _copy(digits, src, [2], as_stem="zz_copy_of_2")
    added = _refresh(src, home)
    assert added.curated == {"rejected": 1} and not added.shard_uris and not added.manifests, added
    files = _by_file(home)
    assert files["digit_00002.png"] == ("accepted", None)
    (dup,) = [v for k, v in files.items() if k.startswith("zz_copy_of_2.png")]
    assert dup[0] == "rejected" and dup[1].startswith("exact_duplicate: same content as ")
    assert _sql(home, "SELECT count(*) FROM manifests WHERE name = 'live'") == versions
    for suffix in (".png", ".txt"):
        (src / f"zz_copy_of_2{suffix}").unlink()
    gone = _refresh(src, home)
    assert gone.removed == 1, gone  # the duplicate row, not the sample
    files = _by_file(home)
    assert files["digit_00002.png"] == ("accepted", None)
    assert [v[0] for k, v in files.items() if k.startswith("zz_copy_of_2.png")] == ["removed"]


def test_deleting_the_original_moves_the_sample_to_its_surviving_copy(tmp_path, digits):
    src, home = _src(tmp_path, digits), tmp_path / "home"
    _copy(digits, src, [1], as_stem="digit_00001_dup")
    first = _refresh(src, home)
    assert first.curated == {"accepted": 4, "rejected": 1}, first
    key = _sql(home, "SELECT key FROM samples WHERE source_uri LIKE '%/digit_00001.png'")[0][0]
    for suffix in (".png", ".txt"):
        (src / f"digit_00001{suffix}").unlink()
    second = _refresh(src, home)
    assert _sql(home, "SELECT status, source_uri LIKE '%/digit_00001_dup.png' FROM samples WHERE key = ?", [key]) == [
        ("accepted", True)], second
    dup_rows = _sql(home, "SELECT status, reason FROM samples WHERE key <> ? AND source_uri LIKE '%/digit_00001_dup.png'", [key])
    assert dup_rows == [("superseded", f"superseded: by {key}")]  # the file is the sample's now: each file once


def test_an_empty_source_with_samples_is_refused_unless_allowed(tmp_path, digits):
    src, home = _src(tmp_path, digits), tmp_path / "home"
    _refresh(src, home)
    for p in src.iterdir():
        p.unlink()
    with pytest.raises(EmptySourceError, match="--allow-empty-source"):
        _refresh(src, home)
    assert _sql(home, "SELECT status, count(*) FROM samples GROUP BY 1") == [("accepted", 4)]
    assert _refresh(src, home, allow_empty_source=True).removed == 4


def test_a_live_manifest_that_selects_nothing_says_so(tmp_path, digits):
    src, home = _src(tmp_path, digits), tmp_path / "home"
    r = _refresh(src, home, live=[LiveManifest("vid-live", "modality = 'video'")])
    assert any(n.startswith("live manifest vid-live selects nothing yet") for n in r.notes), r.notes


def test_training_stays_due_when_nothing_announces_it(tmp_path, digits):
    """`lumina refresh` emits no event, so it must not move trained_version (consume_due=False)."""
    src, home = _src(tmp_path, digits, range(2)), tmp_path / "home"
    _refresh(src, home, consume_due=False)
    _copy(digits, src, [5])
    r = _refresh(src, home, consume_due=False)
    assert r.manifests[0]["train_due"] and any("lumina train --manifest live@v2" in n for n in r.notes), r
    assert _sql(home, "SELECT trained_version FROM live_manifests") == [(1,)]
    _copy(digits, src, [6])
    assert _refresh(src, home, consume_due=False).manifests[0]["added_since_training"] == 2  # still counted from v1
    _copy(digits, src, [7])
    _refresh(src, home)  # the flow's way: consumed (and announced)
    assert _sql(home, "SELECT trained_version FROM live_manifests") == [(4,)]


def test_a_refresh_reuses_the_options_the_source_was_curated_with(tmp_path, digits):
    from flows.steps import curate_step

    src, home = _src(tmp_path, digits), tmp_path / "home"
    curate_step(str(src), str(home), CurateConfig(options={"vae_factor": 1}, shard_size=7), backend="local")
    cfg, reused = reuse_curation(home, str(src), "image", {})
    assert cfg.options == {"vae_factor": 1} and cfg.shard_size == 7 and reused == {"shard_size": 7, "options.vae_factor": 1}
    cfg, reused = reuse_curation(home, str(src), "image", {"options": {"vae_factor": 8}})
    assert cfg.options == {"vae_factor": 8} and reused == {"shard_size": 7}
    assert reuse_curation(home, str(src), "speech", {})[1] == {}  # another modality's curation is not this one's


def test_a_nested_option_given_keeps_its_reused_neighbours(tmp_path, digits):
    """--set options.quality.min_sharpness=0.05 dropped the reused options.quality.min_contrast=0.3."""
    from flows.steps import curate_step

    src, home = _src(tmp_path, digits), tmp_path / "home"
    curate_step(str(src), str(home), CurateConfig(options={"vae_factor": 1, "quality": {"min_contrast": 0.3}}), backend="local")
    cfg, reused = reuse_curation(home, str(src), "image", {"options": {"quality": {"min_sharpness": 0.05}}})
    assert cfg.options == {"vae_factor": 1, "quality": {"min_sharpness": 0.05, "min_contrast": 0.3}}
    assert reused == {"options.vae_factor": 1, "options.quality.min_contrast": 0.3}


def test_a_second_refresh_of_a_source_waits_for_the_first(tmp_path, digits):
    import fcntl

    from contracts.layout import Workspace
    from flows.refresh import lock_path
    from preprocess.refresh import source_identity

    src, home = _src(tmp_path, digits, range(2)), tmp_path / "home"
    path = lock_path(Workspace.at(home), source_identity(str(src)))
    path.parent.mkdir(parents=True)
    said, done = [], []
    with open(path, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        t = threading.Thread(target=lambda: done.append(refresh_source(
            str(src), home, encode_cfg=ENCODE, backend="local", hooks=RefreshHooks(say=said.append))))
        t.start()
        t.join(3)
        assert t.is_alive() and not done and said and "waiting for it to finish" in said[0], said
        fcntl.flock(held, fcntl.LOCK_UN)
    t.join(120)
    assert done and done[0].curated == {"accepted": 2}


def test_lumina_refresh_says_what_it_did_and_refuses_an_empty_source(tmp_path, digits, capsys):
    """The first three runs call the console script's main() in this process (the same parsing and
    printing; a `lumina` process each cost its start-up again); the refusal runs as `lumina` itself,
    whose exit status and one-line stderr are the point."""
    from flows.cli import main

    lumina = str(Path(sys.executable).parent / "lumina")
    src, home = _src(tmp_path, digits, range(2)), tmp_path / "home"
    (tmp_path / "encode.yaml").write_text("text: phone\n")
    args = ["refresh", str(src), "--modality", "image", "--home", str(home), "--encode-config",
            str(tmp_path / "encode.yaml"), "--local"]
    code = main(args + ["--vae-factor", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    _copy(digits, src, [3])
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0 and "options.vae_factor=1" in err, err[-2000:]
    # the result as the other stage commands print theirs: the plan's counts one per line, not a dict
    assert "\nplan\n" in out and "\n  inputs_to_curate     1\n" in out and "{'" not in out, out
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0 and "nothing new or changed in the source" in out, out
    assert "last curated with" not in err  # nothing was curated with the reused options
    assert "reused_options" not in out, out  # nor listed as used
    for p in src.iterdir():
        p.unlink()
    r = subprocess.run([lumina, *args], capture_output=True, text=True, timeout=300)
    errors = [line for line in r.stderr.splitlines() if "error" in line]
    assert r.returncode == 2 and len(errors) == 1 and "--allow-empty-source" in errors[0], r.stderr


def test_retirements_keep_to_the_modality_and_ignore_unsupported_type_records(tmp_path, digits):
    """Each of the two rules alone keeps a wrong-modality refresh from retiring anything: the
    catalog query sees only the refresh's modality, and an unsupported_type record supersedes nothing."""
    from types import SimpleNamespace

    from catalog.source_index import current_samples_of
    from flows.refresh import _retirements

    src, home = _src(tmp_path, digits, range(2)), tmp_path / "home"
    _refresh(src, home)
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        uri = cat.sql("SELECT source_uri FROM samples ORDER BY 1 LIMIT 1")[1][0][0]
        assert current_samples_of(cat, [uri], "speech") == [] and len(current_samples_of(cat, [uri], "image")) == 1
        plan = SimpleNamespace(modality="image", recurated_uris={uri: [uri]}, removed_uris=[], moves=[], in_place={})
        refused = SimpleNamespace(keys_by_uri={uri: ["an-unsupported-type-row"]}, superseders={})
        assert _retirements(cat, plan, refused) == []


def test_declaring_a_live_manifest_again_keeps_its_training_rule_and_says_the_selection_changed(tmp_path, caplog):
    """`--live NAME=...` without --train-min-growth reset the rule to never-due, without a word."""
    from catalog.source_index import declare_live_manifest, live_manifests

    with Catalog.open(tmp_path / "catalog.duckdb") as cat:
        declare_live_manifest(cat, LiveManifest("live", "modality = 'image'", train_min_growth=5, train_options={"steps": 3}))
        with caplog.at_level("WARNING", logger="catalog.source_index"):
            declare_live_manifest(cat, LiveManifest("live", "modality = 'image' AND split = 'train'"))
        (kept,) = live_manifests(cat)
        assert (kept.where, kept.train_min_growth, kept.train_options) == ("modality = 'image' AND split = 'train'", 5, {"steps": 3})
        assert "live manifest live: its selection changes from" in caplog.text
        declare_live_manifest(cat, LiveManifest("live", kept.where, train_min_growth=9))  # a new rule replaces it
        assert live_manifests(cat)[0].train_min_growth == 9 and live_manifests(cat)[0].train_options == {}


def test_the_reused_options_are_said_only_when_something_was_curated_with_them():
    """Both the CLI and the Prefect flow say it through reused_options_note (the flow used to log
    the reused options before it knew whether anything would be curated)."""
    from flows.refresh import RefreshResult, reused_options_note

    result = RefreshResult("/src", "image", noop=True, reused_options={"vae_factor": 8, "options.size": 32})
    assert reused_options_note(result) is None
    result.curated = {"accepted": 2}
    assert reused_options_note(result) == ("curated with the options /src was last curated with: vae_factor=8, "
                                           "options.size=32 (give options to change them)")
    result.reused_options = {}
    assert reused_options_note(result) is None
