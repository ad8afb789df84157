"""The CLIP caption mask ends at the end-of-text token found by its id. The largest id was taken
for it (true of CLIP's own BPE), so a token added to the tokenizer (a textual inversion's
"<cat-toy>", id 49408) ended the mask early: the words after it were masked out of the features
and the count of tokens cut off was wrong."""

from __future__ import annotations

import json

import pytest

from encoders.clip import Clip

from .tiny_models import save_hf_clip_text


@pytest.fixture(scope="module")
def clip_with_added_token(tmp_path_factory):
    from transformers import CLIPTokenizer

    folder = save_hf_clip_text(tmp_path_factory.mktemp("clip"))
    base = Clip(folder)  # no tokenizer files: the bundled OpenAI BPE, written out as HF's files
    renamed = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}  # HF's names for them
    vocab = {renamed.get(t, t): i for t, i in base.tokenizer.tokenizer.encoder.items()}  # SimpleTokenizer's token -> id
    merges = [" ".join(m) for m in base.tokenizer.tokenizer.bpe_ranks]
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    tok = CLIPTokenizer(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"))
    tok.add_tokens(["<cat-toy>"])
    tok.save_pretrained(folder)
    return Clip(folder), tok


def test_the_mask_ends_at_the_end_of_text_past_an_added_token(clip_with_added_token):
    clip, tok = clip_with_added_token
    caption = "a photo of <cat-toy> on a wooden table"
    ids = tok(caption)["input_ids"]
    assert tok.convert_tokens_to_ids("<cat-toy>") in ids and max(ids) > tok.eos_token_id  # the added token outranks it
    _, mask = clip.tokenize([caption], max_tokens=32)
    assert int(mask.sum()) == len(ids)  # start, every word, the added token, end of text


def test_the_tokens_cut_off_are_counted_from_the_end_of_text(clip_with_added_token):
    from encoders.text.clip import ClipTextEncoder

    clip, tok = clip_with_added_token
    enc = ClipTextEncoder.__new__(ClipTextEncoder)
    enc.clip, enc.max_length = clip, 6
    caption = "<cat-toy> one two three four five six"
    assert enc._tokens_beyond([caption]).tolist() == [len(tok(caption)["input_ids"]) - 6]
