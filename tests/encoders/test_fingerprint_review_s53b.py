"""Review of f0bfd44 (weights_fingerprint): a sharded model, as every real LLaMA is downloaded.

Its index (model.safetensors.index.json) was left out of the weights fingerprint but is in the
fingerprint, so the two differed for a plain sharded folder: a record made before weights_fingerprint
existed (its fingerprint "made from the read files alone") never matched, and `lumina sample` still
refused the checkpoint once an fp16 variant was downloaded beside the shards.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace


def _sharded(folder: Path, suffix: str = "", data: bytes = b"fp32") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shards = [f"model-0000{i}-of-00002{suffix}.safetensors" for i in (1, 2)]
    for i, name in enumerate(shards):
        (folder / name).write_bytes(data + bytes([i]))
    index = {"metadata": {}, "weight_map": {"a.weight": shards[0], "b.weight": shards[1]}}
    (folder / f"model.safetensors.index{suffix}.json").write_text(json.dumps(index))


def test_a_plain_sharded_folder_s_weights_fingerprint_is_its_fingerprint(tmp_path):
    from encoders.fingerprint import fingerprint, weights_fingerprint

    (tmp_path / "llm").mkdir()
    (tmp_path / "llm" / "config.json").write_text('{"model_type": "llama"}')
    _sharded(tmp_path / "llm")
    assert weights_fingerprint("llama", tmp_path / "llm", {"layer": -1}) == fingerprint("llama", tmp_path / "llm", {"layer": -1})


def test_an_old_record_of_a_sharded_folder_matches_after_a_variant_is_downloaded_beside_it(tmp_path):
    from encoders.fingerprint import fingerprint, same_encoder, weights_fingerprint

    folder = tmp_path / "llm"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "llama"}')
    _sharded(folder)
    recorded = {"fingerprint": fingerprint("llama", folder)}  # encoder.json before weights_fingerprint existed
    _sharded(folder, ".fp16", b"fp16")  # the hub snapshot grows: the fp16 shards and their index
    now = SimpleNamespace(fingerprint=fingerprint("llama", folder), weights_fingerprint=weights_fingerprint("llama", folder))
    assert now.fingerprint != recorded["fingerprint"]
    assert same_encoder(recorded, now)
    (folder / "model-00002-of-00002.safetensors").write_bytes(b"other weights")  # what the loader reads changed: refused
    now = SimpleNamespace(fingerprint=fingerprint("llama", folder), weights_fingerprint=weights_fingerprint("llama", folder))
    assert not same_encoder(recorded, now)


def test_a_record_made_beside_a_variant_matches_once_the_variant_is_deleted(tmp_path):
    from encoders.fingerprint import fingerprint, same_encoder, weights_fingerprint

    folder = tmp_path / "llm"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "llama"}')
    _sharded(folder)
    _sharded(folder, ".fp16", b"fp16")
    recorded = {"fingerprint": fingerprint("llama", folder), "weights_fingerprint": weights_fingerprint("llama", folder)}
    for f in folder.glob("*fp16*"):
        f.unlink()
    now = SimpleNamespace(fingerprint=fingerprint("llama", folder), weights_fingerprint=weights_fingerprint("llama", folder))
    assert same_encoder(recorded, now)
