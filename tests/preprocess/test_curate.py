from pathlib import Path

import numpy as np
from PIL import Image

from preprocess.curate import CurateConfig, analyse_file, deduplicate, discover, safe_analyse, write_curated_shard, write_rejections
from preprocess.demo_corpus import write_demo_corpus
from preprocess.shards import iter_samples
from tests.planted import EXPECTED



def curate_all(corpus, tmp_path, cfg=CurateConfig()):
    cands = [safe_analyse(p, cfg, tmp_path / "quarantine") for p in discover(corpus.root)]
    return deduplicate(cands, cfg)


def test_every_input_gets_one_verdict_and_planted_inputs_the_right_one(small_corpus, tmp_path):
    cands = curate_all(small_corpus, tmp_path)
    assert len(cands) == small_corpus.num_files  # nothing lost
    assert len({c.record.key for c in cands}) == len(cands)  # one row per input
    by_uri = {Path(c.record.source_uri).relative_to(small_corpus.root.resolve()).as_posix(): c.record for c in cands}
    for kind, rel in small_corpus.planted.items():
        status, reason_kind = EXPECTED[kind]
        rec = by_uri[rel]
        assert rec.status == status, (kind, rec)
        assert rec.reason.split(":")[0] == reason_kind, (kind, rec.reason)
    accepted = [c for c in cands if c.record.status == "accepted"]
    assert len(accepted) >= small_corpus.num_digits + small_corpus.num_shapes - 5


def test_quarantine_keeps_the_file_and_the_error(small_corpus, tmp_path):
    cfg = CurateConfig()
    c = analyse_file(small_corpus.root / small_corpus.planted["corrupt_image"], cfg, tmp_path / "q")
    folder = tmp_path / "q" / c.record.key
    assert (folder / "corrupt.png").exists()
    assert "decode_error" in (folder / "error.txt").read_text()


def test_rejections_carry_filter_score_and_threshold(small_corpus, tmp_path):
    cands = curate_all(small_corpus, tmp_path)
    small = next(c for c in cands if c.record.source_uri.endswith("too_small.png"))
    v = next(v for v in small.verdicts if v.filter == "min_size")
    assert (v.score, v.threshold, v.passed) == (12.0, 24.0, False)
    near = next(c for c in cands if c.record.source_uri.endswith("near_duplicate.png"))
    v = next(v for v in near.verdicts if v.filter == "phash_dedup")
    assert not v.passed and v.score <= v.threshold


def test_near_duplicate_needs_similar_colour_too(tmp_path):
    """A red and a blue circle in the same place share a greyscale pHash; they are not duplicates."""
    from PIL import ImageDraw

    for name, colour in (("red", (220, 40, 40)), ("blue", (50, 80, 230)), ("red2", (224, 44, 44))):
        img = Image.new("RGB", (32, 32))
        ImageDraw.Draw(img).ellipse([8, 8, 24, 24], fill=colour)
        img.save(tmp_path / f"{name}.png")
        (tmp_path / f"{name}.txt").write_text(f"a {name} circle")
    cfg = CurateConfig()
    cands = deduplicate([analyse_file(p, cfg) for p in discover(tmp_path)], cfg)
    status = {Path(c.record.source_uri).stem: c.record.status for c in cands}
    assert status == {"blue": "accepted", "red": "accepted", "red2": "rejected"}


def test_corpus_and_shards_are_deterministic(tmp_path):
    a = write_demo_corpus(tmp_path / "a", num_digits=20, num_shapes=5)
    b = write_demo_corpus(tmp_path / "b", num_digits=20, num_shapes=5)
    for p in discover(a.root):
        assert p.read_bytes() == (b.root / p.relative_to(a.root)).read_bytes()
    cfg = CurateConfig()
    shas = []
    for corpus, out in ((a, tmp_path / "sa"), (b, tmp_path / "sb")):
        cands = deduplicate([analyse_file(p, cfg) for p in discover(corpus.root)], cfg)
        batch = write_curated_shard(cands, out, cfg)
        shas.append((Path(batch.shard.uri).name, batch.shard.sha256))
    assert shas[0] == shas[1]


def test_curated_shard_holds_normalised_images_and_captions(small_corpus, tmp_path):
    cfg = CurateConfig()
    cands = curate_all(small_corpus, tmp_path, cfg)
    batch = write_curated_shard(cands, tmp_path / "shards", cfg)
    rej = write_rejections(cands, tmp_path / "shards" / "rejections.batch.json")
    rows = list(iter_samples(batch.shard.uri))
    assert len(rows) == batch.shard.num_samples == len(batch.samples)
    assert len(batch.samples) + len(rej.samples) == small_corpus.num_files
    assert rej.shard is None and all(s.status != "accepted" for s in rej.samples)
    key, fields = rows[0]
    import io

    img = Image.open(io.BytesIO(fields["png"]))
    assert img.size == (cfg.out_size, cfg.out_size) and img.mode == "RGB"
    assert fields["txt"].decode() == next(s.caption for s in batch.samples if s.key == key)


def test_digit_captions_describe_what_is_visible():
    from preprocess.demo_corpus import digit_attributes

    img = np.zeros((32, 32), np.float32)
    img[4:28, 2:5] = 1.0  # a thin vertical bar at the far left
    attrs = digit_attributes(img)
    assert attrs["position"] == "left of centre" and attrs["slant"] == "upright" and attrs["thickness"] == "thin"
    slanted = np.zeros((32, 32), np.float32)
    for y in range(4, 28):
        x = 16 + (16 - y) // 2  # top leans right
        slanted[y, x : x + 3] = 1.0
    assert digit_attributes(slanted)["slant"] == "slanted right"
