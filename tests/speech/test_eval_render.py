"""The evaluation's spectrogram grid (evaluation/speech/render.py): each row on its own time scale,
titles cut at a word."""

from __future__ import annotations

import numpy as np

from evaluation.speech.render import panel_title, spectrogram_png


def test_each_row_of_the_grid_has_its_own_time_scale(tmp_path, monkeypatch):
    """Digits of 0.4 s were slivers on the 0-5.9 s axis the grid's longest phrase set."""
    import matplotlib.figure

    figs = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: figs.append(fig))
    frames = [30, 40, 500, 480]  # generated and real "seven", then a 5.8 s phrase and its real take
    spectrogram_png([np.zeros((80, n)) for n in frames], ["generated: seven", "real: seven", "generated: a", "real: a"],
                    tmp_path / "g.png", cols=2)
    dt = 256 / 22050
    ends = [ax.get_xlim()[1] for ax in figs[0].axes[:4]]
    assert np.allclose(ends, [39.5 * dt, 39.5 * dt, 499.5 * dt, 499.5 * dt])  # generated beside real: one scale

    spectrogram_png([np.zeros((80, n)) for n in frames], ["g", "r", "g", "r"], tmp_path / "p.png", cols=4, scale_group=2)
    ends = [ax.get_xlim()[1] for ax in figs[1].axes[:4]]
    assert np.allclose(ends, [39.5 * dt, 39.5 * dt, 499.5 * dt, 499.5 * dt])  # one row, a scale for each pair


def test_titles_are_cut_at_a_word_with_an_ellipsis():
    """"generated: the weather today is cloudy" was cut at 24 characters and wrapped at 34: "clo" alone."""
    grid = panel_title("generated: the weather today is cloudy with a chance", 36, 1)
    assert grid == "generated: the weather today is …"
    assert panel_title("real: one", 36, 1) == "real: one"
    said = "the meeting is on january fifth twenty twenty one at the town hall by the river, and everyone is asked to come early with their own chairs"
    lines = panel_title(said, 60, 2).split("\n")  # lumina sample's single panel: two lines
    assert len(lines) == 2 and lines[1].endswith(" …") and all(len(line) <= 60 for line in lines)
    shown = " ".join(lines).removesuffix(" …").split()
    assert shown == said.split()[: len(shown)]  # whole words only
