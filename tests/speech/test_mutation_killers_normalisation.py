"""The dataset's log-mel statistics, pinned on tiny hand-made curated shards (bench/mutation/REPORT.md, module
speech_curation): which samples are measured (the training split, else all; samples without a log-mel skipped),
the element-weighted mean and std in float64, rounded, with a floor; the layout; and the file that freezes them
for the workspace."""

from __future__ import annotations

import json

import numpy as np
import pytest

from contracts.keys import split_of
from contracts.members import CAPTION, META
from contracts.shards import npy_bytes, write_tar
from preprocess.speech.normalisation import STATS_FILE, MelStatistics, _moments, frozen_statistics, measure

TRAIN = ["ffffffff" + "0" * 8, "fffffffe" + "0" * 8, "fffffffd" + "0" * 8, "fffffffc" + "0" * 8]  # 95, 94, 93, 92 % 100
HOLDOUT = ["00000000" + "0" * 8, "00000001" + "0" * 8]


def test_the_hand_made_keys_are_on_the_sides_they_are_named_for():
    assert {split_of(k) for k in TRAIN} == {"train"} and {split_of(k) for k in HOLDOUT} == {"holdout"}


def _shard(path, samples: list[tuple[str, np.ndarray | None, dict | bytes | None]]) -> str:
    """samples: (key, log-mel or None for no mel.npy, meta dict, raw meta bytes, or None for no meta member)."""
    members = []
    for key, mel, meta in samples:
        members.append((f"{key}.{CAPTION}", b"seven"))
        if meta is not None:
            members.append((f"{key}.{META}", meta if isinstance(meta, bytes) else json.dumps(meta).encode()))
        if mel is not None:
            members.append((f"{key}.mel.npy", npy_bytes(mel)))
    write_tar(path, members, stage="curated", num_samples=len(samples))
    return str(path)


CH = {"mel_layout": "channels"}


def test_the_training_split_is_measured_element_weighted_and_rounded(tmp_path):
    a = np.full((80, 3), 1.0, np.float32)
    b = np.full((80, 5), 3.0, np.float32)  # more frames: it weighs more than a in the mean
    far = np.full((80, 2), 100.0, np.float32)  # holdout: not measured
    uri = _shard(tmp_path / "s.tar", [(TRAIN[0], a, CH), (HOLDOUT[0], far, CH), (TRAIN[1], b, CH)])
    s = measure([uri])
    # 240 ones and 400 threes: mean 2.25, variance (240 * 1.25^2 + 400 * 0.75^2) / 640 = 0.9375
    assert s == MelStatistics(2.25, round(0.9375 ** 0.5, 4), 2, 8, "train", "channels")
    assert s.std == 0.9682


def test_without_a_training_sample_every_sample_is_measured(tmp_path):
    uri = _shard(tmp_path / "s.tar", [(HOLDOUT[0], np.full((80, 4), 2.0, np.float32), CH),
                                      (HOLDOUT[1], np.full((80, 4), 4.0, np.float32), CH)])
    assert measure([uri]) == MelStatistics(3.0, 1.0, 2, 8, "all", "channels")


def test_samples_without_a_log_mel_are_skipped_layout_and_all(tmp_path):
    # first in its shard (reading goes on past it) and in another layout (it is no mixing)
    uri = _shard(tmp_path / "s.tar", [(TRAIN[2], None, {"mel_layout": "image"}),
                                      (TRAIN[0], np.full((80, 2), 1.0, np.float32), CH)])
    assert measure([uri]) == MelStatistics(1.0, 1e-4, 1, 2, "train", "channels")  # constant: the std's floor


def test_the_layout_is_read_from_the_meta_and_defaults_to_channels(tmp_path):
    mel = np.arange(160, dtype=np.float32).reshape(1, 160)  # the image layout: one row of bins x frames
    image = _shard(tmp_path / "image.tar", [(TRAIN[0], mel, {"mel_layout": "image"})])
    assert measure([image]).layout == "image"
    none = _shard(tmp_path / "none.tar", [(TRAIN[0], mel, None), (TRAIN[1], mel, b""), (TRAIN[2], mel, {"n_phones": 3})])
    assert measure([none]).layout == "channels"  # no meta, an empty one, one without the key: shards before layouts


def test_shards_mixing_layouts_are_refused_and_one_layout_in_many_shards_is_not(tmp_path):
    one = _shard(tmp_path / "one.tar", [(TRAIN[0], np.ones((80, 2), np.float32), CH)])
    two = _shard(tmp_path / "two.tar", [(TRAIN[1], np.ones((80, 2), np.float32), CH)])
    other = _shard(tmp_path / "other.tar", [(TRAIN[2], np.ones((80, 2), np.float32), {"mel_layout": "image"})])
    assert measure([one, two]).clips == 2
    with pytest.raises(ValueError, match=r"mix mel layouts \['channels', 'image'\]"):
        measure([one, other])


def test_nothing_to_measure_is_an_error(tmp_path):
    uri = _shard(tmp_path / "s.tar", [(TRAIN[0], None, CH)])
    with pytest.raises(ValueError, match=r"^no mel.npy in 1 curated speech shards"):
        measure([uri])


def test_the_moments_are_summed_in_float64():
    # float32 sums drop the ones next to 2^24 (its float32 neighbours are 2 apart): a float32 sum of each is 13 low
    m = np.ones((80, 3), np.float32)
    m[0, 0] = 2.0 ** 24
    exact = m.astype(np.float64)
    mean, std, n = _moments([m, m])
    assert (mean, n) == (exact.mean(), 480)
    assert std == pytest.approx(exact.std(), rel=1e-12)  # float32 squares: 1.2e-7 off


def test_the_mean_and_std_are_rounded_to_four_decimals(tmp_path):
    rng = np.random.default_rng(2)
    mels = [rng.normal(-5, 2, (80, 7)).astype(np.float32) for _ in range(3)]
    uri = _shard(tmp_path / "s.tar", [(k, m, CH) for k, m in zip(TRAIN, mels)])
    x = np.concatenate([m.ravel() for m in mels]).astype(np.float64)
    assert (x.mean(), x.std()) == (pytest.approx(-5.1047074), pytest.approx(2.0106342))  # digits past the 4th
    s = measure([uri])
    assert (s.mean, s.std) == (-5.1047, 2.0106)


def test_the_latent_options_undo_the_statistics_in_the_layout_s_channels():
    s = MelStatistics(-5.0, 2.0, 3, 21, "train", "channels")
    assert s.latent_options() == {"channels": 80, "shift": -5.0, "scale": 0.5}
    assert MelStatistics(-5.0, 4.0, 3, 21, "train", "image").latent_options() == {"channels": 1, "shift": -5.0, "scale": 0.25}


def test_the_statistics_are_measured_once_and_read_back_after(tmp_path):
    uri = _shard(tmp_path / "s.tar", [(TRAIN[0], np.full((80, 4), 2.0, np.float32), CH),
                                      (TRAIN[1], np.full((80, 4), 4.0, np.float32), CH)])
    encoded = tmp_path / "encoded" / "speech"  # neither folder is there yet
    first = frozen_statistics(encoded, [uri])
    assert first == MelStatistics(3.0, 1.0, 2, 8, "train", "channels")
    assert [p.name for p in encoded.iterdir()] == [STATS_FILE]  # no temporary file left beside it
    assert json.loads((encoded / STATS_FILE).read_text()) == {"mean": 3.0, "std": 1.0, "clips": 2, "frames": 8,
                                                              "split": "train", "layout": "channels"}
    # a later encoding, with other shards or none: the first numbers
    assert frozen_statistics(encoded, []) == first
    assert frozen_statistics(str(encoded), [uri]) == first


def test_a_workspace_whose_encoded_folder_exists_gets_its_statistics_written(tmp_path):
    uri = _shard(tmp_path / "s.tar", [(TRAIN[0], np.full((80, 4), 2.0, np.float32), CH)])
    encoded = tmp_path / "encoded"
    encoded.mkdir()
    assert frozen_statistics(encoded, [uri]).mean == 2.0
    assert (encoded / STATS_FILE).exists()
