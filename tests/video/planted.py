"""What curation must make of each bad input the video demo corpus plants: kind -> (status, reason kind)."""

from preprocess.video.demo import DEMO

EXPECTED = {
    "truncated": ("quarantined", "truncated"),
    "zero_bytes": ("quarantined", "empty_file"),
    "no_video_stream": ("rejected", "no_video_stream"),
    "static": ("rejected", "static"),
    "scene_cut": ("accepted", None),  # two rows, both accepted (see SCENE_CUT_CLIPS)
    "too_short": ("rejected", "clip_too_short"),
    "non_utf8_caption": ("quarantined", "caption_not_utf8"),
    "jittery": ("rejected", "jitter"),
    "exact_duplicate": ("rejected", "exact_duplicate"),
    "near_duplicate": ("rejected", "keyframe_dedup"),
    "missing_caption": ("quarantined", "missing_caption"),
}
SCENE_CUT_CLIPS = 2

# The demo's curation options (4 grey frames, 32x32 sources fitted to 16 tokens of 4x4 px: 16x16).
DEMO_OPTIONS = DEMO["curate_options"]


def check_planted(rows_by_uri: dict[str, list[tuple[str, str | None]]], corpus_root, planted: dict[str, str]) -> None:
    """rows_by_uri: source_uri -> [(status, reason)]. Asserts each planted input's outcome."""
    from pathlib import Path

    assert set(planted) == set(EXPECTED), set(planted) ^ set(EXPECTED)
    for kind, rel in planted.items():
        rows = rows_by_uri.get(str((Path(corpus_root) / rel).resolve()), [])
        status, reason_kind = EXPECTED[kind]
        if kind == "scene_cut":
            assert [r[0] for r in rows] == ["accepted"] * SCENE_CUT_CLIPS, (kind, rows)
            continue
        assert len(rows) == 1, (kind, rows)
        assert rows[0][0] == status and (rows[0][1] or "").split(":")[0] == reason_kind, (kind, rows)
