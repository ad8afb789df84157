"""Captions longer than the text encoder's max tokens were cut without a word: two 48-token prompts
differing only at the end gave byte-identical samples. Sampling says so once, with the tokens
dropped; encoding says how many captions of each encode call were cut (one line, not one per
caption), for every text encoder."""

from __future__ import annotations

import logging

import pytest

LONG = "a handwritten digit three drawn with a thick stroke slanted to the right near the top left corner " * 2


def _said(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "encoders.text.features"]


@pytest.fixture(scope="module")
def tiny_encoders(tmp_path_factory):
    from encoders.text import load_text_encoder
    from tests.encoders.tiny_models import save_hf_clip_text, save_llama, save_open_clip

    root = tmp_path_factory.mktemp("truncated")
    return {"minilm": load_text_encoder("minilm", max_tokens=16),
            "clip": load_text_encoder("clip", save_hf_clip_text(root / "clip"), max_tokens=16),
            "open_clip": load_text_encoder("clip", save_open_clip(root / "open_clip"), max_tokens=16),
            "llama": load_text_encoder("llama", save_llama(root / "llama"), max_tokens=16),
            "phone": load_text_encoder("phone", max_tokens=16)}


@pytest.mark.parametrize("name", ["minilm", "clip", "open_clip", "llama", "phone"])
def test_an_encode_call_counts_its_cut_captions_in_one_line(tiny_encoders, name, caplog):
    enc = tiny_encoders[name]
    with caplog.at_level(logging.WARNING, logger="encoders.text.features"):
        out = enc.encode([LONG, "seven", LONG + " more", ""])
    said = _said(caplog)
    assert len(said) == 1, said
    assert said[0].startswith(f"2 of 4 captions are longer than the {enc.name} text encoder's 16 tokens: their ends are cut")
    assert out.dropped[1] == out.dropped[3] == 0 and out.dropped[0] > 0 and out.dropped[2] > out.dropped[0]
    assert f"up to {out.dropped[2]} tokens dropped" in said[0]
    # the count is what truncation cut: a caption as long as max_tokens is cut by nothing
    assert out.mask[0].all() and out.mask[0].sum() == enc.max_length
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="encoders.text.features"):
        enc.encode(["seven", ""])
        enc.encode([LONG], warn_truncated=False)
    assert not _said(caplog)


def test_minilm_counts_exactly_the_tokens_cut(tiny_encoders):
    enc = tiny_encoders["minilm"]
    full = len(enc.tokenizer(LONG)["input_ids"])
    assert enc.encode([LONG], warn_truncated=False).dropped.tolist() == [full - 16]


def test_sampling_says_once_how_many_tokens_of_the_prompt_are_dropped(tiny_checkpoint, tmp_path, caplog):
    from evaluation.sample import SampleConfig, sample_to_files

    with caplog.at_level(logging.WARNING):
        sample_to_files(SampleConfig(checkpoint=str(tiny_checkpoint), prompt=LONG, out=str(tmp_path / "s.png"), steps=1, num=3))
    said = [r.getMessage() for r in caplog.records if "tokens long" in r.getMessage() or r.name == "encoders.text.features"]
    from encoders.text import load_text_encoder

    full = len(load_text_encoder("minilm").tokenizer(LONG)["input_ids"])
    assert said == [f"--prompt (or --text) is {full} tokens long, more than the 32 the checkpoint's all-MiniLM-L6-v2 text "
                    f"encoder reads: its last {full - 32} tokens are dropped and change nothing in the sample (shorten it)"]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        sample_to_files(SampleConfig(checkpoint=str(tiny_checkpoint), prompt="digit 3", out=str(tmp_path / "t.png"), steps=1))
    assert not [r for r in caplog.records if "tokens" in r.getMessage()]


def test_one_token_too_many_is_said_in_the_singular(tiny_checkpoint, tmp_path, caplog):
    """"its last 1 tokens are dropped" (helper R's walk of the README)."""
    from encoders.text import load_text_encoder
    from evaluation.sample import SampleConfig, sample_to_files

    tokenizer = load_text_encoder("minilm").tokenizer
    words = 1
    while len(tokenizer(" ".join(["digit"] * words))["input_ids"]) < 33:  # 32 read, one more dropped
        words += 1
    prompt = " ".join(["digit"] * words)
    assert len(tokenizer(prompt)["input_ids"]) == 33
    with caplog.at_level(logging.WARNING):
        sample_to_files(SampleConfig(checkpoint=str(tiny_checkpoint), prompt=prompt, out=str(tmp_path / "s.png"), steps=1))
    said = [r.getMessage() for r in caplog.records if "tokens long" in r.getMessage()]
    assert len(said) == 1 and "is 33 tokens long, more than the 32" in said[0], said
    assert said[0].endswith("reads: its last token is dropped and changes nothing in the sample (shorten it)"), said
