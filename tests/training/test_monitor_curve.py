"""The loss-curve PNG: a running mean only where it averages something."""

from __future__ import annotations

import matplotlib.figure

from training.monitor import FIELDS, plot_curve


def legend_of(tmp_path, monkeypatch, n: int) -> list[str]:
    csv_path = tmp_path / f"m{n}.csv"
    csv_path.write_text(",".join(FIELDS) + "\n" + "".join(f"{i + 1},{1 / (i + 1)},1.0,0.001,10,0.0,8,{i}\n" for i in range(n)))
    seen = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: seen.append(fig))
    plot_curve(csv_path, tmp_path / "c.png")
    return seen[0].axes[0].get_legend_handles_labels()[1]


def drawn_figure(tmp_path, monkeypatch, rows: str):
    """plot_curve on a metrics.csv of these rows; the figure, drawn, instead of the PNG."""
    csv_path = tmp_path / "m.csv"
    csv_path.write_text(",".join(FIELDS) + "\n" + rows)
    seen = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: (fig.canvas.draw(), seen.append(fig)))
    plot_curve(csv_path, tmp_path / "c.png")
    return seen[0]


def test_a_short_run_has_no_mean_of_one_over_its_steps(tmp_path, monkeypatch):
    """Under 100 steps the "mean of 1" line was the step line again, drawn over it."""
    assert legend_of(tmp_path, monkeypatch, 60) == ["step"]
    assert legend_of(tmp_path, monkeypatch, 500) == ["step", "mean of 10"]


def test_a_narrow_loss_range_is_labelled_in_plain_numbers(tmp_path, monkeypatch):
    """A loss between 1.04 and 1.14 on the log axis was labelled 1.08x10^0 and the like."""
    axis = drawn_figure(tmp_path, monkeypatch, "".join(f"{i + 1},{1.14 - i / 1000},1.0,0.001,10,0.0,8,{i}\n" for i in range(100))).axes[0]
    labels = [t.get_text() for t in axis.get_yticklabels(minor=True) + axis.get_yticklabels() if t.get_text()]
    assert labels and all(float(x) == float(x) and "10" not in x[1:] for x in labels), labels
    assert "1.1" in labels, labels


def test_the_right_panel_names_its_two_lines_and_their_axes(tmp_path, monkeypatch):
    """The green lr and red grad-norm lines shared a panel with no legend; which axis was whose was guesswork."""
    fig = drawn_figure(tmp_path, monkeypatch, "".join(f"{i + 1},{1 / (i + 1)},{2 + i % 3},0.001,10,0.0,8,{i}\n" for i in range(40)))
    right, twin = fig.axes[1], fig.axes[2]
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["learning rate (left)", "grad norm (right)"]
    assert (right.get_ylabel(), twin.get_ylabel()) == ("learning rate", "grad norm")


def test_a_loss_within_one_decade_gets_more_than_two_labels(tmp_path, monkeypatch):
    """A loss from 1.6 down to 0.55 had only 0.6 and 1 labelled."""
    axis = drawn_figure(tmp_path, monkeypatch, "".join(f"{i + 1},{1.6 - i / 100},1.0,0.001,10,0.0,8,{i}\n" for i in range(106))).axes[0]
    low, high = axis.get_ylim()
    shown = [t.get_text() for t in axis.get_yticklabels(minor=True) + axis.get_yticklabels()
             if t.get_text() and low <= t.get_position()[1] <= high]
    assert len(shown) >= 4, shown
