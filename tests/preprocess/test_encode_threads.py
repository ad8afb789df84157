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


class _SlowLatent:
    """Wraps a latent encoder: each sample takes ``per_sample`` seconds more; counts the samples encoded."""

    def __init__(self, enc, per_sample: float):
        self.enc, self.per_sample, self.samples = enc, per_sample, 0
        self.thread_safe = True

    def __getattr__(self, name):
        return getattr(self.enc, name)

    def encode(self, x):
        time.sleep(self.per_sample)
        self.samples += 1
        return self.enc.encode(x)


def test_ctrl_c_stops_the_running_encoder_batches_at_their_next_sample(curated_home, tmp_path):
    """Ctrl-C during encode used to wait for every running batch (64 samples on one thread each: minutes)
    to end; now each ends at its next sample. Batches of 8 samples of 0.5 s, SIGINT 0.5 s in: the first
    batch (run alone, measured) ended 3.5 s after it, now at most one sample (0.5 s) after (2 s allowed:
    a loaded machine)."""
    import os
    import signal

    from preprocess.encode import EncodeConfig, EncodeStage, curated_shards

    home = tmp_path / "home"
    shutil.copytree(curated_home, home)
    stage = EncodeStage("image", str(home), EncodeConfig(batch_size=8, text="minilm"))
    stage.setup()
    stage.latent_encoder = slow = _SlowLatent(stage.latent_encoder, 0.5)
    shard = curated_shards(home, "image")[0]
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # two batches at once after the first
    old_handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    sent = []
    timer = threading.Timer(0.5, lambda: sent.append(time.monotonic()) or os.kill(os.getpid(), signal.SIGINT))
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            stage.encode_shard(shard)
        stopped = time.monotonic() - sent[0]
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, old_handler)
        torch.set_num_threads(before)
    assert stopped < 2.0, f"the running batch ended {stopped:.2f} s after Ctrl-C"
    assert slow.samples <= 3  # 1 in 0.5 s, and the one running (of 8 in the batch)
    assert [t.name for t in threading.enumerate() if t.name.startswith("encode")] == []  # no pool thread left behind


def test_an_error_in_one_batch_stops_the_running_others_at_their_next_step():
    from encoders.threads import check_stop, one_thread_map

    steps = []

    def batch(i):
        if i == 1:
            time.sleep(0.2)
            raise ValueError("bad sample")
        for _ in range(40):  # 4 s unless stopped
            check_stop()
            time.sleep(0.05)
            steps.append(i)

    t0 = time.monotonic()
    with pytest.raises(ValueError, match="bad sample"):  # the error, not the Stopped of the batch it ended
        one_thread_map(batch, range(4), workers=2)
    assert time.monotonic() - t0 < 1.5
    assert set(steps) == {0} and len(steps) < 20


def test_check_stop_is_a_no_op_outside_a_map():
    from encoders.threads import check_stop

    check_stop()
