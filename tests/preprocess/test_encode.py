import numpy as np
import pytest

from preprocess.curate import CurateConfig, analyse_file, deduplicate, discover, write_curated_shard
from preprocess.encode import encode_shard, write_null_caption
from encoders.latent import IdentityImageEncoder
from preprocess.shards import iter_samples, npy_load


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


def test_identity_latent_round_trips_pixels():
    enc = IdentityImageEncoder()
    img = np.random.default_rng(0).integers(0, 256, (32, 24, 3), dtype=np.uint8)
    z = enc.encode(img)
    assert z.shape == (3, 1, 32, 24) and z.min() >= -1 and z.max() <= 1
    assert np.array_equal(enc.decode(z)[0], img)


def test_encode_shard_writes_latents_features_and_is_resumable(small_corpus, tmp_path, minilm):
    cfg = CurateConfig()
    cands = deduplicate([analyse_file(p, cfg) for p in discover(small_corpus.root)], cfg)
    curated = write_curated_shard(cands, tmp_path / "curated", cfg)
    batch = encode_shard(curated.shard.uri, tmp_path / "encoded", minilm)
    assert batch.shard.num_samples == curated.shard.num_samples
    kinds = {(e.kind, e.encoder_fingerprint) for e in batch.encodings}
    assert kinds == {("latent", "identity-pixels@v1"), ("text", minilm.fingerprint)}
    key, fields = next(iter_samples(batch.shard.uri))
    assert npy_load(fields["latent.npy"]).shape == (3, 1, 32, 32)
    assert npy_load(fields["cap_mask.npy"]).dtype == bool
    again = encode_shard(curated.shard.uri, tmp_path / "encoded", minilm)
    assert again.shard.sha256 == batch.shard.sha256
    null = np.load(write_null_caption(minilm, tmp_path))
    assert null["cap_mask"].sum() == 2 and np.abs(null["cap_feats"]).sum() > 0
