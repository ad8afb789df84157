"""lumina sample's check of the checkpoint's text encoder goes by the weights it reads, as the latent
encoder's does since f0bfd44: a text-encoder folder that gained a variant file after encoding (a hub
snapshot grows) has another fingerprint but the same weights_fingerprint, and was refused
('llama@7e83... not llama@fdbc...'; helper U)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from evaluation.sample import refuse_other_text_encoder

RECORDED = {"name": "llama", "fingerprint": "llama@aaaa", "weights_fingerprint": "llama@bbbb", "path": "/m/llm"}


def test_the_same_weights_read_beside_a_new_file_pass():
    refuse_other_text_encoder(RECORDED, SimpleNamespace(fingerprint="llama@cccc", weights_fingerprint="llama@bbbb"), None)


@pytest.mark.parametrize("got", [SimpleNamespace(fingerprint="llama@cccc", weights_fingerprint="llama@dddd"),
                                 SimpleNamespace(fingerprint="llama@cccc")])
def test_other_weights_are_refused_naming_both(got):
    with pytest.raises(ValueError, match="is llama@cccc, not llama@aaaa"):
        refuse_other_text_encoder(RECORDED, got, None)


def test_a_recording_without_weights_fingerprint_goes_by_the_fingerprint():
    old = {k: v for k, v in RECORDED.items() if k != "weights_fingerprint"}
    refuse_other_text_encoder(old, SimpleNamespace(fingerprint="llama@aaaa", weights_fingerprint="llama@zzzz"), None)
    with pytest.raises(ValueError):
        refuse_other_text_encoder(old, SimpleNamespace(fingerprint="llama@cccc", weights_fingerprint="llama@cccc"), None)
