"""`lumina sample --out VIEWS.PNG` on a multi-view checkpoint wrote VIEWS.png and VIEWS.gif (session 51
walkthrough): the file asked for did not exist on a case-sensitive disk. Video keeps `--out CLIP.MP4`
as given; multi-view now does too, and the file beside it takes the other suffix."""

import numpy as np
import pytest

from evaluation.multiview.render import save_samples


@pytest.mark.parametrize("asked, beside", [("VIEWS.PNG", "VIEWS.gif"), ("Turn.GIF", "Turn.png"), ("a.png", "a.gif")])
def test_the_file_asked_for_is_written_under_its_name(tmp_path, asked, beside):
    views = np.zeros((3, 2, 8, 8), np.float32)  # [3, V, H, W] in [-1, 1]
    paths = save_samples([views], tmp_path / asked)
    assert sorted(p.name for p in paths) == sorted([asked, beside])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([asked, beside])
