"""`lumina refresh SOURCE --live NAME=WHERE` printed each new live-manifest version as a Python dict
("manifests         {'manifest': 'image-live@v2', 'members': 40, 'previous_members': 28, ...}"), in a
table that prints every other field for reading: one line per version now, name@version first."""

from __future__ import annotations

from flows.refresh_cli import table_of
from flows.result_table import print_result


def test_each_new_live_manifest_version_is_one_readable_line(capsys):
    out = {"source": "/data/photos", "modality": "image", "noop": False, "notes": ["a note"], "repaired": 0,
           "manifests": [{"manifest": "image-live@v2", "members": 40, "previous_members": 28, "added_since_training": 12,
                          "train_due": True},
                         {"manifest": "image-new@v1", "members": 5, "previous_members": 0, "added_since_training": 5,
                          "train_due": False}]}
    print_result(table_of(out), as_json=False)
    assert capsys.readouterr().out.splitlines() == [
        "source            /data/photos",
        "modality          image",
        "noop              False",
        "manifests         image-live@v2  40 members (was 28), training due (12 new members)",
        "                  image-new@v1  5 members, training not due",
    ]


def test_a_refresh_without_new_versions_prints_no_manifests_line(capsys):
    print_result(table_of({"source": "/data/photos", "manifests": [], "notes": []}), as_json=False)
    assert capsys.readouterr().out.splitlines() == ["source            /data/photos"]
