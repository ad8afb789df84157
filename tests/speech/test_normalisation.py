"""Per-dataset log-mel normalisation: the mean and std are measured when a dataset is encoded and
stored with the encoding (the identity latent encoder's shift and scale), never constants.

Two datasets that differ only in loudness (one 20 dB quieter) get different statistics, each equal
to its own measured mean and std; decoding with the stored description gives the original log-mel
back; a later encoding of part of the workspace (a refresh) keeps the first statistics.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from contracts.keys import sample_key, split_of
from contracts.layout import Workspace
from contracts.members import CAPTION, META, LATENT
from contracts.records import Batch
from contracts.shards import iter_samples, npy_bytes, npy_load, write_tar
from encoders.audio.mel import from_latent, log_mel
from encoders.latent import load_described
from preprocess.encode import EncodeConfig, encode
from preprocess.speech.espeak import synthesise

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "yes", "no")


@pytest.fixture(scope="module")
def audio() -> dict[str, np.ndarray]:
    return {w: synthesise(w, "en-us", 170, 50)[0].astype(np.float32) / 32768 for w in WORDS}


def _curated_dataset(home, audio: dict[str, np.ndarray], gain: float, tag: str) -> dict[str, np.ndarray]:
    """A curated speech shard as the speech plugin writes it (caption, meta, mel.npy): key -> log-mel."""
    mels, members = {}, []
    for word, y in audio.items():
        key = sample_key(tag, word)
        mels[key] = log_mel(y * gain)
        meta = {"mel_layout": "channels", "n_phones": 4, "mel_frames": mels[key].shape[1]}
        members += [(f"{key}.{CAPTION}", word.encode()), (f"{key}.{META}", json.dumps(meta).encode()),
                    (f"{key}.mel.npy", npy_bytes(mels[key]))]
    folder = Workspace.at(home).curated("speech")
    folder.mkdir(parents=True, exist_ok=True)
    write_tar(folder / f"curated-{tag}.tar", members, stage="curated", num_samples=len(audio))
    return mels


def _measured(mels: dict[str, np.ndarray]) -> tuple[float, float]:
    train = [m for k, m in mels.items() if split_of(k) == "train"] or list(mels.values())
    x = np.concatenate([m.ravel() for m in train]).astype(np.float64)
    return float(x.mean()), float(x.std())


def _encoded(home) -> tuple[dict, dict[str, np.ndarray], dict[str, dict]]:
    result = encode(home, "speech", EncodeConfig(text="phone"), backend="local")
    info = next(i for i in result.encoders if i["kind"] == "latent")
    latents, metas = {}, {}
    for path in result.batch_paths:
        for key, fields in iter_samples(Batch.read(path).shard.uri):
            latents[key], metas[key] = npy_load(fields[LATENT]), json.loads(fields[META])
    return info, latents, metas


def test_each_dataset_gets_its_own_stored_statistics_and_decoding_undoes_them(tmp_path, audio):
    loud = _curated_dataset(tmp_path / "loud", audio, 1.0, "loud")
    quiet = _curated_dataset(tmp_path / "quiet", audio, 0.1, "quiet")  # -20 dB: every log-mel bin ~2.3 lower
    (info_l, lat_l, meta_l), (info_q, lat_q, meta_q) = _encoded(tmp_path / "loud"), _encoded(tmp_path / "quiet")

    for info, mels in ((info_l, loud), (info_q, quiet)):
        mean, std = _measured(mels)
        assert info["shift"] == pytest.approx(mean, abs=1e-3) and 1 / info["scale"] == pytest.approx(std, abs=1e-3)
    assert info_l["shift"] - info_q["shift"] > 1.5  # the quieter dataset's mean is its own
    assert info_l["fingerprint"] != info_q["fingerprint"]  # latents of the two never share a manifest

    for info, lat, metas, mels in ((info_l, lat_l, meta_l, loud), (info_q, lat_q, meta_q, quiet)):
        decoder = load_described(info)  # what evaluation and `lumina sample` do with latent_encoder.json
        for key, z in lat.items():
            assert (metas[key]["latent_shift"], metas[key]["latent_scale"]) == (info["shift"], info["scale"])
            assert abs(float(z.astype(np.float32).mean())) < 3  # normalised, not raw log-mel (~ -5)
            np.testing.assert_allclose(from_latent(decoder.decode(z)), mels[key], atol=0.02)  # float16 storage


def test_later_encodings_of_the_workspace_keep_the_first_statistics(tmp_path, audio):
    words = list(audio)
    _curated_dataset(tmp_path, {w: audio[w] for w in words[:6]}, 1.0, "first")
    first, _, _ = _encoded(tmp_path)
    _curated_dataset(tmp_path, {w: audio[w] for w in words[6:]}, 0.3, "refresh")  # new and quieter takes
    again, latents, _ = _encoded(tmp_path)
    assert (again["shift"], again["scale"], again["fingerprint"]) == (first["shift"], first["scale"], first["fingerprint"])
    assert len(latents) == len(words)
