"""Review of cb40ad6: --text minilm on a user's BERT folder cuts and pads captions at their end, as
--text clip and llama do. A tokenizer_config.json saying "truncation_side": "left" kept a long
caption's last tokens ([CLS] d e f [SEP] of "red circle a b c d e f"), "padding_side": "left" put
a short one's mask at the end."""

from __future__ import annotations

import json
from pathlib import Path


def _bert_folder(folder: Path) -> Path:
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)).save_pretrained(folder)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "red", "circle", "a", "b", "c", "d", "e", "f"]
    (folder / "vocab.txt").write_text("\n".join(words + [f"w{i}" for i in range(40 - len(words))]) + "\n")
    BertTokenizerFast(str(folder / "vocab.txt")).save_pretrained(folder)
    config = folder / "tokenizer_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "truncation_side": "left", "padding_side": "left"}))
    return folder


def test_a_user_bert_whose_tokenizer_says_left_keeps_a_caption_s_start_and_a_prefix_mask(tmp_path):
    from encoders.text import load_text_encoder

    enc = load_text_encoder("minilm", _bert_folder(tmp_path / "bert"), max_tokens=5)
    ids = enc.tokenizer(["red circle a b c d e f"], padding="max_length", truncation=True, max_length=5)["input_ids"][0]
    assert enc.tokenizer.convert_ids_to_tokens(ids) == ["[CLS]", "red", "circle", "a", "[SEP]"]
    assert enc.encode(["red"], warn_truncated=False).mask[0].tolist() == [True, True, True, False, False]
