"""CLIP (open_clip and Hugging Face) and LLaMA text encoders built from tiny configs, loaded from saved folders."""

import numpy as np
import pytest
import torch

from encoders.text import load_text_encoder
from tests.encoders.tiny_models import save_hf_clip, save_hf_clip_text, save_llama, save_open_clip

CAPTIONS = ["a red circle on a blue square", "a handwritten digit seven", ""]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("text-encoders")
    return {"open_clip": save_open_clip(root / "open_clip"), "hf_clip_text": save_hf_clip_text(root / "hf_clip_text"),
            "hf_clip": save_hf_clip(root / "hf_clip"), "llama": save_llama(root / "llama")}


def test_open_clip_text_features_and_projected_eos(folders):
    import open_clip

    enc = load_text_encoder("clip", str(folders["open_clip"]), layer=-1, max_tokens=16, device="cpu")
    t = enc.encode(CAPTIONS)
    assert enc.dim == 32 and t.feats.shape == (3, 16, 32) and t.feats.dtype == np.float16 and t.pooled.shape == (3, 16)
    ids = open_clip.get_tokenizer("ViT-B-32")(CAPTIONS)
    n = (ids != 0).sum(-1)  # start + words + end
    assert (t.mask.sum(-1) == n.numpy()).all() and t.mask[2].sum() == 2  # the empty caption: start and end tokens
    model = enc.clip.model
    np.testing.assert_allclose(t.pooled, model.encode_text(ids).detach().numpy(), rtol=1e-4, atol=1e-5)  # = open_clip's own
    penult = load_text_encoder("clip", str(folders["open_clip"]), layer=-2, max_tokens=16, device="cpu")
    tp = penult.encode(CAPTIONS)
    assert not np.allclose(tp.feats, t.feats) and np.allclose(tp.pooled, t.pooled)  # same pooled, other layer
    assert len({enc.fingerprint, penult.fingerprint}) == 2


@pytest.mark.parametrize("layer", [-1, -2])
def test_hf_clip_text_layer_and_text_embeds(folders, layer):
    from transformers import CLIPTextModelWithProjection

    enc = load_text_encoder("clip", str(folders["hf_clip_text"]), layer=layer, max_tokens=16, device="cpu")
    t = enc.encode(CAPTIONS)
    assert t.feats.shape == (3, 16, 32)
    ref_model = CLIPTextModelWithProjection.from_pretrained(folders["hf_clip_text"])
    import open_clip

    ids = open_clip.get_tokenizer("ViT-B-32")(CAPTIONS)  # no tokenizer files in the folder: the bundled OpenAI BPE
    with torch.no_grad():
        ref = ref_model(input_ids=ids, output_hidden_states=True)
    want = (ref.last_hidden_state if layer == -1 else ref.hidden_states[layer])[:, :16].numpy()
    m = t.mask
    np.testing.assert_allclose(t.feats[m].astype(np.float32), want[m], rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(t.pooled, ref.text_embeds.numpy(), rtol=1e-4, atol=1e-5)


def test_hf_clip_model_folder_gives_text_and_image_embeddings_in_one_space(folders):
    enc = load_text_encoder("clip", str(folders["hf_clip"]), device="cpu")
    t = enc.encode(CAPTIONS)
    assert t.feats.shape == (3, 77, 32) and t.pooled.shape == (3, 16)
    img = enc.clip.image_embeddings([np.zeros((40, 50, 3), np.uint8), np.full((32, 32, 3), 200, np.uint8)])
    assert img.shape == (2, 16) and np.allclose(np.linalg.norm(img, axis=1), 1, atol=1e-5)


def test_llama_hidden_layer_width_and_mask(folders):
    from transformers import AutoModel, AutoTokenizer

    enc = load_text_encoder("llama", str(folders["llama"]), layer=-2, max_tokens=24, device="cpu")
    t = enc.encode(CAPTIONS)
    assert enc.dim == 32 and t.feats.shape == (3, 24, 32) and t.feats.dtype == np.float16 and t.pooled.shape == (3, 32)
    tok = AutoTokenizer.from_pretrained(folders["llama"])
    ids = tok(CAPTIONS[0], return_tensors="pt")["input_ids"]
    assert t.mask[0].sum() == ids.shape[1] and t.mask[2].sum() == 1  # this tokenizer adds no BOS: "" still gets one token
    with torch.no_grad():
        ref = AutoModel.from_pretrained(folders["llama"])(input_ids=ids, output_hidden_states=True).hidden_states
    n = ids.shape[1]
    np.testing.assert_allclose(t.feats[0, :n].astype(np.float32), ref[-2][0].numpy(), rtol=2e-3, atol=2e-3)
    assert not np.allclose(ref[-2][0].numpy(), ref[-1][0].numpy(), atol=1e-2)  # the layer choice matters
    last = load_text_encoder("llama", str(folders["llama"]), layer=-1, max_tokens=24, device="cpu")
    np.testing.assert_allclose(last.encode(CAPTIONS[:1]).feats[0, :n].astype(np.float32), ref[-1][0].numpy(), rtol=2e-3, atol=2e-3)
    assert enc.max_length == 24 and load_text_encoder("llama", str(folders["llama"]), device="cpu").max_length == 128


def test_fingerprints_are_distinct_and_describe_reloads(folders):
    encs = [load_text_encoder("clip", str(folders["open_clip"]), device="cpu"), load_text_encoder("clip", str(folders["hf_clip_text"]), device="cpu"),
            load_text_encoder("llama", str(folders["llama"]), device="cpu"), load_text_encoder("llama", str(folders["llama"]), layer=-2, device="cpu"),
            load_text_encoder("phone"), load_text_encoder("minilm")]
    assert len({e.fingerprint for e in encs}) == len(encs)
    for e in encs:
        d = e.describe()
        again = load_text_encoder(d["name"], d["path"], d["layer"], d["max_tokens"], device="cpu")
        assert again.fingerprint == e.fingerprint == d["fingerprint"]


def test_named_layer_out_of_range_and_missing_path_fail_loudly(folders):
    with pytest.raises(ValueError, match="layer"):
        load_text_encoder("llama", str(folders["llama"]), layer=-9, device="cpu")
    with pytest.raises(ValueError, match="local path"):
        load_text_encoder("clip")


def test_open_clip_checkpoint_file_with_its_architecture(folders, tmp_path):
    """The ARCH:FILE form: an open_clip architecture name (here a registered tiny one) and a weights file."""
    import json

    import open_clip

    from tests.encoders.tiny_models import OPEN_CLIP_TINY

    (tmp_path / "TinyCLIP-test.json").write_text(json.dumps(OPEN_CLIP_TINY))
    open_clip.add_model_config(tmp_path / "TinyCLIP-test.json")
    ckpt = tmp_path / "tiny.pt"
    torch.save(load_text_encoder("clip", str(folders["open_clip"]), device="cpu").clip.model.state_dict(), ckpt)
    from_file = load_text_encoder("clip", f"TinyCLIP-test:{ckpt}", max_tokens=16, device="cpu")
    from_dir = load_text_encoder("clip", str(folders["open_clip"]), max_tokens=16, device="cpu")
    np.testing.assert_allclose(from_file.encode(CAPTIONS).pooled, from_dir.encode(CAPTIONS).pooled, rtol=1e-5, atol=1e-6)
    assert from_file.fingerprint.startswith("clip@") and from_file.describe()["path"] == f"TinyCLIP-test:{ckpt}"


def test_loading_a_text_encoder_draws_no_loading_bar(capfd):
    """transformers drew "Loading weights 0/103" for every encoder lumina sample loaded."""
    from transformers.utils import logging as hf_logging

    from encoders.text import load_text_encoder

    assert hf_logging.is_progress_bar_enabled()
    load_text_encoder("minilm")
    assert "Loading weights" not in capfd.readouterr().err
    assert hf_logging.is_progress_bar_enabled()  # put back as it was
