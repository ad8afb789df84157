"""data_to_model on two sources of the same last folder (/data/2023/photos and /data/2024/photos, two
folders' captions.csv, datasets saved as `train`): the manifests are named after the folder, so the
second source's were new versions of the first's (image-photos-train@v2 of 2024 after @v1 of 2023).
Now the first source keeps image-photos, the second's names carry a hash of it. The flow's stages are
stubbed (tests/flows/data_to_model_stubs.py): only the names it asks for are tested."""

from __future__ import annotations


from catalog import Catalog
from contracts.layout import Workspace

from .data_to_model_stubs import manifests_asked


def _prefix_asked(monkeypatch, home: str, **params) -> str:
    return manifests_asked(monkeypatch, home, **params)["prefix"]


def test_two_sources_of_one_folder_name_get_manifests_of_their_own(monkeypatch, tmp_path):
    home, first, second = str(tmp_path / "home"), tmp_path / "2023" / "photos", tmp_path / "2024" / "photos"
    first.mkdir(parents=True)
    second.mkdir(parents=True)
    assert _prefix_asked(monkeypatch, home, source=str(first)) == "image-photos"
    other = _prefix_asked(monkeypatch, home, source=str(second))
    assert other != "image-photos" and other.startswith("image-photos-"), other  # before: image-photos
    assert _prefix_asked(monkeypatch, home, source=str(second)) == other  # stable for that source
    assert _prefix_asked(monkeypatch, home, source=f"{first}/") == "image-photos"  # the first keeps its name
    assert _prefix_asked(monkeypatch, home) == "demo"
    assert _prefix_asked(monkeypatch, home, source=str(second), manifest_prefix="mine") == "mine"
    with Catalog.open(Workspace.at(home).catalog, read_only=True) as cat:
        from catalog.db import _MANIFEST_NAME

        assert _MANIFEST_NAME.match(f"{other}-holdout")
