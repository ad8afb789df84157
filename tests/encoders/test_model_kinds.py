"""Each text encoder takes only the kind of model it records, and loader failures keep what matters.

--text llama took any folder with layers and a hidden size: a CLIP text model opened a run and
failed 16 s later in transformers ("Sequence length must be less than max_position_embeddings"), a
MiniLM encoded and was recorded as llama@...; --text minilm took a CLIP and recorded it as
all-MiniLM-L6-v2; a CLIP without tokenizer files and a vocabulary under the bundled BPE's ended in
an IndexError; a VAE of another architecture said only "Error(s) in loading state_dict for
AutoencoderKL:"; every llama load printed a LOAD REPORT for its dropped lm_head; --max-tokens above a
CLIP's positions was cut without a word."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from encoders.clip import OPENAI_CLIP_BPE_SIZE, check_clip_path
from encoders.text.llama import check_llm_path
from encoders.text.minilm import check_minilm_path, minilm_path
from preprocess.encode import EncodeConfig

from .tiny_models import save_hf_clip, save_hf_clip_text, save_llama


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("kinds")
    save_hf_clip(root / "clip")
    save_hf_clip_text(root / "clip_text")
    save_llama(root / "llama")
    return root


def config_folder(folder: Path, config) -> Path:
    """What check_*_path reads (config, a tokenizer file, a weights file), no weights in it: the checks read none."""
    folder.mkdir(parents=True)
    config.to_json_file(folder / "config.json")
    (folder / "tokenizer_config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")
    return folder


def published_llm_configs():
    """The configs of the LLMs Lumina conditions on, as their folders ship them (architectures included)."""
    import transformers as tf

    return {name: getattr(tf, f"{name}Config")(architectures=[f"{name}ForCausalLM"]) for name in ("Llama", "Mistral", "Qwen2", "Gemma", "Gemma2")}


def test_llama_takes_the_decoder_llms_and_its_tiny_llama(models, tmp_path):
    check_llm_path(models / "llama")
    for name, config in published_llm_configs().items():
        check_llm_path(config_folder(tmp_path / name, config))


@pytest.mark.parametrize("kind", ["clip_text_model", "clip", "bert", "t5", "roberta"])
def test_llama_refuses_an_encoder_in_one_line(models, tmp_path, kind):
    import transformers as tf

    folders = {"clip_text_model": models / "clip_text", "clip": models / "clip", "bert": minilm_path(),
               "t5": lambda: config_folder(tmp_path / "t5", tf.T5Config(architectures=["T5EncoderModel"])),
               "roberta": lambda: config_folder(tmp_path / "roberta", tf.RobertaConfig(architectures=["RobertaModel"]))}
    folder = folders[kind]() if callable(folders[kind]) else folders[kind]
    with pytest.raises(ValueError, match=rf"^--text llama: {folder} holds a transformers '{kind}' model, not a causal language model") as e:
        check_llm_path(folder)
    assert "\n" not in str(e.value)


def test_lumina_encode_refuses_a_clip_as_llama_before_a_run_opens(models):
    with pytest.raises(ValueError, match="holds a transformers 'clip_text_model' model, not a causal language model"):
        EncodeConfig(text="llama", text_path=str(models / "clip_text")).check_paths()


def test_lumina_encode_refuses_a_clip_as_minilm_before_a_run_opens(models):
    with pytest.raises(ValueError, match="holds a transformers 'clip_text_model' model, not a BERT-family sentence encoder"):
        EncodeConfig(text="minilm", text_path=str(models / "clip_text")).check_paths()


def test_minilm_takes_the_packaged_model_and_refuses_a_clip(models):
    from encoders.text import load_text_encoder

    check_minilm_path(minilm_path())
    with pytest.raises(ValueError, match=r"^--text minilm: .* holds a transformers 'clip_text_model' model, not a BERT-family "
                                         r"sentence encoder .*for a CLIP use --text clip$"):
        load_text_encoder("minilm", models / "clip_text")


def without_tokenizer_files(src: Path, dest: Path, vocab_size: int) -> Path:
    """A CLIPTextModel folder as save_pretrained writes it (no tokenizer files) with another vocabulary."""
    from transformers import CLIPTextConfig, CLIPTextModel

    cfg = CLIPTextConfig.from_pretrained(src)
    cfg.vocab_size = vocab_size
    CLIPTextModel(cfg).save_pretrained(dest)
    return dest


def test_open_clip_bpe_size_is_the_one_checked():
    import open_clip

    assert len(open_clip.get_tokenizer("ViT-B-32").encoder) == OPENAI_CLIP_BPE_SIZE


def test_a_clip_whose_vocabulary_the_bundled_bpe_overruns_is_refused(models, tmp_path):
    from encoders.text import load_text_encoder

    small = without_tokenizer_files(models / "clip_text", tmp_path / "small", 1000)
    with pytest.raises(ValueError, match=rf"^the CLIP at {small} has no tokenizer files and a vocabulary of 1000 tokens, fewer than "
                                         rf"the {OPENAI_CLIP_BPE_SIZE} .*add its tokenizer files"):
        check_clip_path(small)
    with pytest.raises(ValueError, match="add its tokenizer files"):
        load_text_encoder("clip", small)  # before: IndexError in the embedding lookup
    check_clip_path(models / "clip_text")  # the full vocabulary, no tokenizer files: fine


def test_a_vae_of_another_architecture_says_what_differs_and_keeps_the_cause(tmp_path):
    from diffusers import AutoencoderKL

    from encoders.latent import load_latent_encoder

    AutoencoderKL(block_out_channels=[16, 16], down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                  norm_num_groups=4, layers_per_block=1).save_pretrained(tmp_path / "vae")
    weights = tmp_path / "vae" / "diffusion_pytorch_model.safetensors"
    with pytest.raises(ValueError) as e:
        load_latent_encoder("sd15", weights)  # the single file is read into the SD1.5 architecture
    line = str(e.value)
    assert "\n" not in line
    assert line.startswith(f"--vae at {weights} could not be loaded: RuntimeError: Error(s) in loading state_dict for AutoencoderKL: ")
    assert "size mismatches (first encoder.conv_in.weight: [16, 3, 3, 3] in the file, [128, 3, 3, 3] in the model)" in line
    assert " missing (first encoder." in line
    assert isinstance(e.value.__cause__, RuntimeError)  # LUMINA_TRACEBACK=1 prints the loader's full list


def test_state_dict_summary_counts_each_kind():
    from encoders.local_model import state_dict_summary

    message = ('Error(s) in loading state_dict for M:\n\tMissing key(s) in state_dict: "a.w", "b.w". \n'
               '\tUnexpected key(s) in state_dict: "c.w". \n\tsize mismatch for d.w: copying a param with shape '
               'torch.Size([2, 3]) from checkpoint, the shape in current model is torch.Size([4, 3]).')
    assert state_dict_summary(message) == (" 1 size mismatches (first d.w: [2, 3] in the file, [4, 3] in the model); "
                                           "2 missing (first a.w); 1 unexpected (first c.w): weights of another architecture")
    assert state_dict_summary("some other error") == ""


def test_llama_loads_without_a_report_for_its_dropped_head(models, caplog):
    from encoders.text import load_text_encoder

    with caplog.at_level(logging.WARNING, logger="transformers"):
        enc = load_text_encoder("llama", models / "llama")
    assert "LOAD REPORT" not in caplog.text
    assert enc.encode(["a red circle"]).feats.shape == (1, 128, 32)


def test_llama_still_reports_an_unexpected_weight_that_is_not_the_head(models, tmp_path, caplog):
    import shutil

    from safetensors.torch import load_file, save_file

    from encoders.text import load_text_encoder

    folder = tmp_path / "llama_extra"
    shutil.copytree(models / "llama", folder)
    weights = load_file(folder / "model.safetensors")
    weights["model.stray.weight"] = weights["lm_head.weight"][:1].clone()
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    with caplog.at_level(logging.WARNING, logger="transformers"):
        load_text_encoder("llama", folder)
    assert "LOAD REPORT" in caplog.text and "model.stray.weight" in caplog.text and "lm_head" not in caplog.text


def test_max_tokens_beyond_a_clips_positions_is_said(models, caplog):
    from encoders.text import load_text_encoder

    with caplog.at_level(logging.WARNING, logger="encoders.text.clip"):
        enc = load_text_encoder("clip", models / "clip_text", max_tokens=100)
    assert enc.max_length == 77
    assert caplog.text.count("--max-tokens 100: the CLIP at") == 1 and "has 77 positions" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="encoders.text.clip"):
        load_text_encoder("clip", models / "clip_text", max_tokens=50)
    assert not caplog.text
