"""Encoded shards have the same bytes whatever torch's intra-op thread count: `lumina encode --local`
(every core) and Ray's actors (one thread each) wrote different bytes under the same content-addressed
name, because MKL splits a matmul's sums over the threads it has (MiniLM's 1536 -> 384 projection of
a batch of 3 captions differed in the last bits at 2 and at 4 threads)."""

from __future__ import annotations

import hashlib
import shutil
import threading
import time

import pytest
import torch


@pytest.fixture(scope="module")
def curated_home(tmp_path_factory):
    from preprocess.curate import CurateConfig, curate
    from preprocess.image.demo_corpus import write_demo_corpus

    root = tmp_path_factory.mktemp("threads")
    corpus = write_demo_corpus(root / "src", num_digits=6, num_shapes=3, seed=0)
    curate(corpus.root, root / "home", CurateConfig(options={"resize": "square", "size": 32}), backend="local")
    return root / "home"


@pytest.fixture(scope="module")
def tiny_vae(tmp_path_factory):
    from diffusers import AutoencoderKL

    from encoders.latent.vae import VAE_CONFIGS

    torch.manual_seed(0)  # SD1.5's layout at small widths, random weights, saved as a user's folder is
    vae = AutoencoderKL(**{**VAE_CONFIGS["sd15"], "block_out_channels": [32, 32, 32, 32], "layers_per_block": 1,
                           "norm_num_groups": 8}).eval()
    folder = tmp_path_factory.mktemp("vae")
    vae.save_pretrained(folder)
    return folder


def _encoded_bytes(curated_home, tmp_path, threads: int, cfg) -> dict[str, str]:
    """sha256 of every file encode writes (shards, batch files' shards, encoder.json, null caption),
    encoding a copy of the curated home with torch at ``threads`` intra-op threads."""
    from preprocess.encode import encode

    home = tmp_path / f"home-{threads}"
    shutil.copytree(curated_home, home)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        encode(home, "image", cfg, backend="local")
        assert torch.get_num_threads() == threads  # the caller's own count is left as it was
    finally:
        torch.set_num_threads(before)
    files = sorted(p for sub in ("encoded", "encoders") for p in (home / sub).rglob("*")
                   if p.is_file() and not p.name.endswith(".batch.json"))  # a batch file names its home
    assert any(p.suffix == ".tar" for p in files) and any(p.name == "null_caption.npz" for p in files)
    return {str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_encoded_bytes_do_not_depend_on_the_thread_count(curated_home, tiny_vae, tmp_path):
    """Batches of 3 captions (MiniLM, the demo's text encoder) and a VAE's moments, at 1, 2 and 4
    threads: before, 2 and 4 threads gave other cap_feats and pooled bytes than 1 (Ray's)."""
    from preprocess.encode import EncodeConfig

    cfg = EncodeConfig(latent="sd15", vae=str(tiny_vae), text="minilm", batch_size=3)
    one = _encoded_bytes(curated_home, tmp_path, 1, cfg)
    for threads in (2, 4):
        assert _encoded_bytes(curated_home, tmp_path, threads, cfg) == one, f"{threads} threads"


def test_one_thread_map_keeps_the_order_and_one_intra_op_thread_per_call():
    from encoders.threads import one_thread_map

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen = one_thread_map(lambda i: (i, torch.get_num_threads(), threading.current_thread() is threading.main_thread()),
                              range(7), workers=3)
        assert seen == [(i, 1, False) for i in range(7)]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_an_error_in_one_call_is_raised_and_the_calls_not_started_are_dropped():
    from encoders.threads import one_thread_map

    ran = []

    def call(i):
        if i == 0:
            raise ValueError("bad batch")
        time.sleep(0.05)
        ran.append(i)

    with pytest.raises(ValueError, match="bad batch"):
        one_thread_map(call, range(50), workers=2)
    assert len(ran) < 49


def test_an_encoder_that_is_not_thread_safe_is_called_one_at_a_time():
    from encoders.threads import Serialised, one_thread_map

    class Unsafe:  # the phone encoder (espeak-ng) is one; thread_safe is not set
        inside = most = 0

        def encode(self, x):
            self.inside += 1
            self.most = max(self.most, self.inside)
            time.sleep(0.02)
            self.inside -= 1
            return x

    class Safe(Unsafe):
        thread_safe = True

    for enc, most in ((Unsafe(), 1), (Safe(), 2)):
        calls = Serialised(enc)
        assert one_thread_map(lambda i: calls.call(enc.encode, i), range(6), workers=2) == list(range(6))
        assert enc.most == most
