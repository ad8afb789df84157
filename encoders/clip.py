"""One loader for CLIP, shared by the CLIP text encoder and the CLIP image scorers.

``load_clip(path)`` accepts, all local:
  - an open_clip folder: ``open_clip_config.json`` + weights (open_clip's own hub layout, as
    ``open_clip.push_to_hf_hub.save_for_hf`` writes it);
  - an open_clip checkpoint file with its architecture: ``"ViT-L-14:/models/clip.pt"``;
  - a Hugging Face folder: ``CLIPModel`` (text + vision), ``CLIPTextModelWithProjection`` or
    ``CLIPTextModel`` (text only). Without tokenizer files in it, open_clip's bundled BPE is used:
    the same byte-level BPE and vocabulary as OpenAI CLIP (start 49406, end 49407).

Token features: layer -1 is the last hidden state after the final LayerNorm (Hugging Face's
``last_hidden_state``, SD1.5's choice); any other layer is that block's raw output (-2 is SDXL's
penultimate layer). pooled = the projected end-of-text embedding (``text_embeds``), or the
unprojected one where the checkpoint has no projection.
"""

from __future__ import annotations

import functools
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

# torch is imported where the model runs, not here: the path checks (check_clip_path) are what
# lumina curate/refresh --clip and encode --text clip run before any work, and took 2 s of CPU
# importing it


def split_arch_spec(path: str) -> tuple[str | None, Path]:
    """"ViT-L-14:/models/clip.pt" -> ("ViT-L-14", Path("/models/clip.pt")); a plain path -> (None, path)."""
    head, sep, tail = str(path).partition(":")
    if sep and not Path(path).exists() and Path(tail).is_file():
        return head, Path(tail)
    return None, Path(path)


CLIP_MODEL_TYPES = ("clip", "clip_text_model")
OPENAI_CLIP_BPE_SIZE = 49408  # tokens in open_clip's bundled BPE (OpenAI CLIP's), used where a folder has no tokenizer
HF_TOKENIZER_FILES = ("tokenizer_config.json", "vocab.json")


def _text_vocab_size(config: dict) -> int | None:
    text = config.get("text_config", config) if config.get("model_type") == "clip" else config
    return text.get("vocab_size")


def _has_tokenizer_files(folder: Path) -> bool:
    return any((folder / name).exists() for name in HF_TOKENIZER_FILES)


def tokenizer_folder(p: Path) -> Path | None:
    """Where a Hugging Face CLIP folder's tokenizer is: in it, or, for a diffusers pipeline's
    text_encoder/ (text_encoder_2/) whose vocabulary is not the bundled BPE's, in the tokenizer/
    (tokenizer_2/) beside it, where Stable Diffusion keeps it. None: open_clip's bundled BPE is used.
    A text encoder of another vocabulary (a textual inversion's added tokens, a smaller one) was
    refused for having no tokenizer files, or its added tokens lost; one of the BPE's 49,408 tokens
    (SD1.5's, SDXL's) keeps the bundled BPE, the same ids, and the fingerprint its encodings have."""
    if _has_tokenizer_files(p):
        return p
    beside = p.parent / p.name.replace("text_encoder", "tokenizer")
    if not (p.name.startswith("text_encoder") and (p.parent / "model_index.json").is_file() and _has_tokenizer_files(beside)):
        return None
    try:
        vocab = _text_vocab_size(json.loads((p / "config.json").read_text()))
    except (OSError, ValueError):
        return None
    return beside if vocab is not None and int(vocab) != OPENAI_CLIP_BPE_SIZE else None


def check_bundled_bpe_fits(p: Path, config: dict) -> None:
    """Without tokenizer files the bundled BPE's ids (up to 49407) must fit the model's embedding table:
    a smaller vocabulary ended in an IndexError deep in the forward pass."""
    if tokenizer_folder(p) is not None:
        return
    vocab = _text_vocab_size(config)
    if vocab is not None and int(vocab) < OPENAI_CLIP_BPE_SIZE:
        raise ValueError(f"the CLIP at {p} has no tokenizer files and a vocabulary of {vocab} tokens, fewer than the "
                         f"{OPENAI_CLIP_BPE_SIZE} of the bundled OpenAI CLIP BPE used in their place: add its tokenizer "
                         f"files ({', '.join(HF_TOKENIZER_FILES)}, ... as save_pretrained writes them)")


def check_clip_path(path: str | Path | None, need_vision: bool = False) -> None:
    """Cheap checks of a CLIP location, no weights read: one-line errors for what Clip() would fail on."""
    arch, p = split_arch_spec(str(path))
    if arch is not None or (p / "open_clip_config.json").exists():
        return  # open_clip's CLIP classes all hold an image tower
    from encoders.local_model import folder_config, kind_of, pipeline_hint, require_weights

    if not p.exists():  # "expected ... or ARCH:FILE" read as a wrong form where the form was right and the file is not there
        head, sep, tail = str(path).partition(":")
        what = f"{tail} (the FILE of ARCH:FILE {head})" if sep and head and "/" not in head else str(path)
        raise FileNotFoundError(f"no CLIP at {path}: no such file or folder: {what}")
    if not (p / "config.json").exists():
        raise FileNotFoundError(f"no CLIP at {path}: expected open_clip_config.json, a Hugging Face config.json, or ARCH:FILE"
                                f"{pipeline_hint(p)}")

    config = folder_config(p, "CLIP")
    model_type = config.get("model_type")
    if model_type not in CLIP_MODEL_TYPES:  # transformers would load it into a random CLIP, with a printed report
        raise ValueError(f"{path} holds {kind_of(config)}, not a CLIP (Hugging Face CLIPModel or CLIPTextModel, "
                         "or an open_clip folder)")
    if need_vision and model_type != "clip":
        raise ValueError(f"the CLIP at {path} is a {model_type!r} with no image tower: image scores need a full CLIP (text + vision)")
    require_weights(p, "CLIP")
    check_bundled_bpe_fits(p, config)


# a Hugging Face fast tokenizer called from two threads at once can raise "Already borrowed" (see
# encoders/text/minilm.py), and the open_clip text path hooks a shared module: both are one call at a time
# (encoders/threads.py runs text encoders in several threads)
_TOKENIZE, _OPEN_CLIP_TEXT = threading.Lock(), threading.Lock()


def _inference_mode(method):
    """@torch.inference_mode(), with torch imported at the first call."""

    @functools.wraps(method)
    def run(*args, **kwargs):
        import torch

        with torch.inference_mode():
            return method(*args, **kwargs)

    return run


class _OneAtATime:
    """A tokenizer called under _TOKENIZE."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, *args, **kwargs):
        with _TOKENIZE:
            return self.tokenizer(*args, **kwargs)


class Clip:
    """A loaded CLIP: tokenise, text tokens at a layer + pooled, image embeddings."""

    def __init__(self, path: str | Path, device: str = "cpu"):
        self.path, self.device = str(path), device
        self.eot_id: int | None = None  # the end-of-text id, where the tokenizer names it
        self.tokenizer_path: Path | None = None  # a Hugging Face tokenizer's folder (tokenizer_folder), if any
        from encoders.local_model import loading

        check_clip_path(path)
        arch, p = split_arch_spec(str(path))
        with loading("CLIP", path):
            if arch is not None or (p / "open_clip_config.json").exists():
                self._load_open_clip(arch, p)
            else:
                self._load_hf(p)
        self.tokenizer = _OneAtATime(self.tokenizer)

    # ---- loading -------------------------------------------------------------------------------
    def _load_open_clip(self, arch: str | None, p: Path) -> None:
        import open_clip

        name = arch or f"local-dir:{p}"
        model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=str(p) if arch else None, device=self.device)
        self.kind, self.model, self.preprocess = "open_clip", model.eval().requires_grad_(False), preprocess
        self.tokenizer = open_clip.get_tokenizer(name)
        self.eot_id = getattr(self.tokenizer, "eot_token_id", None)
        text = getattr(model, "text", model)  # CustomTextCLIP keeps its text tower in .text
        self._blocks, self._final_norm = text.transformer.resblocks, text.ln_final
        self.context_length = int(text.positional_embedding.shape[0])
        self.width = int(text.ln_final.normalized_shape[0])
        self.has_vision = getattr(model, "visual", None) is not None
        self.config = json.loads((p / "open_clip_config.json").read_text()) if arch is None else {"arch": arch}

    def _load_hf(self, p: Path) -> None:
        import torch
        import transformers as tf

        from encoders.local_model import every_weight_loaded, weights_variant

        variant = weights_variant(p)  # a pipeline's text_encoder/ downloaded as model.fp16.safetensors alone
        # fp32 on a CPU: transformers 5 loads in the config's dtype, and SDXL's text encoders say float16 (slow
        # and less precise on a CPU); on a GPU as the config says, as before
        dtype = {"dtype": torch.float32} if self.device == "cpu" else {}
        config = json.loads((p / "config.json").read_text())
        self.config, arch = config, (config.get("architectures") or [""])[0]
        if config.get("model_type") == "clip":
            model = every_weight_loaded(tf.CLIPModel.from_pretrained(p, local_files_only=True, variant=variant, output_loading_info=True, **dtype))
            text = model.text_model
            self._projection = model.text_projection
            self.has_vision = True
        else:
            cls = tf.CLIPTextModelWithProjection if arch == "CLIPTextModelWithProjection" else tf.CLIPTextModel
            model = text = every_weight_loaded(cls.from_pretrained(p, local_files_only=True, variant=variant, output_loading_info=True, **dtype))
            self._projection, self.has_vision = None, False
        self.kind, self.model, self._text = "hf", model.to(self.device).eval().requires_grad_(False), text
        tcfg = text.config
        self.context_length, self.width = int(tcfg.max_position_embeddings), int(tcfg.hidden_size)
        self.tokenizer = self._hf_tokenizer(p)

    def _hf_tokenizer(self, p: Path):
        self.tokenizer_path = tokenizer_folder(p)
        if self.tokenizer_path is not None:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(self.tokenizer_path, local_files_only=True)
            # the mask runs from the start to the end of text, and the end is what max_tokens cuts: right, whatever the config says
            tok.padding_side = tok.truncation_side = "right"
            self.eot_id = tok.eos_token_id
            return lambda texts, context_length: tok(texts, padding="max_length", truncation=True, max_length=context_length, return_tensors="pt")["input_ids"]
        import open_clip

        tok = open_clip.get_tokenizer("ViT-B-32")  # the bundled OpenAI CLIP BPE (no download)
        self.eot_id = getattr(tok, "eot_token_id", None)
        return tok

    # ---- text ----------------------------------------------------------------------------------
    def tokenize(self, texts: list[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
        """ids [B, context_length] (truncated to max_tokens, end-of-text kept) and mask [B, max_tokens]."""
        import torch

        ids = self.tokenizer(list(texts), context_length=max_tokens)
        ids = torch.nn.functional.pad(ids, (0, self.context_length - ids.shape[1]))  # the model's causal mask wants its full length
        mask = torch.arange(max_tokens)[None] <= self.end_of_text(ids)[:, None]
        return ids, mask

    def end_of_text(self, ids: torch.Tensor) -> torch.Tensor:
        """[B] the position of each row's first end-of-text token: by its id where the tokenizer names
        it. The largest id (CLIP's BPE) was taken for it: a token added to the tokenizer (a textual
        inversion's "<cat-toy>", id 49408) ended the mask there, and the words after it were masked out."""
        if self.eot_id is None:
            return ids.argmax(-1)
        return (ids == self.eot_id).int().argmax(-1)

    @_inference_mode
    def text(self, texts: list[str], layer: int, max_tokens: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(tokens [B, max_tokens, width], mask [B, max_tokens], pooled [B, E])."""
        ids, mask = self.tokenize(texts, max_tokens)
        ids = ids.to(self.device)
        if self.kind == "hf":
            return self._hf_text(ids, layer, max_tokens, mask)
        captured: dict[str, torch.Tensor] = {}
        module = self._final_norm if layer == -1 else self._blocks[layer]
        with _OPEN_CLIP_TEXT:  # the hook would see another thread's forward too
            handle = module.register_forward_hook(lambda m, i, o: captured.__setitem__("x", o[0] if isinstance(o, tuple) else o))
            try:
                pooled = self.model.encode_text(ids)
            finally:
                handle.remove()
        x = captured["x"]
        if x.shape[0] != ids.shape[0]:  # a sequence-first transformer
            x = x.transpose(0, 1)
        return x[:, :max_tokens].float().cpu(), mask, pooled.float().cpu()

    def _hf_text(self, ids, layer, max_tokens, mask):
        out = self._text(input_ids=ids, output_hidden_states=True)
        hidden = out.last_hidden_state if layer == -1 else out.hidden_states[layer]
        if getattr(out, "text_embeds", None) is not None:  # CLIPTextModelWithProjection
            pooled = out.text_embeds
        elif self._projection is not None:  # CLIPModel: project the end-of-text state ourselves
            pooled = self._projection(out.pooler_output)
        else:  # CLIPTextModel has no projection
            pooled = out.pooler_output
        return hidden[:, :max_tokens].float().cpu(), mask, pooled.float().cpu()

    @property
    def num_layers(self) -> int:
        return len(self._blocks) if self.kind == "open_clip" else int(self._text.config.num_hidden_layers)

    # ---- images --------------------------------------------------------------------------------
    @_inference_mode
    def image_embeddings(self, images: list[np.ndarray]) -> np.ndarray:
        """[H, W, 3] uint8 each -> [B, E] float32, L2-normalised."""
        import torch
        from PIL import Image

        if not self.has_vision:
            raise ValueError(f"the CLIP at {self.path} has no image tower")
        pil = [Image.fromarray(np.asarray(im, dtype=np.uint8)) for im in images]
        if self.kind == "open_clip":
            x = torch.stack([self.preprocess(im) for im in pil]).to(self.device)
            emb = self.model.encode_image(x)
        else:
            emb = self.model.get_image_features(pixel_values=self._hf_pixels(pil).to(self.device))
            emb = getattr(emb, "pooler_output", emb)
        return torch.nn.functional.normalize(emb.float(), dim=-1).cpu().numpy()

    def _hf_pixels(self, pil) -> torch.Tensor:
        import torch

        size = int(self.model.config.vision_config.image_size)
        mean = torch.tensor([0.48145466, 0.4578275, 0.40821073])[:, None, None]  # CLIP's normalisation
        std = torch.tensor([0.26862954, 0.26130258, 0.27577711])[:, None, None]
        out = []
        for im in pil:
            w, h = im.size
            s = size / min(w, h)
            im = im.convert("RGB").resize((max(size, round(w * s)), max(size, round(h * s))), resample=3)  # bicubic
            left, top = (im.size[0] - size) // 2, (im.size[1] - size) // 2
            im = im.crop((left, top, left + size, top + size))
            out.append((torch.from_numpy(np.asarray(im, np.float32) / 255.0).permute(2, 0, 1) - mean) / std)
        return torch.stack(out)

    @_inference_mode
    def text_embeddings(self, texts: list[str]) -> np.ndarray:
        """Projected text embeddings [B, E], L2-normalised: the space image_embeddings live in."""
        import torch

        _, _, pooled = self.text(texts, -1, self.context_length)
        return torch.nn.functional.normalize(pooled, dim=-1).numpy()
