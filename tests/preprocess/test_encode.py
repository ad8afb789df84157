import numpy as np
import pytest

from contracts.layout import Workspace
from contracts.records import Batch
from contracts.shards import iter_samples, npy_load
from preprocess.curate import CurateConfig, curate
from preprocess.encode import EncodeConfig, encode


@pytest.fixture(scope="module")
def minilm():
    from encoders.text import load_text_encoder

    return load_text_encoder("minilm")


def test_minilm_is_the_real_pretrained_encoder(minilm):
    t = minilm.encode(["a red circle", "a crimson round disc", "the stock market fell sharply today", ""])
    p = t.pooled
    sim = p @ p.T
    assert sim[0, 1] > sim[0, 2] + 0.2  # paraphrases are closer than unrelated text: real weights
    assert t.feats.shape == (4, minilm.max_length, 384) and t.feats.dtype == np.float16
    assert t.mask[3].sum() == 2  # the empty caption is [CLS][SEP], not zeros
    assert np.abs(t.feats[3][t.mask[3]]).sum() > 0
    assert minilm.fingerprint.startswith("all-MiniLM-L6-v2@")


def test_encode_writes_latents_features_and_is_resumable(small_corpus, tmp_path, minilm):
    curated = curate(str(small_corpus.root), tmp_path, CurateConfig(options={"resize": "square", "size": 32}), backend="local")
    result = encode(tmp_path, "image", EncodeConfig(), backend="local")
    batch = Batch.read(result.batch_paths[0])
    assert batch.shard.num_samples == Batch.read(curated.batch_paths[0]).shard.num_samples
    kinds = {(e.kind, e.encoder_fingerprint) for e in batch.encodings}
    assert kinds == {("latent", "identity@v1"), ("text", minilm.fingerprint)}
    key, fields = next(iter_samples(batch.shard.uri))
    latent = npy_load(fields["latent.npy"])
    assert latent.shape == (3, 1, 32, 32) and latent.min() >= -1 and latent.max() <= 1
    assert npy_load(fields["cap_mask.npy"]).dtype == bool
    again = encode(tmp_path, "image", EncodeConfig(), backend="local")
    assert Batch.read(again.batch_paths[0]).shard.sha256 == batch.shard.sha256
    ws = Workspace.at(tmp_path)
    null = np.load(ws.null_caption(minilm.fingerprint))
    assert null["cap_mask"].sum() == 2 and np.abs(null["cap_feats"]).sum() > 0
    assert ws.encoder_info("identity@v1").exists()


def test_the_text_encoder_defaults_to_phones_for_speech_and_minilm_for_the_rest():
    """lumina encode --modality speech used MiniLM, a sentence embedding, unless --text phone was given."""
    from preprocess.encode import EncodeConfig, default_text_encoder

    assert EncodeConfig().text is None
    assert default_text_encoder("speech") == "phone"
    assert [default_text_encoder(m) for m in ("image", "video", "multiview")] == ["minilm"] * 3
