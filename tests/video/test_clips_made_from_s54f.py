"""VideoPlugin.made_from: whether an input's current samples are every clip analyse cut from an input
of a given key, from their keys and recorded spans alone (a refresh then need not decode the file
again: tests/preprocess/test_refresh_first_after_curate_scenes_s54f.py). A clip's key hashes its span
at 3 decimals while meta keeps it rounded to 4, so the rounding can move the 3-decimal label
(0.12351 s is labelled 0.124, its meta 0.1235 reads 0.123): the clip is still recognised."""

from __future__ import annotations

from contracts.keys import sample_key
from preprocess.modality import get_plugin
from preprocess.video.plugin import scene_clip_key

KEY = sample_key(b"the video's bytes", "its caption")
SPANS = [(0.0, 0.12351), (0.12351, 1.25), (1.25, 2.5)]  # scene start, scene end (s)


def _rows(key: str, spans=SPANS, count: int | None = None) -> list[tuple[str, dict]]:
    """(sample key, meta) of the clips analyse makes of an input keyed ``key`` cut at ``spans``."""
    count = len(spans) if count is None else count
    return [(scene_clip_key(key, i, start, end),
             {"clip_index": i, "clips_in_source": count, "clip_start": round(start, 4), "scene_end": round(end, 4)})
            for i, (start, end) in enumerate(spans)]


def test_every_clip_of_the_key_is_recognised_across_the_meta_rounding():
    plugin = get_plugin("video")
    assert f"{SPANS[1][0]:.3f}" != f"{round(SPANS[1][0], 4):.3f}"  # the case the rounding moves
    assert plugin.made_from(KEY, _rows(KEY))
    assert plugin.made_from(KEY, list(reversed(_rows(KEY))))  # in any order


def test_a_changed_file_or_another_split_is_not():
    plugin = get_plugin("video")
    other = sample_key(b"the video's bytes", "its caption, edited")
    assert not plugin.made_from(other, _rows(KEY))  # the same clips, another key now
    assert not plugin.made_from(KEY, _rows(KEY)[:2])  # a clip missing (retired, or never registered)
    assert not plugin.made_from(KEY, _rows(KEY, count=4)[:3])  # the file was cut into 4
    rows = _rows(KEY)
    assert not plugin.made_from(KEY, rows + rows[:1])  # a clip twice
    shifted = [(k, dict(m, clip_start=m["clip_start"] + 0.01)) for k, m in rows]
    assert not plugin.made_from(KEY, shifted)  # spans that are not the ones the keys hashed


def test_rows_without_a_span_and_a_single_clip():
    plugin = get_plugin("video")
    bare = [(k, {"clip_index": m["clip_index"], "clips_in_source": 3}) for k, m in _rows(KEY)]
    assert not plugin.made_from(KEY, bare)  # a row from before spans were recorded: curated again
    assert plugin.made_from(KEY, [(KEY, {"clip_index": 0, "clips_in_source": 1})])  # one scene keeps the file's key
    assert not plugin.made_from(KEY, [(scene_clip_key(KEY, 0, 0.0, 1.0), {})])
