"""data_to_model on a user's own source: its manifests are named after the source and hold its samples only.

`lumina demo --set source=/tmp/s56/C/mysource` in a home where another folder had been run before made
demo-train@v2 with 14 members, 8 of them the other folder's (and demo-holdout@v2: 4 of 5), so the
own-source model trained on a mixture under the demo's manifest names. Now image-mysource-train@v1
(6 members, all its own); the demo keeps demo-train over every image sample, as the README measured it.
"""

from __future__ import annotations

import pytest

from catalog import Batch, Catalog, EncodingRecord, SampleRecord, ShardRecord
from contracts.layout import Workspace

from .data_to_model_stubs import manifests_asked



def _batch(tag: int, uris: list[str]) -> Batch:
    """Accepted, encoded image samples, one per uri; every fourth holdout."""
    samples, encodings = [], []
    for j, uri in enumerate(uris):
        key = f"{tag:08x}{j:024x}"
        samples.append(SampleRecord(key=key, modality="image", source_uri=uri, status="accepted", caption=f"thing {tag}-{j}",
                                    width=32, height=32, split="holdout" if j % 4 == 3 else "train"))
        encodings.append(EncodingRecord(key, "identity@v1", "latent", [4, 4, 4], "float16", f"/shards/{tag}.tar", f"{key}.l.npy"))
        encodings.append(EncodingRecord(key, "minilm@x", "text", [8, 384], "float16", f"/shards/{tag}.tar", f"{key}.t.npy"))
    shard = ShardRecord(uri=f"/shards/{tag}.tar", stage="encoded", num_samples=len(uris), bytes=100, sha256=f"{tag:064x}")
    return Batch(shard=shard, samples=samples, encodings=encodings)


def _register(cat: Catalog, flow: str, source: str | None, tag: int, uris: list[str]) -> None:
    run = cat.start_run(flow, {"source": source})
    cat.register_batches([_batch(tag, uris)], run)
    cat.finish_run(run)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A workspace holding the image demo corpus, the user's folder and a listing whose media lie
    elsewhere (built once: each test freezes manifests of its own names)."""
    root = tmp_path_factory.mktemp("home")
    mine, listing = root / "mine", root / "captions.csv"
    mine.mkdir()
    listing.write_text("path,caption\n")
    with Catalog.open(Workspace.at(root).catalog) as cat:
        _register(cat, "data_to_model", None, 1, [f"{root}/source/image/corpus/{j}.png" for j in range(8)])
        _register(cat, "curate", str(mine), 2, [f"{mine}/{j}.png" for j in range(6)])
        _register(cat, "curate", str(listing), 3, [f"/media/{j}.png" for j in range(4)])
        (root / "few").mkdir()
        _register(cat, "curate", str(root / "few"), 4, [f"{root}/few/{j}.png" for j in range(3)])  # no holdout
    return str(root)


def _members(home: str, manifest_id: str) -> set[str]:
    name, _, version = manifest_id.partition("@v")
    with Catalog.open(Workspace.at(home).catalog, read_only=True) as cat:
        return {r[0] for r in cat.sql("SELECT s.source_uri FROM manifest_members mm JOIN samples s USING (key) "
                                      "WHERE mm.manifest = ? AND mm.version = ?", [name, int(version)])[1]}


def test_a_sources_manifests_hold_its_samples_only(home):
    from flows.data_to_model import make_manifests

    ids = make_manifests.fn(home, "image", "image-mine", f"{home}/mine")
    assert ids == {"train": "image-mine-train@v1", "holdout": "image-mine-holdout@v1"}
    assert _members(home, ids["train"]) == {f"{home}/mine/{j}.png" for j in (0, 1, 2, 4, 5)}
    assert _members(home, ids["holdout"]) == {f"{home}/mine/3.png"}
    # a listing's media lie outside it: they are its samples through the runs that curated it
    listing = make_manifests.fn(home, "image", "image-captions.csv", f"{home}/captions.csv")
    assert _members(home, listing["train"]) == {"/media/0.png", "/media/1.png", "/media/2.png"}


def test_a_source_without_holdout_samples_borrows_none_and_says_so_in_a_line(home):
    from flows.data_to_model import make_manifests

    with pytest.raises(ValueError) as e:
        make_manifests.fn(home, "image", "image-few", f"{home}/few")
    assert str(e.value) == (f"manifest 'image-few-holdout': no accepted holdout sample of {home}/few with every encoding; other "
                            "sources' samples are not taken (the holdout split is a fixed 20% of the keys: a source of few "
                            "accepted inputs may have none)")


def test_the_demo_still_selects_every_image_sample_under_its_names(home):
    from flows.data_to_model import make_manifests

    ids = make_manifests.fn(home, "image", "demo")
    assert ids == {"train": "demo-train@v1", "holdout": "demo-holdout@v1"}
    assert len(_members(home, ids["train"])) == 6 + 5 + 3 + 3
    with Catalog.open(Workspace.at(home).catalog, read_only=True) as cat:
        assert cat.manifest_header("demo-train").where == "modality = 'image' AND split = 'train'"


@pytest.mark.parametrize(("modality", "source", "prefix"), [
    ("image", None, "demo"), ("speech", None, "demo-speech"),
    ("image", "/data/raw/mysource", "image-mysource"), ("video", "/data/raw/My Clips", "video-My-Clips"),
    ("image", "/data/captions.csv", "image-captions.csv")])
def test_manifest_names_follow_the_refresh_run_names(modality, source, prefix):
    from flows.data_to_model import manifest_prefix_of

    assert manifest_prefix_of(modality, source) == prefix


def test_names_of_letters_a_manifest_name_does_not_take_stay_apart():
    from catalog.db import _MANIFEST_NAME
    from flows.data_to_model import manifest_prefix_of

    a, b = manifest_prefix_of("image", "/data/写真"), manifest_prefix_of("image", "/data/照片")
    assert a != b and a.startswith("image-") and _MANIFEST_NAME.match(f"{a}-train")


def test_the_flow_names_and_selects_by_its_source(monkeypatch, home):
    mine = f"{home}/mine"
    assert manifests_asked(monkeypatch, home, source=f"{mine}/") == {"prefix": "image-mine", "source": mine}
    assert manifests_asked(monkeypatch, home, source=mine, manifest_prefix="own") == {"prefix": "own", "source": mine}
    assert manifests_asked(monkeypatch, home) == {"prefix": "demo", "source": None}
