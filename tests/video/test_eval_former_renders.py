"""An evaluation into a folder a former one wrote (the same checkpoint and manifest again, at a
smaller --grid-size): it wrote its clips over the first ones only, and clips/ kept the former
evaluation's later clips (other settings, or another checkpoint through --out-dir) beside them,
4 of 8 from another run with nothing to tell them apart. Multi-view's strips and turntables too."""

from __future__ import annotations

import numpy as np


def _clips(n: int, value: int) -> list[np.ndarray]:
    return [np.full((2, 8, 8, 3), value, np.uint8) for _ in range(n)]


def test_video_clips_of_a_former_evaluation_are_not_left_beside_this_one_s(tmp_path):
    from evaluation.video.render import save_clips

    folder = tmp_path / "clips"
    first = save_clips(_clips(8, 0), folder, fps=1.6)
    assert sorted(p.name for p in folder.iterdir()) == [f"sample_{i:02d}.mp4" for i in range(8)] and len(first) == 8
    (folder / "mine.mp4").write_bytes(b"kept")  # not a render's name: left alone
    second = save_clips(_clips(3, 255), folder, fps=1.6)
    assert sorted(p.name for p in folder.iterdir()) == ["mine.mp4", "sample_00.mp4", "sample_01.mp4", "sample_02.mp4"]
    assert second == {f"mp4_{i}": str(folder / f"sample_{i:02d}.mp4") for i in range(3)}


def test_multiview_strips_and_turntables_of_a_former_evaluation_are_removed(tmp_path):
    from evaluation.multiview.render import save_set_renders

    views = [np.zeros((4, 8, 8, 3), np.uint8) for _ in range(3)]
    save_set_renders(views, views, tmp_path)
    (tmp_path / "view_strips.png").write_bytes(b"the grid: rewritten by the evaluation, not removed here")
    renders = save_set_renders(views[:1], views[:1], tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["strip_00.png", "turntable_00.gif", "view_strips.png"]
    assert renders == {"strip_0": str(tmp_path / "strip_00.png"), "turntable_0": str(tmp_path / "turntable_00.gif")}


def test_evaluating_again_at_a_smaller_grid_leaves_only_its_own_clips(tmp_path, monkeypatch):
    from functools import partial

    import torch

    import evaluation.video.metrics as vm
    from tests.evaluation.fakes import fake_context
    from tests.video.test_eval import _examples

    monkeypatch.setattr(vm, "train_clip_judge", partial(vm.train_clip_judge, steps=1))  # its accuracy is not tested here
    examples = _examples({d: 1 for d in range(6)})
    for grid in (6, 2):
        ctx = fake_context(examples, lambda ex, seed: torch.stack([e.latent for e in ex]), tmp_path, samples_per_class=1,
                           grid_size=grid)
        _, renders = vm.evaluate_video(ctx)
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == ["sample_00.mp4", "sample_01.mp4"]
    assert sorted(k for k in renders if k.startswith("mp4_")) == ["mp4_0", "mp4_1"]
    assert len((tmp_path / "samples.txt").read_text().splitlines()) == 2
