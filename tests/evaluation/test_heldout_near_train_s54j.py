"""lumina evaluate says when held-out samples are near copies of samples the checkpoint trained on
(curation's dedup, pHash within 10-12 bits, misses lossier copies: a JPEG at quality 30, a video at
CRF 40), and changes no figure: before, the held-out metrics flattered the model without a word."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest


def _signatures(catalog: str, manifest: str) -> dict[str, tuple[str, str]]:
    from catalog import Catalog

    with Catalog.open(catalog, read_only=True) as cat:
        _, rows = cat.sql("SELECT m.key, json_extract_string(s.meta, '$.phash'), json_extract_string(s.meta, '$.colour_signature') "
                          "FROM manifest_members m JOIN samples s USING (key) WHERE m.manifest = ? ORDER BY m.key", [manifest])
    return {k: (h, c) for k, h, c in rows}


def _set_meta(catalog: str, changes: dict[str, dict]) -> None:
    """Each key's stored meta fields set (a value None: removed), one statement for the keys given the
    same fields: a statement a key was ~40 ms apiece, 7 s for the ~180 training keys of the tiny catalog."""
    from catalog import Catalog

    keys_by_fields: dict[str, list[str]] = {}
    for key, fields in changes.items():
        keys_by_fields.setdefault(json.dumps(fields), []).append(key)
    with Catalog.open(catalog) as cat:
        for fields, keys in keys_by_fields.items():
            cat.sql("UPDATE samples SET meta = json_merge_patch(meta, ?) WHERE list_contains(?, key)", [fields, keys])


def _flipped(phash: str, bits: int) -> str:
    value = int(phash, 16)
    for b in random.Random(bits).sample(range(256), bits):
        value ^= 1 << b
    return f"{value:064x}"


def _apart(catalog: str) -> None:
    """Every sample's hash far from every other's (two MD5s of its key: ~128 bits apart): the demo's
    own shapes and digits may be near one another, and the tests plant what they look for."""
    from catalog import Catalog

    with Catalog.open(catalog) as cat:
        cat.sql("UPDATE samples SET meta = json_merge_patch(meta, json_object('phash', md5(key) || md5(key || '.')))")


@pytest.fixture
def planted(tiny_home, tmp_path):
    """A copy of the tiny catalog with every hash apart, and a checkpoint folder whose training.json
    names its training manifest: (catalog, checkpoint, train keys, held-out keys)."""
    from catalog import Catalog

    catalog = str(shutil.copy(tiny_home.catalog, tmp_path / "catalog.duckdb"))
    train, heldout = _signatures(catalog, tiny_home.train_manifest), _signatures(catalog, tiny_home.holdout_manifest)
    _apart(catalog)
    with Catalog.open(catalog, read_only=True) as cat:
        version = cat.manifest_header(tiny_home.train_manifest).version
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "training.json").write_text(json.dumps({"manifest": tiny_home.train_manifest, "manifest_version": version,
                                                    "train_config": {"catalog": catalog}}))
    return catalog, ckpt, sorted(train), sorted(heldout)


class _Evaluated:
    """The manifest evaluate holds (--max-heldout: its first members only)."""

    def __init__(self, name: str, keys: list[str]):
        self.name, self.version, self.members = name, 1, [type("Member", (), {"key": k}) for k in keys]


def _check(tiny_home, catalog, ckpt, heldout_keys):
    from evaluation.leakage import check_heldout_against_training

    return check_heldout_against_training(catalog, ckpt, _Evaluated(tiny_home.holdout_manifest, heldout_keys))


def test_a_heldout_copy_20_bits_from_a_training_sample_is_named_with_both_keys(tiny_home, planted):
    from evaluation.leakage import leakage_note

    catalog, ckpt, train, heldout = planted
    original = _signatures(catalog, tiny_home.train_manifest)[train[3]]
    _set_meta(catalog, {heldout[5]: {"phash": _flipped(original[0], 20), "colour_signature": original[1]}})
    result = _check(tiny_home, catalog, ckpt, heldout)
    assert (result.compared, result.not_compared, result.found) == (len(heldout), 0, 1)
    assert result.pairs[0][:3] == (heldout[5], train[3], 20)
    note = leakage_note(result)
    assert note.startswith(f"1 of {len(heldout)} held-out samples are near copies of training samples")
    assert heldout[5] in note and train[3] in note and "the held-out figures flatter the model" in note


def test_30_bits_away_or_other_colours_is_no_copy(tiny_home, planted):
    from evaluation.leakage import leakage_note

    catalog, ckpt, train, heldout = planted
    first, second = _signatures(catalog, tiny_home.train_manifest)[train[0]], _signatures(catalog, tiny_home.train_manifest)[train[1]]
    other = bytearray(bytes.fromhex(first[1]))
    other[0:3] = bytes((b + 40) % 256 for b in other[0:3])  # one cell's colour 40 levels off (the limit is 12)
    _set_meta(catalog, {heldout[0]: {"phash": _flipped(first[0], 30), "colour_signature": first[1]},
                        heldout[1]: {"phash": first[0], "colour_signature": bytes(other).hex()},
                        heldout[2]: {"phash": _flipped(second[0], 24), "colour_signature": second[1]}})  # the limit: a copy
    result = _check(tiny_home, catalog, ckpt, heldout)
    assert [p[:3] for p in result.pairs] == [(heldout[2], train[1], 24)]
    assert leakage_note(result).startswith(f"1 of {len(heldout)} ")


def test_samples_without_a_stored_phash_are_counted_as_not_compared(tiny_home, planted):
    from evaluation.leakage import heldout_leakage

    catalog, ckpt, train, heldout = planted
    original = _signatures(catalog, tiny_home.train_manifest)[train[2]]
    _set_meta(catalog, {**{k: {"phash": None} for k in heldout[:4]},
                        heldout[4]: {"phash": _flipped(original[0], 8), "colour_signature": original[1]}})
    result = _check(tiny_home, catalog, ckpt, heldout)
    assert (result.compared, result.not_compared, result.found) == (len(heldout) - 4, 4, 1)

    notes, metrics = heldout_leakage(catalog, ckpt, _Evaluated(tiny_home.holdout_manifest, heldout))
    assert metrics == {"heldout_near_train": 1.0, "heldout_near_train_compared": float(len(heldout) - 4)}
    assert "4 without a stored pHash were not compared" in notes[0]
    # none has one (as speech): nothing said, no metric
    assert heldout_leakage(catalog, ckpt, _Evaluated(tiny_home.holdout_manifest, heldout[:4])) == ([], {})


def test_the_colour_limit_and_distance_are_curations():
    """evaluation imports no preprocess (test_ground_floor.py): its copies of the two agree."""
    import numpy as np

    from evaluation.leakage import COLOUR_MAX_DIFF, colour_distances
    from preprocess.image.dedup import colour_distance
    from preprocess.image.plugin import ImageOptions

    assert COLOUR_MAX_DIFF == ImageOptions.colour_max_diff
    a, b = (np.random.default_rng(i).integers(0, 256, 48, dtype=np.uint8).tobytes() for i in (1, 2))
    as_array = [np.frombuffer(x, np.uint8).astype(np.float32).reshape(1, 16, 3) for x in (a, b)]
    assert colour_distances(*as_array)[0] == pytest.approx(colour_distance(a, b))


def test_the_brute_force_is_exact_across_chunks(monkeypatch):
    """Chunked over both sides, every pair is compared: the nearest of several is the one named."""
    import numpy as np

    import evaluation.leakage as lk

    rng = np.random.default_rng(0)
    train = lk.Signatures([f"t{i}" for i in range(50)], [""] * 50, rng.integers(0, 2 ** 63, (50, 4), dtype=np.uint64),
                          np.zeros((50, 16, 3), np.float32))
    held = lk.Signatures([f"h{i}" for i in range(7)], [""] * 7, train.hashes[[49, 3, 10, 0, 20, 30, 40]].copy(),
                         np.zeros((7, 16, 3), np.float32))
    held.hashes[1, 0] ^= np.uint64(0xFFFFF)  # 20 bits from t3
    held.hashes[2, 1] ^= np.uint64(0x1FFFFFF)  # 25 bits from t10: none
    monkeypatch.setattr(lk, "_PAIRS_PER_CHUNK", 12)
    assert lk.near_copies(held, train) == [(0, 49, 0), (1, 3, 20), (3, 0, 0), (4, 20, 0), (5, 30, 0), (6, 40, 0)]


def test_evaluate_says_it_and_its_figures_do_not_change(tiny_home, tiny_checkpoint, tmp_path, monkeypatch):
    """The warning is in the result's notes and metrics.json, beside two counts; every other figure
    is what an evaluation whose check fails gives (a failed check is one note, never a failed evaluation)."""
    import evaluation.evaluate as ev
    import evaluation.leakage as lk

    catalog = str(shutil.copy(Path(tiny_checkpoint).parents[1] / "catalog.duckdb", tmp_path / "catalog.duckdb"))
    train, heldout = _signatures(catalog, tiny_home.train_manifest), _signatures(catalog, tiny_home.holdout_manifest)
    _apart(catalog)
    first_heldout, some_train = sorted(heldout)[0], sorted(train)[7]
    original = _signatures(catalog, tiny_home.train_manifest)[some_train]
    _set_meta(catalog, {first_heldout: {"phash": _flipped(original[0], 20), "colour_signature": original[1]}})
    monkeypatch.setitem(ev.MODALITY_EVALUATORS, "image", f"{__name__}:_figures_only")

    def run(out):
        return ev.evaluate(ev.EvalConfig(checkpoint=str(tiny_checkpoint), catalog=catalog, manifest=tiny_home.holdout_manifest,
                                         out_dir=str(tmp_path / out), max_heldout=6))

    said = run("said")
    [note] = [n for n in said.notes if "near copies" in n]
    assert note.startswith("1 of 6 held-out samples are near copies of training samples") and first_heldout in note and some_train in note
    assert json.loads((tmp_path / "said" / "metrics.json").read_text())["notes"] == said.notes
    assert (said.metrics["heldout_near_train"], said.metrics["heldout_near_train_compared"]) == (1.0, 6.0)

    def broken(*a, **k):
        raise OSError("catalog unreadable")

    monkeypatch.setattr(lk, "check_heldout_against_training", broken)
    unchecked = run("unchecked")
    assert unchecked.notes == ["held-out samples were not checked for near copies of the training samples: OSError: catalog unreadable"]
    figures = {k: v for k, v in said.metrics.items() if not k.startswith("heldout_near_train")}
    assert figures == unchecked.metrics and set(figures) == {"heldout_fm_loss", "fake_accuracy"}


def _figures_only(ctx):
    return {"fake_accuracy": 0.5}, {}


def test_a_training_manifest_in_no_catalog_is_said_not_checked_never_no_copy(tiny_home, planted, caplog):
    """training.json names a manifest version the catalog (here also the one it records) does not
    hold: before, the training side read as empty and the log said no held-out sample of the 36
    compared is a near copy, with heldout_near_train 0."""
    import logging

    from evaluation.leakage import heldout_leakage

    catalog, ckpt, _, heldout = planted
    info = json.loads((ckpt / "training.json").read_text())
    (ckpt / "training.json").write_text(json.dumps({**info, "manifest_version": 99}))
    caplog.set_level(logging.INFO, logger="evaluation.leakage")
    notes, metrics = heldout_leakage(catalog, ckpt, _Evaluated(tiny_home.holdout_manifest, heldout))
    assert metrics == {}
    assert len(notes) == 1 and "were not checked" in notes[0] and "@v99 is in neither" in notes[0], notes
    assert not any("no held-out sample" in r.getMessage() for r in caplog.records)


def test_training_samples_without_a_stored_phash_are_no_comparison(tiny_home, planted, caplog):
    """Held-out samples with a pHash, the training manifest's without (curated before it was stored):
    before, 'no held-out sample of the 36 compared is a near copy' with heldout_near_train 0."""
    import logging

    from evaluation.leakage import heldout_leakage

    catalog, ckpt, train, heldout = planted
    _set_meta(catalog, {key: {"phash": None} for key in train})
    caplog.set_level(logging.INFO, logger="evaluation.leakage")
    notes, metrics = heldout_leakage(catalog, ckpt, _Evaluated(tiny_home.holdout_manifest, heldout))
    assert metrics == {}
    assert len(notes) == 1 and f"none of the {len(train)} samples of its training manifest" in notes[0], notes
    assert not any("no held-out sample" in r.getMessage() for r in caplog.records)
