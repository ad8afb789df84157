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


def test_the_running_mean_is_each_steps_mean_over_the_k_before_it():
    import numpy as np

    from training.monitor import running_mean

    values = np.random.default_rng(0).random(1000)
    naive = [values[max(0, i - 36): i + 1].mean() for i in range(1000)]
    assert np.allclose(running_mean(values, 37), naive)


def test_a_skipped_steps_non_finite_loss_leaves_the_running_mean_of_the_others():
    """A cumulative sum with one inf in it made every later mean NaN (900 of 1000 points)."""
    import numpy as np

    from training.monitor import running_mean

    values = np.full(1000, 0.5)
    values[100] = np.inf
    values[101] = np.nan
    smooth = running_mean(values, 20)
    assert np.all(smooth == 0.5)
    assert np.isnan(running_mean(np.array([np.nan, np.nan, 1.0]), 2)[:2]).all()


def test_a_long_runs_curve_draws_a_bounded_number_of_points_from_all_of_its_steps(tmp_path, monkeypatch):
    """The running mean was a slice sum per step (100k steps: 100 s, with the other ranks waiting in
    the barrier); every step's point was drawn."""
    import training.monitor as monitor

    monkeypatch.setattr(monitor, "MAX_POINTS", 1000)
    fig = drawn_figure(tmp_path, monkeypatch, "".join(f"{i + 1},{1 / (i + 1)},1.0,0.001,10,0.0,8,{i}\n" for i in range(5000)))
    step_line, mean_line = fig.axes[0].get_lines()
    assert len(step_line.get_xdata()) == 1000 and step_line.get_label() == "every 5th step"
    assert mean_line.get_label() == "mean of 100" and step_line.get_xdata()[-1] == 4996  # every 5th from step 1
    assert abs(mean_line.get_ydata()[-1] - sum(1 / s for s in range(4897, 4997)) / 100) < 1e-12  # from all steps


def test_a_resume_keeps_its_rows_without_holding_them_all(tmp_path):
    """RunMonitor read every row into dicts to drop those past the checkpoint (~0.7 KB a step:
    730 MB for a million steps)."""
    import tracemalloc

    from training.monitor import RunMonitor

    path = tmp_path / "metrics.csv"
    path.write_text(",".join(FIELDS) + "\n" + "".join(f"{i},0.5,1.0,0.001,10,0.0,8,{i}\n" for i in range(1, 50_001)))
    tracemalloc.start()
    resumed = RunMonitor(tmp_path, start_step=40_000, tensorboard=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    resumed.close()
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(FIELDS) and len(lines) == 40_001 and lines[-1].startswith("40000,")
    assert peak < 5 * 2**20, peak  # the dicts of 50k rows were ~35 MB


def test_the_trainer_draws_the_curve_at_a_checkpoint_not_only_at_the_end(tiny_home, tmp_path, monkeypatch):
    """The README says to watch a run through loss_curve.png; it was written only when the run ended."""
    import training.monitor as monitor
    from tests.training.test_trainer import tiny_cfg
    from training.trainer import train

    drawn = []
    plot = monitor.plot_curve
    monkeypatch.setattr(monitor, "plot_curve", lambda csv_path, png: (drawn.append(len(csv_path.read_text().splitlines()) - 1),
                                                                       plot(csv_path, png))[1])
    train(tiny_cfg(tiny_home, tmp_path / "run", steps=4, checkpoint_every=2, log_every=1))
    assert drawn == [2, 4]
