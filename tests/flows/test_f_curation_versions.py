"""An upgrade that changes curation (a caption normalisation or a filter version bumped) left a
workspace stale without a word (helper C, session s48): a refresh curates only new or changed inputs,
so after the bump a refresh of an unchanged source planned nothing and said nothing, and runs did not
record which versions they curated with. Now curate and refresh runs record the code's curation
versions (preprocess.modality.curation_versions), a refresh names what changed since the source's
samples were curated and the `lumina curate` that applies it, and data_to_model's curate cache key
holds the versions. Versions are bumped here by monkeypatching the constants."""

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


def test_the_versions_are_the_plugins_caption_normalisation_and_every_filter_module_it_uses(monkeypatch):
    import preprocess.video.dedup

    speech = curation_versions(get_plugin("speech"))
    assert speech["caption normalisation"] == get_plugin("speech").caption_version
    assert {"preprocess/curate.py", "preprocess/speech/plugin.py", "preprocess/speech/dedup.py"} <= set(speech)
    assert not [k for k in speech if "TRANSCRIPT_VERSION" in k]  # the caption normalisation's constant: said once
    assert "preprocess/filters/quality.py QUALITY_VERSION" in curation_versions(get_plugin("video"))  # shared filters too
    assert "caption normalisation" not in curation_versions(get_plugin("image"))  # it keeps captions as written
    monkeypatch.setattr(preprocess.video.dedup, "FILTER_VERSION", "99")
    assert curation_versions(get_plugin("video"))["preprocess/video/dedup.py"] == "99"


def test_a_refresh_after_a_filter_version_bump_says_so_until_a_curate_applies_it(tmp_path, digits, monkeypatch):
    """A refresh of an unchanged source after the bump was a silent no-op; one with a new input
    curated only that one. Both now say which version changed and the command; a `lumina curate`
    (recording the versions it ran with) ends the note."""
    import preprocess.image.dedup
    from flows.steps import curate_step

    src, home = _src(tmp_path, digits), tmp_path / "home"
    first = refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local")
    assert first.curated == {"accepted": 2} and not _stale(first.notes), first.notes  # the same code: nothing to say

    monkeypatch.setattr(preprocess.image.dedup, "FILTER_VERSION", "99")
    noop = refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local")
    assert noop.noop
    [note] = _stale(noop.notes)
    command = (f"lumina curate {src} --modality image --home {Workspace.at(home).home} --set options.vae_factor=1, then "
               f"lumina encode --modality image --home {Workspace.at(home).home}")
    assert note == (f"{src}'s samples {STALE}: preprocess/image/dedup.py 3 -> 99; a refresh curates only new or changed "
                    f"inputs, so the others keep what that code made; to curate the whole source with this code: {command}")

    _src(tmp_path, digits, [2])  # one new input: curated with the new version, the two before are not
    grown = refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local")
    assert grown.curated == {"accepted": 1} and _stale(grown.notes) == [note], grown.notes

    out = curate_step(str(src), str(home), CFG, backend="local")
    with Catalog.open(Workspace.at(home).catalog, read_only=True) as cat:
        [(params,)] = cat.sql("SELECT CAST(parameters AS VARCHAR) FROM runs WHERE run_id = $1", [out["run_id"]])[1]
    assert json.loads(params)["curation_versions"]["preprocess/image/dedup.py"] == "99"
    after = refresh_source(str(src), home, CFG, encode_cfg=ENCODE, backend="local")
    assert after.noop and not _stale(after.notes), after.notes


def test_a_caption_normalisation_bump_and_runs_that_recorded_no_versions(tmp_path):
    """What the line says for each history: a changed caption normalisation (C's case: 5 -> 6), two
    older values, and runs from before versions were recorded: a filter's change read from their
    verdicts where this code's version of it is known, "unknown" for the rest, not silence."""
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

    then = {"snr": ["1"], "silence": ["2"]}
    unknown = stale_curation_note(CurationHistory([now], 1, then), cfg, "/data/takes", ws)  # no verdict of this code
    assert unknown.startswith("/data/takes's samples were curated before runs recorded their curation versions, so "
                              f"whether with this code's (caption normalisation {caption}, "), unknown
    assert "is unknown; a refresh curates only new or changed inputs" in unknown
    read = stale_curation_note(CurationHistory([now], 1, then, {"snr": "2", "silence": "2"}), cfg, "/data/takes", ws)
    assert read.startswith(f"/data/takes's samples {STALE}: snr 1 -> 2 (its verdicts) (and by runs before versions were "
                           "recorded, with versions unknown for caption normalisation); a refresh"), read
    image = stale_curation_note(CurationHistory([], 1, {"min_size": ["1"]}, {"min_size": "1"}), CurateConfig(), "/data/im", ws)
    assert image is None  # no caption normalisation, every filter's verdicts as this code's
    partly = stale_curation_note(CurationHistory([], 1, {"min_size": ["1"], "aesthetic": ["1"]}, {"min_size": "1"}),
                                 CurateConfig(), "/data/im", ws)
    assert partly.startswith("/data/im's samples were curated before runs recorded their curation versions; their "
                             "verdicts agree with this code's where it is known, and for aesthetic whether with this "
                             "code's (preprocess/curate.py 1, "), partly
    assert stale_curation_note(CurationHistory([], 1), CurateConfig(), "/data/im", ws) is None  # registered no verdict


def test_the_versions_read_are_the_last_curates_and_the_refreshes_after_it(tmp_path):
    """A `lumina curate` curates the whole source: what ran before it no longer made any sample. The
    verdicts of runs that recorded no versions, and those of runs with this code's, give filter versions."""
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
        assert curation_history(cat, "/data/takes", "speech", now) == CurationHistory([{"v": "3"}, {"v": "4"}])
        run("curate", None, verdicts=[("snr", "1"), ("silence", "1"), ("silence", "2")])
        run("refresh", now, source="/data/other", verdicts=[("snr", "2"), ("silence", "2")])
        run("refresh", now, source="/data/other", modality="video", verdicts=[("snr", "9")])
        assert curation_history(cat, "/data/takes", "speech", now) == CurationHistory(
            [], 1, {"silence": ["1", "2"], "snr": ["1"]}, {"snr": "2", "silence": "2"})
        assert curation_history(cat, "/data/none", "speech", now) == CurationHistory()


def test_data_to_models_curate_cache_key_changes_with_a_version(tmp_path, digits, monkeypatch):
    """The key was (source content, modality, options, workspace): after an upgrade data_to_model
    reused the curation the older code made."""
    import preprocess.image.dedup

    src = _src(tmp_path, digits)
    params = {"source": str(src), "modality": "image", "options": {}, "home": str(tmp_path / "home")}
    before = curate_cache_key(None, params)
    assert before and curate_cache_key(None, params) == before
    monkeypatch.setattr(preprocess.image.dedup, "FILTER_VERSION", "99")
    assert curate_cache_key(None, params) != before
