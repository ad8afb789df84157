"""An upgrade that changes curation (a caption normalisation or a filter version bumped) left a
workspace stale without a word (helper C, session s48): a refresh curates only new or changed inputs,
so after the bump a refresh of an unchanged source planned nothing and said nothing, and runs did not
record which versions they curated with. Now curate and refresh runs record the code's curation
versions (preprocess.modality.curation_versions), a refresh names what changed since the source's
samples were curated and the `lumina curate` that applies it, and data_to_model's curate cache key
holds the versions. Versions are bumped here by monkeypatching the plugins' declarations (helper G:
by filter name, as the verdicts name them)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from catalog import Catalog
from contracts.layout import Workspace
from flows.refresh import CurationHistory, curate_cache_key, curation_history, refresh_source, stale_curation_note
from preprocess.curate import CurateConfig
from preprocess.encode import EncodeConfig
from preprocess.modality import curation_versions, get_plugin

ENCODE = EncodeConfig(text="phone")  # identity latents, a text encoder with no weights
CFG = CurateConfig(options={"vae_factor": 1})
STALE = "were curated with other curation versions than this code's"


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    from preprocess.image.demo_corpus import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("stage"), num_digits=3, num_shapes=0).root / "digits"


def _src(tmp_path: Path, digits: Path, numbers=range(2)) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    for i in numbers:
        for suffix in (".png", ".txt"):
            shutil.copy(digits / f"digit_{i:05d}{suffix}", src / f"digit_{i:05d}{suffix}")
    return src


def _stale(notes: list[str]) -> list[str]:
    return [n for n in notes if "curated with other curation versions" in n or "is unknown" in n]


def test_the_versions_are_the_plugins_caption_normalisation_and_every_filter_it_declares(monkeypatch):
    """By the names the catalog's verdicts carry (helper G): the generic curation's filters, the
    plugin's own, its near-duplicate search's and the shared quality filters', each from the constant
    its verdicts are made with (tests/preprocess/test_g_declared_filters.py curates each modality and
    checks every verdict against them)."""
    import preprocess.curate
    import preprocess.filters.quality
    import preprocess.speech.dedup
    import preprocess.speech.plugin
    import preprocess.video.dedup

    speech = curation_versions(get_plugin("speech"))
    assert speech["caption normalisation"] == get_plugin("speech").caption_version
    assert {"caption_present": preprocess.curate.FILTER_VERSION, "snr": preprocess.speech.plugin.FILTER_VERSION,
            "audio_fingerprint_dedup": preprocess.speech.dedup.FILTER_VERSION}.items() <= speech.items()
    assert not [k for k in speech if "TRANSCRIPT_VERSION" in k]  # the caption normalisation's constant: said once
    video = curation_versions(get_plugin("video"))
    assert video["sharpness"] == preprocess.filters.quality.QUALITY_VERSION  # shared filters too
    assert "caption normalisation" not in curation_versions(get_plugin("image"))  # it keeps captions as written
    assert video["keyframe_dedup"] == preprocess.video.dedup.FILTER_VERSION
    monkeypatch.setitem(get_plugin("video").filter_versions, "keyframe_dedup", "99")
    assert curation_versions(get_plugin("video"))["keyframe_dedup"] == "99"


def test_a_refresh_after_a_filter_version_bump_says_so_until_a_curate_applies_it(tmp_path, digits, monkeypatch):
    """A refresh of an unchanged source after the bump was a silent no-op; one with a new input
    curated only that one. Both now say which version changed and the command; a `lumina curate`
    (recording the versions it ran with) ends the note."""
    from flows.steps import curate_step

    src, home = _src(tmp_path, digits), tmp_path / "home"
    first = refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local")
    assert first.curated == {"accepted": 2} and not _stale(first.notes), first.notes  # the same code: nothing to say

    monkeypatch.setitem(get_plugin("image").filter_versions, "phash_dedup", "99")
    noop = refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local")
    assert noop.noop
    [note] = _stale(noop.notes)
    command = (f"lumina curate {src} --modality image --home {Workspace.at(home).home} --set options.vae_factor=1, then "
               f"lumina encode --modality image --home {Workspace.at(home).home}")
    assert note == (f"{src}'s samples {STALE}: phash_dedup 3 -> 99; a refresh curates only new or changed "
                    f"inputs, so the others keep what that code made; to curate the whole source with this code: {command}")

    _src(tmp_path, digits, [2])  # one new input: curated with the new version, the two before are not
    grown = refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local")
    assert grown.curated == {"accepted": 1} and _stale(grown.notes) == [note], grown.notes

    out = curate_step(str(src), str(home), CFG, backend="local")
    with Catalog.open(Workspace.at(home).catalog, read_only=True) as cat:
        [(params,)] = cat.sql("SELECT CAST(parameters AS VARCHAR) FROM runs WHERE run_id = $1", [out["run_id"]])[1]
    assert json.loads(params)["curation_versions"]["phash_dedup"] == "99"
    after = refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local")
    assert after.noop and not _stale(after.notes), after.notes


def test_a_caption_normalisation_bump_and_runs_that_recorded_no_versions(tmp_path):
    """What the line says for each history: a changed caption normalisation (C's case: 5 -> 6), two
    older values, and runs from before versions were recorded: a filter's change read from their
    verdicts, in the words a recorded run's gets (helper G: both by filter name), and "unknown" for
    the caption normalisation no verdict carries, not silence."""
    ws, plugin = Workspace.at(tmp_path / "home"), get_plugin("speech")
    cfg = CurateConfig(modality="speech")
    now = curation_versions(plugin)
    caption = now["caption normalisation"]
    old = {**now, "caption normalisation": "5"}
    note = stale_curation_note(CurationHistory([old]), cfg, "/data/takes", ws)
    assert note.startswith(f"/data/takes's samples {STALE}: caption normalisation 5 -> {caption}; a refresh curates only "
                           "new or changed inputs"), note
    assert f"lumina curate /data/takes --modality speech --home {ws.home}" in note
    two = stale_curation_note(CurationHistory([old, {**old, "caption normalisation": "4"}, now]), cfg, "/data/takes", ws)
    assert f"caption normalisation 4/5 -> {caption};" in two, two
    assert stale_curation_note(CurationHistory([now, now]), cfg, "/data/takes", ws) is None
    assert stale_curation_note(CurationHistory(), cfg, "/data/takes", ws) is None  # never curated: nothing to say

    # runs before versions were recorded: their verdicts' filter versions against this code's, in the same words
    snr, silence = now["snr"], now["silence"]
    assert snr != "1"
    recorded = stale_curation_note(CurationHistory([{**now, "snr": "1"}]), cfg, "/data/takes", ws)
    assert recorded.startswith(f"/data/takes's samples {STALE}: snr 1 -> {snr}; a refresh"), recorded
    read = stale_curation_note(CurationHistory([now], 1, {"snr": ["1"], "silence": [silence]}), cfg, "/data/takes", ws)
    assert read.startswith(f"/data/takes's samples {STALE}: snr 1 -> {snr} (and by runs before versions were "
                           "recorded, with a caption normalisation unknown); a refresh"), read
    both = stale_curation_note(CurationHistory([{**now, "snr": "0"}], 1, {"snr": ["1", snr]}), cfg, "/data/takes", ws)
    assert f"{STALE}: snr 0/1 -> {snr} (and by runs" in both, both  # one line, whichever way each run's was known
    agree = stale_curation_note(CurationHistory([now], 1, {"snr": [snr], "silence": [silence]}), cfg, "/data/takes", ws)
    assert agree.startswith("/data/takes's samples were curated before runs recorded their curation versions: their "
                            "verdicts' filter versions are this code's, and whether their caption normalisation was this "
                            f"code's ({caption}) is unknown; a refresh curates only new or changed inputs"), agree
    image = stale_curation_note(CurationHistory([], 1, {"min_size": ["1"]}), CurateConfig(), "/data/im", ws)
    assert image is None  # no caption normalisation, every filter's verdicts as this code's
    # a filter the verdicts name that this code's does not run (renamed, removed); one they never name (most run on
    # some inputs only) says nothing
    partly = stale_curation_note(CurationHistory([], 1, {"min_size": ["1"], "aesthetic": ["0"], "old_filter": ["1"]}),
                                 CurateConfig(), "/data/im", ws)
    assert partly.startswith(f"/data/im's samples {STALE}: aesthetic 0 -> 1, old_filter 1 -> none; a refresh"), partly
    assert stale_curation_note(CurationHistory([], 1), CurateConfig(), "/data/im", ws) is None  # registered no verdict
    # recorded names this code does not know (the file names of the first form, session s48): said, not a crash
    files = stale_curation_note(CurationHistory([{"preprocess/image/dedup.py": "3", "phash_dedup": 3}]), CurateConfig(),
                                "/data/im", ws)
    assert f"{STALE}: aesthetic none -> 1, " in files and "preprocess/image/dedup.py 3 -> none" in files, files
    assert "phash_dedup" not in files, files  # 3 as a number is version "3"


def test_the_versions_read_are_the_last_curates_and_the_refreshes_after_it(tmp_path):
    """A `lumina curate` curates the whole source: what ran before it no longer made any sample. The
    verdicts of the source's runs that recorded no versions give their filter versions (by the names this
    code's versions have: helper G; those of other runs, with this code's versions, are no longer read)."""
    home = tmp_path / "home"
    now = {"v": "now"}
    with Catalog.open(Workspace.at(home).catalog) as cat:
        def run(flow, versions, source="/data/takes", modality="speech", status="completed", verdicts=()):
            params = {"source": source, "modality": modality, **({"curation_versions": versions} if versions else {})}
            run_id = cat.start_run(flow, params)
            for f, version in verdicts:
                cat.sql("INSERT INTO verdicts VALUES ('k', $1, $2, 0, 0, true, $3)", [f, version, run_id])
            cat.finish_run(run_id, status=status)

        run("refresh", {"v": "1"})
        run("curate", None, verdicts=[("snr", "0")])
        run("refresh", {"v": "2"})
        run("curate", {"v": "3"})
        run("refresh", {"v": "4"})
        run("refresh", {"v": "5"}, status="failed")
        run("refresh", {"v": "6"}, source="/data/other")
        run("refresh", {"v": "7"}, modality="video")
        assert curation_history(cat, "/data/takes", "speech") == CurationHistory([{"v": "3"}, {"v": "4"}])
        run("curate", None, verdicts=[("snr", "1"), ("silence", "1"), ("silence", "2")])
        run("refresh", now, source="/data/other", verdicts=[("snr", "2"), ("silence", "2")])
        run("refresh", now, source="/data/other", modality="video", verdicts=[("snr", "9")])
        # the verdicts of the source's own runs only, not those of others with this code's versions (by name now)
        assert curation_history(cat, "/data/takes", "speech") == CurationHistory([], 1, {"silence": ["1", "2"], "snr": ["1"]})
        assert curation_history(cat, "/data/none", "speech") == CurationHistory()
        run("refresh", ["garbled"], verdicts=[("snr", "3")])  # versions that are no name -> version map: as unrecorded
        assert curation_history(cat, "/data/takes", "speech") == CurationHistory([], 2, {"silence": ["1", "2"], "snr": ["1", "3"]})


def test_data_to_models_curate_cache_key_changes_with_a_version(tmp_path, digits, monkeypatch):
    """The key was (source content, modality, options, workspace): after an upgrade data_to_model
    reused the curation the older code made."""
    src = _src(tmp_path, digits)
    params = {"source": str(src), "modality": "image", "options": {}, "home": str(tmp_path / "home")}
    before = curate_cache_key(None, params)
    assert before and curate_cache_key(None, params) == before
    monkeypatch.setitem(get_plugin("image").filter_versions, "phash_dedup", "99")
    assert curate_cache_key(None, params) != before
