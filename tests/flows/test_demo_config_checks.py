"""`lumina demo --config/--set`: a wrong key ends in one line on stderr and exit 2 before Prefect
starts (it ended in Prefect tracebacks, rc 1, or a TypeError from the corpus writer), and every
shipped config passes the same check (configs/speech-smoke.yaml lacked its `modality: speech`)."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


@pytest.fixture
def no_flow(monkeypatch):
    """Neither Prefect's server nor the flow may start in these tests: the check comes first."""
    import flows.data_to_model
    import flows.local_prefect

    def refuse(**kw):
        raise AssertionError("Prefect started before the parameters were checked")

    monkeypatch.setattr(flows.local_prefect, "local_prefect_server", refuse)
    monkeypatch.setattr(flows.data_to_model, "data_to_model", refuse)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_passes_the_check(config, monkeypatch):
    from flows.data_to_model import check_params
    from preprocess.encode import EncodeConfig

    params = yaml.safe_load(config.read_text())
    if "/path/to/" in config.read_text():  # a model folder the user fills in: the check says so first
        with pytest.raises(FileNotFoundError, match="no such file or folder: /path/to/"):
            check_params(params)
        monkeypatch.setattr(EncodeConfig, "check_paths", lambda self, modality=None: None)  # the rest of the config is right
    check_params(params)


@pytest.mark.parametrize("yaml_text, args, expected", [
    ("bogus: 1\n", [], ["data_to_model: unknown option(s) bogus", "corpus_options", "train_steps"]),
    ("corpus_options: {bogus: 1}\n", [], ["corpus_options: unknown image corpus option(s) bogus", "num_shapes"]),
    ("corpus_options: {bogus: 1}\nmodality: video\n", [], ["unknown video corpus option(s) bogus", "num_clips"]),
    ("curate_options: {bogus: 1}\n", [], ["curate_options: unknown image curation option(s) bogus", "max_tokens"]),
    ("encode_options: {bogus: 1}\n", [], ["encode_options: unknown option(s) bogus", "latent"]),
    ("eval_options: {bogus: 1}\n", [], ["eval_options: unknown option(s) bogus", "cfg_scale"]),
    # the flow sets these two itself (the holdout manifest, the trained checkpoint): never silently overwritten
    ("eval_options: {checkpoint: /x}\n", [], ["eval_options: unknown option(s) checkpoint"]),
    ("eval_options: {manifest: other}\n", [], ["eval_options: unknown option(s) manifest"]),
    ("curate_options: {max_tokens: many}\n", [], ["curate_options.max_tokens"]),
    ("train_steps: 3\n", ["--set", "corpus_options.bogus=1"], ["corpus_options: unknown image corpus option(s) bogus"]),
    ("train_steps: 3\n", ["--set", "bogus=1"], ["data_to_model: unknown option(s) bogus"]),
    ("train_steps: ten\n", [], ["data_to_model.train_steps"]),
    # an option of another modality's says which modality the config is for
    ("corpus_options: {voices: 1}\n", [], ["corpus_options.voices is a speech corpus option, not an image one: set modality: speech"]),
    ("curate_options: {layout: channels}\n", [], ["curate_options.layout is a speech curation option"]),
    ("num_digits: 10\n", ["--modality", "video"], ["num_digits is an image corpus option, not a video one: set modality: image"]),
    # how a source is read (lumina curate's --caption-column ...): a CurateConfig field of those only, and for a source
    ("source: /x\nsource_options: {bogus: 1}\n", [], ["source_options: unknown option(s) bogus", "caption_column, caption_key"]),
    ("source: /x\nsource_options: {shard_size: 8}\n", [], ["source_options: unknown option(s) shard_size"]),
    ("source: /x\n", ["--set", "source_options.follow_symlinks=maybe"], ["source_options.follow_symlinks"]),
    ("train_steps: 3\n", ["--caption-column", "text"], ["source_options (caption_column) say how a source of yours is read"]),
])
def test_a_wrong_key_is_one_line_and_exit_2_before_prefect(tmp_path, capsys, no_flow, yaml_text, args, expected):
    from flows.cli import main

    config = tmp_path / "demo.yaml"
    config.write_text(yaml_text)
    assert main(["demo", "--home", str(tmp_path / "home"), "--config", str(config), *args]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lumina demo: error: "), captured.err
    for text in expected:
        assert text in lines[0]
    assert not (tmp_path / "home").exists()  # nothing was started or written


@pytest.fixture
def flow_seen(monkeypatch) -> dict:
    """The parameters the last `lumina demo` gave the flow (which does nothing, on no Prefect server)."""
    from prefect.logging.handlers import APILogWorker

    import flows.data_to_model
    import flows.local_prefect

    seen = {}

    class Done:
        def is_cancelled(self):
            return False

        def result(self):
            return {"ok": True}

    monkeypatch.setattr(flows.data_to_model, "data_to_model", lambda **kw: seen.clear() or seen.update(kw) or Done())
    monkeypatch.setattr(flows.local_prefect, "local_prefect_server", lambda **kw: nullcontext())
    monkeypatch.setattr(APILogWorker, "drain_all", classmethod(lambda cls, timeout=None: None))
    return seen


def test_the_speech_smoke_config_runs_speech_without_modality_flag(tmp_path, flow_seen):
    """What reaches the flow: the config's modality, --set merged into the config's mapping key by key."""
    from flows.cli import main

    seen = flow_seen
    config = REPO / "configs" / "speech-smoke.yaml"
    assert main(["demo", "--home", str(tmp_path), "--config", str(config), "--set", "corpus_options.voices=2", "--json"]) == 0
    assert seen["modality"] == "speech"
    assert seen["corpus_options"] == {"voices": 2, "rates": [130], "pitches": [35]}
    assert main(["demo", "--home", str(tmp_path), "--config", str(config), "--modality", "speech", "--json"]) == 0  # tests/speech/test_demo_e2e.py's
    assert seen["modality"] == "speech"


def test_a_deployment_run_with_a_wrong_option_fails_in_the_flow_before_any_work(tmp_path):
    """A deployment run binds its parameters without `lumina demo`'s check: the flow body checks them
    first, so a wrong option fails in one line and writes nothing (it failed inside a task)."""
    from contracts.config import ConfigError
    from flows.data_to_model import data_to_model

    with pytest.raises(ConfigError, match="corpus_options.voices is a speech corpus option"):
        data_to_model.fn(modality="image", home=str(tmp_path / "home"), corpus_options={"voices": 2})
    assert not (tmp_path / "home").exists()


def test_local_runs_the_demos_stages_without_ray_and_a_flag_beats_the_config(tmp_path, flow_seen, capsys):
    """`lumina demo --local`, as the stage commands and the Ray start line ("--local skips it") say;
    without the flag the config's backend (or the flow's default) stands."""
    from flows.cli import main

    seen = flow_seen
    home = ["--home", str(tmp_path), "--json"]
    assert main(["demo", *home, "--local"]) == 0 and seen["backend"] == "local"
    assert main(["demo", *home]) == 0 and "backend" not in seen  # the flow's default
    config = REPO / "configs" / "speech-smoke.yaml"  # backend: local
    assert main(["demo", *home, "--config", str(config)]) == 0 and seen["backend"] == "local"
    assert main(["demo", *home, "--config", str(config), "--backend", "ray"]) == 0 and seen["backend"] == "ray"
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["demo", *home, "--local", "--backend", "ray"])
    assert e.value.code == 2 and "--local and --backend ray contradict each other" in capsys.readouterr().err


def test_demo_source_flag_runs_the_flow_on_that_source(tmp_path, flow_seen):
    """`lumina demo --source DIR` ended in "unrecognized arguments" (only --set source=DIR worked)."""
    from flows.cli import main

    assert main(["demo", "--home", str(tmp_path), "--source", str(tmp_path / "photos"), "--json"]) == 0
    assert flow_seen["source"] == str(tmp_path / "photos")
    assert main(["demo", "--home", str(tmp_path), "--json"]) == 0
    assert "source" not in flow_seen  # the demo corpus, as before


def test_demo_takes_lumina_curates_flags_for_reading_its_source(tmp_path, flow_seen):
    """`lumina demo --source list.csv` of a listing whose caption column is `text`: the source's error
    said "set --caption-column", a flag lumina demo did not have (nor data_to_model a parameter)."""
    from flows.cli import main

    demo = ["demo", "--home", str(tmp_path), "--source", str(tmp_path / "list.csv"), "--json"]
    assert main([*demo, "--caption-column", "text", "--path-column", "file", "--follow-symlinks"]) == 0
    assert flow_seen["source_options"] == {"caption_column": "text", "path_column": "file", "follow_symlinks": True}
    assert main([*demo, "--set", "source_options.caption_column=text", "--set", "source_options.caption_key=alt"]) == 0
    assert flow_seen["source_options"] == {"caption_column": "text", "caption_key": "alt"}
    assert main([*demo, "--set", "source_options.caption_column=text", "--caption-column", "title", "--media-column", "none"]) == 0
    assert flow_seen["source_options"] == {"caption_column": "title", "media_column": None}  # the flag wins, key by key
    assert main(demo) == 0 and "source_options" not in flow_seen  # none given: as before
