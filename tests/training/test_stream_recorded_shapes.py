"""A shard that reads well but is not the one the manifest was frozen on: the same path written again
at another size (or by another encoder). The catalog records each encoding's stored shape; the
trainer's index (ManifestIndex.from_catalog) keeps them per shard, and the plan names a shard whose
latents have a shape the catalog records for none of its members, rather than training on them."""

from __future__ import annotations

import os

import numpy as np
import pytest

from catalog import Batch, Catalog, EncodingRecord, SampleRecord, ShardRecord
from contracts.members import CAP_FEATS, LATENT, MOMENTS, member
from training.buckets import BatchBudget
from training.stream import DamagedShard, ManifestIndex, ShardStream
from training.synthetic import write_synthetic_shards


def tokens(shape):
    return shape[-1] * shape[-2] * shape[-3]


SHAPES = [(4, 1, 8, 8), (4, 1, 16, 8), (4, 2, 8, 8)]


def registered(folder, shapes, moments=False, per_shard=4) -> tuple[str, list[str]]:
    """Synthetic encoded shards registered in a catalog as `lumina encode` registers them (the stored
    shape: moments hold twice the channels), with a manifest of them all: (catalog path, shards)."""
    m = write_synthetic_shards(folder / "shards", shapes, per_shard=per_shard, moments=moments)
    by_shard: dict[str, list] = {}
    for i, x in enumerate(m.members):
        by_shard.setdefault(x.encodings["latent"][0], []).append((x.key, shapes[i]))
    batches = []
    for shard, rows in by_shard.items():
        samples = [SampleRecord(key=k, modality="image", source_uri=f"/raw/{k}.png", status="accepted", reason=None,
                                caption=f"sample {k}", width=8, height=8, split="train", meta={}) for k, _ in rows]
        encodings = []
        for k, (c, *rest) in rows:
            encodings.append(EncodingRecord(k, "synthetic-vae", "latent", [2 * c if moments else c, *rest], "float16", shard,
                                            member(k, MOMENTS if moments else LATENT)))
            encodings.append(EncodingRecord(k, "synthetic-text", "text", [8, 16], "float16", shard, member(k, CAP_FEATS)))
        batches.append(Batch(shard=ShardRecord(uri=shard, stage="encoded", num_samples=len(rows), bytes=os.path.getsize(shard),
                                               sha256="0" * 64), samples=samples, verdicts=[], encodings=encodings))
    path = str(folder / "catalog.duckdb")
    with Catalog.open(path) as cat:
        run = cat.start_run("encode", {})
        cat.register_batches(batches, run)
        cat.finish_run(run)
        cat.create_manifest("m", "split = 'train'")
    return path, sorted(by_shard)


def plan(index) -> list[list[str]]:
    s = ShardStream(index, BatchBudget(max_samples=4), tokens, seed=1, shuffle_buffer=4)
    return [[r.key for r in b] for b in s.epoch_plan(0)]


@pytest.mark.parametrize("moments", [False, True])
def test_whole_shards_of_mixed_shapes_plan_as_without_the_check(tmp_path, moments):
    shapes = [SHAPES[i % 3] for i in range(20)]
    catalog, shards = registered(tmp_path, shapes, moments=moments)
    index = ManifestIndex.from_catalog(catalog, "m")
    assert index.shapes is not None and len(index.shapes) == 5 * (3 + 1)  # 5 shards: 3 shapes in each, and a mark
    unchecked = ManifestIndex.from_catalog(catalog, "m")
    unchecked.shapes = None
    assert plan(index) == plan(unchecked) and sum(map(len, plan(index))) == 20


@pytest.mark.parametrize("shape", [(4, 1, 16, 16), (3, 1, 8, 8)], ids=["another-size", "another-encoder"])
def test_a_shard_written_again_at_another_shape_is_named_before_training_on_it(tmp_path, shape):
    """It trained on the new size without a word (a resume planned other batches than the stopped
    run), or, with other channels, failed at the model's step: "expected 4 channels, got [3, 4]"."""
    catalog, shards = registered(tmp_path, [(4, 1, 8, 8)] * 12)
    again = write_synthetic_shards(tmp_path / "again", [shape] * 4, per_shard=4)  # the same keys 0-3
    os.replace(again.members[0].encodings["latent"][0], shards[0])
    with pytest.raises(DamagedShard) as e:
        plan(ManifestIndex.from_catalog(catalog, "m"))
    text = str(e.value)
    assert text.startswith(f"encoded shard {shards[0]} holds 000000000000.latent.npy at shape {list(shape)}, which the "
                           "catalog records for none of manifest m@v1's samples in it") and "lumina encode" in text
    assert "\n" not in text


def test_the_shapes_cost_eight_bytes_a_shape_a_shard(tmp_path):
    catalog, _ = registered(tmp_path, [(4, 1, 8, 8)] * 16)
    index = ManifestIndex.from_catalog(catalog, "m")
    assert index.shapes.dtype == np.uint64 and len(index.shapes) == 4 * 2  # one shape in each of 4 shards, and a mark
    assert index.nbytes() == 16 * 8 + 4 * 2 * 8


def test_a_manifest_whose_samples_were_encoded_again_elsewhere_still_trains_on_its_own_shards(tmp_path):
    """Curated again at another size (same keys: they come from content), a sample's encoding row moves
    to the new shard at the new shape; the frozen manifest still reads its old shard, whole and right."""
    catalog, shards = registered(tmp_path, [(4, 1, 8, 8)] * 12)
    before = ManifestIndex.from_catalog(catalog, "m")
    moved = [k for k in (f"{i:012x}" for i in range(12)) if before.wants(shards[0], k)]
    assert len(moved) == 4
    new_shard = str(tmp_path / "encoded-new.tar")
    encodings = [EncodingRecord(k, "synthetic-vae", "latent", [4, 1, 16, 16], "float16", new_shard, member(k, LATENT))
                 for k in moved]
    with Catalog.open(catalog) as cat:
        run = cat.start_run("encode", {})
        cat.register_batches([Batch(shard=ShardRecord(uri=new_shard, stage="encoded", num_samples=4, bytes=1, sha256="1" * 64),
                                    samples=[], verdicts=[], encodings=encodings)], run)
        cat.finish_run(run)
    index = ManifestIndex.from_catalog(catalog, "m")
    assert len(index.shapes) == 2 * 2  # shards 1 and 2 are checked (one shape each, and the mark that they are)
    assert sum(map(len, plan(index))) == 12
