"""Tiny models of the real architectures, random weights, saved with each library's own saver.

No downloads: the tests load these folders through the project's loaders, as a user loads real weights.
"""

from __future__ import annotations

from pathlib import Path

import torch

OPEN_CLIP_TINY = {  # open_clip's CLIP class, ViT image tower + text transformer, tiny widths
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 3},
}


def save_open_clip(folder: Path, seed: int = 0) -> Path:
    import open_clip
    from open_clip.push_to_hf_hub import save_for_hf

    torch.manual_seed(seed)
    model = open_clip.CLIP(**OPEN_CLIP_TINY).eval()
    model.visual.image_mean, model.visual.image_std = open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD  # as create_model sets them

    class _BundledBPE:  # open_clip's SimpleTokenizer ships in the wheel; nothing to save beside the model
        def save_pretrained(self, dest):
            pass

    save_for_hf(model, _BundledBPE(), OPEN_CLIP_TINY, str(folder), safe_serialization=True)
    return folder


def save_hf_clip_text(folder: Path, seed: int = 0, projection: bool = True) -> Path:
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    cfg = CLIPTextConfig(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
                         max_position_embeddings=77, projection_dim=16)
    (CLIPTextModelWithProjection if projection else CLIPTextModel)(cfg).eval().save_pretrained(folder)
    return folder


def save_hf_clip(folder: Path, seed: int = 0) -> Path:
    """A full CLIPModel (text + vision), as the HF CLIP folders are published."""
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(seed)
    cfg = CLIPConfig(
        text_config=dict(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=77),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=8),
        projection_dim=16,
    )
    CLIPModel(cfg).eval().save_pretrained(folder)
    return folder


def save_llama(folder: Path, seed: int = 0) -> Path:
    """A tiny LLaMA with a byte-level BPE tokenizer trained here (tokenizers), both saved with save_pretrained."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    corpus = ["a red circle on a blue square", "a handwritten digit seven", "the quick brown fox jumps over the lazy dog"] * 20
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    tok.save_pretrained(folder)
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=256, bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(cfg).eval().save_pretrained(folder)
    return folder
