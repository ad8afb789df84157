"""A modality is its own packages plus registry lines: the generic `lumina sample` and the curate
hint take what a modality declares (its flags, aliases, sampling hook, whether loose files are its
inputs) without an edit of their own. A fake modality, "depth", registered by monkeypatching the
registries, shows it."""

from __future__ import annotations

import json
import shutil
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class DepthSampleOptions:
    near: float | None = None  # the nearest depth to render


@pytest.fixture
def depth(monkeypatch):
    """Register "depth" in SAMPLE_WRITERS and SAMPLE_HOOKS, as its evaluation/depth/ package would:
    its hook and writer record what they are given."""
    from evaluation import sample

    seen: dict = {}

    def prepare(cfg, ckpt, shape, options):
        seen.update(options=options, frames=cfg.frames)
        return shape, {}

    def save(decoded, out, prompts):
        seen["prompts"] = prompts
        out.write_bytes(b"depth")
        return [out]

    module = types.ModuleType("fake_depth_sampling")
    module.OUT_SUFFIXES = (".npy",)
    module.save = save
    module.SAMPLING = sample.ModalitySampling(prepare=prepare, options=DepthSampleOptions, aliases={"--planes": "frames"},
                                              writer_takes_prompts=True)
    module.NOT_A_HOOK = object()
    monkeypatch.setitem(sys.modules, "fake_depth_sampling", module)
    monkeypatch.setitem(sample.SAMPLE_WRITERS, "depth", "fake_depth_sampling:save")
    monkeypatch.setitem(sample.SAMPLE_HOOKS, "depth", "fake_depth_sampling:SAMPLING")
    return seen


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint) -> Path:
    return tiny_checkpoint


def _as_modality(checkpoint: Path, modality: str, to: Path) -> Path:
    ckpt = Path(shutil.copytree(checkpoint, to / modality))
    info = json.loads((ckpt / "training.json").read_text())
    (ckpt / "training.json").write_text(json.dumps({**info, "modality": modality}))
    return ckpt


def test_lumina_sample_offers_a_new_modalitys_flags_and_aliases(depth, capsys):
    from flows.cli import main

    with pytest.raises(SystemExit):
        main(["sample", "--help"])
    shown = capsys.readouterr().out
    assert "depth checkpoints:" in shown and "--near NEAR" in shown and "--planes FRAMES" in shown


def test_lumina_sample_applies_a_new_modalitys_options_alias_hook_and_writer(depth, checkpoint, tmp_path, capsys):
    from evaluation.sample import spelled
    from flows.cli import main

    ckpt = _as_modality(checkpoint, "depth", tmp_path)
    out = tmp_path / "d"
    assert main(["sample", "--home", str(tmp_path), "--checkpoint", str(ckpt), "--prompt", "a 3", "--near", "0.5",
                 "--planes", "1", "--steps", "1", "--out", str(out)]) == 0
    assert depth == {"options": DepthSampleOptions(near=0.5), "frames": 1, "prompts": ["a 3"]}
    assert capsys.readouterr().out.strip() == str(out.with_suffix(".npy"))
    assert spelled("frames") == "--frames (or --views, --planes)"


def test_a_modalitys_flag_on_another_modalitys_checkpoint_names_the_modality_it_is_for(depth, checkpoint, tmp_path, capsys):
    from flows.cli import main

    ckpt = _as_modality(checkpoint, "depth", tmp_path)
    assert main(["sample", "--checkpoint", str(ckpt), "--prompt", "a 3", "--elevation", "10", "--steps", "1",
                 "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.strip() == "lumina sample: error: --elevation is for multiview checkpoints; this one is depth"
    assert main(["sample", "--checkpoint", str(checkpoint), "--prompt", "a 3", "--near", "1", "--steps", "1",
                 "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.strip() == "lumina sample: error: --near is for depth checkpoints; this one is image"


def test_options_from_set_reach_the_modality_and_flags_win(depth, checkpoint, tmp_path):
    from flows.cli import main

    ckpt = _as_modality(checkpoint, "depth", tmp_path)
    assert main(["sample", "--checkpoint", str(ckpt), "--prompt", "a 3", "--set", "options.near=2", "--steps", "1",
                 "--out", str(tmp_path / "x")]) == 0
    assert depth["options"] == DepthSampleOptions(near=2.0)
    assert main(["sample", "--checkpoint", str(ckpt), "--prompt", "a 3", "--set", "options.near=2", "--near", "3",
                 "--steps", "1", "--out", str(tmp_path / "x")]) == 0
    assert depth["options"] == DepthSampleOptions(near=3.0)


def test_a_sample_hook_entry_that_names_no_modality_sampling_is_one_line(depth, monkeypatch):
    from evaluation import sample

    monkeypatch.setitem(sample.SAMPLE_HOOKS, "depth", "fake_depth_sampling:NOT_A_HOOK")
    with pytest.raises(ValueError, match=r"^SAMPLE_HOOKS names fake_depth_sampling:NOT_A_HOOK for depth, which is no "
                                         r"ModalitySampling \(README, 'Adding a modality'\)$"):
        sample.sampling_of("depth")


def test_the_curate_hint_asks_the_plugins_whether_a_loose_file_is_an_input(tmp_path, caplog, monkeypatch):
    """Multi-view was left out of the hint by name; now a plugin says it (single_file_inputs), and
    one that says no is never suggested for loose files."""
    from flows.steps import curate_step
    from preprocess.curate import CurateConfig
    from preprocess.modality import get_plugin

    assert get_plugin("multiview").single_file_inputs is False
    monkeypatch.setattr(type(get_plugin("image")), "single_file_inputs", False)  # as if images came in folders too
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.jpg", "b.jpeg"):  # image and multi-view take these; video does not
        (src / name).write_bytes(b"not read: the suffix decides")
        (src / name).with_suffix(".txt").write_text("a caption")
    with caplog.at_level("WARNING", logger="flows.steps"):
        out = curate_step(str(src), str(tmp_path / "home"), CurateConfig(modality="speech"), backend="local")
    assert not out["counts"].get("accepted") and "curate with --modality" not in caplog.text, caplog.text


def test_lumina_curate_offers_the_options_a_plugin_declares_as_flags(monkeypatch, capsys):
    """--max-tokens, --vae-factor and --resize were written into the generic command with "image,
    video:" in their help; a plugin now declares its flags (curate_flags) and the help says whose."""
    import argparse

    from flows.cli_config import add_curation_args, curation_options
    from preprocess.modality import get_plugin

    monkeypatch.setattr(type(get_plugin("speech")), "curate_flags", {"language": "the language of the transcripts"})
    p = argparse.ArgumentParser()
    add_curation_args(p)
    a = p.parse_args(["--language", "de", "--max-tokens", "64"])
    assert curation_options(a, {"language": "fr", "size": 32}) == {"language": "de", "size": 32, "max_tokens": 64}
    helps = {action.dest: action.help for action in p._actions}
    assert helps["language"] == "speech: the language of the transcripts (default: en-us)"
    assert helps["max_tokens"].startswith("image, video: latent patch tokens") and helps["max_tokens"].endswith(
        "(default: image 1024, video 256)")
