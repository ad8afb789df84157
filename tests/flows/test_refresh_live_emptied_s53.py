"""A live manifest whose selection lost every member (all its files deleted) got no new version and
no word: its latest version still listed the removed samples, and `lumina train --manifest NAME`
trained on them (walkthrough of session 53: the shape files deleted, shapes-live@v1 kept its 4)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from catalog.source_index import LiveManifest
from flows.refresh import refresh_source
from preprocess.encode import EncodeConfig

ENCODE = EncodeConfig(text="phone")  # no model to load


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    from preprocess.image.demo_corpus import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("live_emptied"), num_digits=4, num_shapes=3).root


def test_a_live_manifest_whose_samples_all_left_says_its_latest_version_lists_them(tmp_path, corpus):
    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    for f in [*(corpus / "digits").iterdir(), *(corpus / "shapes").iterdir()]:
        shutil.copy(f, src)
    live = [LiveManifest("shapes-live", "source_uri LIKE '%shape%'")]
    first = refresh_source(str(src), home, encode_cfg=ENCODE, backend="local", live=live, consume_due=False)
    members = first.manifests[0]["members"]
    assert first.manifests[0]["manifest"] == "shapes-live@v1" and members > 0
    assert not any("selects nothing" in n for n in first.notes), first.notes

    for f in src.glob("shape_*"):
        f.unlink()
    second = refresh_source(str(src), home, encode_cfg=ENCODE, backend="local", consume_due=False)
    assert second.removed == members and second.manifests == []
    said = [n for n in second.notes if n.startswith("live manifest shapes-live selects nothing now")]
    assert said and f"shapes-live@v1, still lists {members} samples none of which is accepted now" in said[0], second.notes

    third = refresh_source(str(src), home, encode_cfg=ENCODE, backend="local", consume_due=False)  # a no-op says it too
    assert third.noop and any(n.startswith("live manifest shapes-live selects nothing now") for n in third.notes), third.notes
