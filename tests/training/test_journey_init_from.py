"""--init-from mistakes a new user makes on their own corpus (a walkthrough, 2026-12-06): the folder of
another model, and a model of another modality. Each is one line that says what the folder is."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import save_file

from training.trainer import TrainConfig, saved_model_config, train


def _refusal(tmp_path: Path, folder: Path) -> str:
    """train() up to its --init-from checks: the catalog is never reached (it is not there)."""
    cfg = TrainConfig(catalog=str(tmp_path / "no-catalog.duckdb"), manifest="m", out_dir=str(tmp_path / "run"),
                      init_from=str(folder), progress=False, tensorboard=False)
    with pytest.raises(ValueError) as e:
        train(cfg)
    return str(e.value)


def test_init_from_the_folder_of_another_model_says_what_it_is(tmp_path):
    """A diffusers VAE folder (the one given to lumina encode --vae) was "damaged checkpoint,
    .../model.safetensors: missing (pick another checkpoint of the run, e.g. the one before it)"; a
    transformers BERT folder failed with "unknown config keys: [...]" (23 keys, no folder named)."""
    vae = tmp_path / "vae"
    vae.mkdir()
    (vae / "config.json").write_text(json.dumps({"_class_name": "AutoencoderKL", "_diffusers_version": "0.35.1",
                                                 "block_out_channels": [8, 8], "latent_channels": 4}))
    save_file({"encoder.conv_in.weight": torch.zeros(8, 3, 3, 3)}, str(vae / "diffusion_pytorch_model.safetensors"))
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 16,
                                                  "num_hidden_layers": 1, "vocab_size": 100}))
    save_file({"embeddings.word_embeddings.weight": torch.zeros(100, 16)}, str(bert / "model.safetensors"))
    for folder, kind in ((vae, "an AutoencoderKL"), (bert, "a BertModel")):
        msg = _refusal(tmp_path, folder)
        assert msg == (f"--init-from {folder} is not a Flag-DiT checkpoint: its config.json is {kind}'s; give a "
                       "checkpoint-N folder of a lumina train run, or a Lumina-T2X release converted with lumina convert"), msg
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").glob("checkpoint-*"))


def test_a_flag_dit_folder_is_not_refused_as_another_model(tmp_path):
    """The check refuses only another model's config: a Flag-DiT folder goes on to the weights'
    check (here its missing model.safetensors)."""
    from modelzoo import FlagDiTConfig

    ckpt = tmp_path / "checkpoint-0000010"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(json.dumps({"model_type": "flag-dit", "format_version": 2,
                                                  **FlagDiTConfig(dim=32, n_layers=1, n_heads=2).to_dict()}))
    msg = _refusal(tmp_path, ckpt)
    assert "damaged checkpoint" in msg and "model.safetensors" in msg and "not a Flag-DiT" not in msg, msg


def test_a_model_of_another_modality_is_named_with_its_article(tmp_path):
    """'it is a image model ... start from a image checkpoint' read wrong; the refusal itself stays."""
    from modelzoo import FlagDiTConfig

    for theirs, ours, want in (("image", "speech", "it is an image model and this manifest holds speech samples"),
                               ("speech", "image", "it is a speech model and this manifest holds image samples")):
        ckpt = tmp_path / theirs
        ckpt.mkdir()
        (ckpt / "config.json").write_text(json.dumps({"model_type": "flag-dit", "format_version": 2,
                                                      **FlagDiTConfig(dim=32, n_layers=1, n_heads=2, in_channels=4).to_dict()}))
        (ckpt / "training.json").write_text(json.dumps({"modality": theirs}))
        cfg = TrainConfig(init_from=str(ckpt), modality=ours)
        first = SimpleNamespace(latent=torch.zeros(80, 1, 8, 8), cap_feats=torch.zeros(8, 384))
        with pytest.raises(ValueError) as e:
            saved_model_config(cfg, None, first, {})
        msg = str(e.value)
        assert want in msg and f"start from {'an' if ours == 'image' else 'a'} {ours} checkpoint, or without --init-from" in msg, msg


def test_resume_with_init_from_says_which_flag_to_drop():
    """The stop message says "continue with --resume"; a user who ran a stage with --init-from adds
    --resume to that command and was told only that the two exclude each other."""
    with pytest.raises(ValueError) as e:
        TrainConfig(resume=True, init_from="runs/a/checkpoint-0000300")
    msg = str(e.value)
    assert msg.startswith("--resume and --init-from exclude each other") and "\n" not in msg
    assert msg.endswith("leave out --init-from (an init_from: in the --config file: add --set init_from=null) to continue "
                        "the stopped run (a run begun with --init-from keeps training its own weights), or leave out "
                        "--resume (and any --out-dir of the stopped run) to start a new stage"), msg


def test_init_from_weights_of_other_encoders_is_warned(tiny_home, tmp_path, caplog):
    """A stage-1 checkpoint trained on one SD-style VAE's latents, --init-from into a manifest encoded
    with another VAE (both 4 channels) loaded without a word (a walkthrough: sd15@7302b2ba78745186
    then sd15@ba353f7db7a41795). Now a warning names both; the same encoders say nothing."""
    tiny = {"dim": 32, "n_layers": 1, "n_heads": 2, "patch_size": 4}
    base = dict(catalog=tiny_home.catalog, manifest=tiny_home.train_manifest, null_caption=tiny_home.null_caption,
                batch_size=8, log_every=1, progress=False, tensorboard=False)
    first = train(TrainConfig(out_dir=str(tmp_path / "a"), model_overrides=tiny, steps=1, **base))
    with caplog.at_level("WARNING", logger="training.trainer"):
        train(TrainConfig(out_dir=str(tmp_path / "b"), init_from=first.checkpoint, steps=1, **base))
    assert "trained on other encodings" not in caplog.text  # the same encoders
    info_path = Path(first.checkpoint) / "training.json"
    info = json.loads(info_path.read_text())
    ours = info["encoders"]["latent"]
    info_path.write_text(json.dumps({**info, "encoders": {**info["encoders"], "latent": "sd15@0123456789abcdef"}}))
    caplog.clear()
    with caplog.at_level("WARNING", logger="training.trainer"):
        train(TrainConfig(out_dir=str(tmp_path / "c"), init_from=first.checkpoint, steps=1, **base))
    said = [r.getMessage() for r in caplog.records if "trained on other encodings" in r.getMessage()]
    assert len(said) == 1 and f"(latent sd15@0123456789abcdef, here {ours})" in said[0], caplog.text
    assert f"than manifest {tiny_home.train_manifest}@v1" in said[0] and "\n" not in said[0]


def _flag_dit_folder(tmp_path: Path, name: str, **arch) -> Path:
    from modelzoo import get_config

    folder = tmp_path / name
    folder.mkdir()
    saved = get_config(arch.pop("model"), in_channels=4, cap_dim=384, **arch)
    (folder / "config.json").write_text(json.dumps({"model_type": "flag-dit", "format_version": 2, **saved.to_dict()}))
    return folder


def test_init_from_warns_only_when_the_flags_describe_another_model(tmp_path, caplog):
    """One YAML for every stage (model: flag-dit-s with small overrides) was warned about as
    "--model/--model-overrides (flag-dit-s) are not used" although it described the saved model: the
    preset was compared with the library default. A model the flags describe that differs is still
    warned about, now with both sides."""
    small = {"dim": 32, "n_layers": 1, "n_heads": 2}
    ckpt = _flag_dit_folder(tmp_path, "stage1", model="flag-dit-s", **small)
    first = SimpleNamespace(latent=torch.zeros(4, 1, 8, 8), cap_feats=torch.zeros(8, 384))
    cases = [(dict(model="flag-dit-s", model_overrides=small, given=("model", "model_overrides")), None),
             (dict(model="flag-dit-s", model_overrides=small), None),  # a library call: given unknown
             (dict(model="flag-dit-s", model_overrides={**small, "dim": 64}, given=("model", "model_overrides")),
              "(dim 64; the checkpoint's: dim 32) are not used"),
             (dict(model="flag-dit-tiny", given=("model",)),
              "(dim 64, n_layers 2, n_heads 4, multiple_of 32; the checkpoint's: dim 32, n_layers 1, n_heads 2, multiple_of 256)"),
             (dict(), None)]  # nothing asked: the checkpoint's model, without a word
    for kw, want in cases:
        caplog.clear()
        with caplog.at_level("WARNING", logger="training.trainer"):
            model_cfg = saved_model_config(TrainConfig(init_from=str(ckpt), **kw), None, first, {})
        said = [r.getMessage() for r in caplog.records if "are not used" in r.getMessage()]
        assert model_cfg.dim == 32 and model_cfg.n_layers == 1
        if want is None:
            assert said == [], (kw, said)
        else:
            assert len(said) == 1 and want in said[0], (kw, said)
