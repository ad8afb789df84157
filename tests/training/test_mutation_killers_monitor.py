"""Watching a run (training/monitor.py): metrics.csv as it grows and after a resume, TensorBoard's
scalars (a resumed run's curve has no second copy of the steps after its checkpoint), and the
loss-curve PNG's lines."""

from __future__ import annotations

import csv
import sys

import matplotlib.figure
import pytest

from training.monitor import FIELDS, RunMonitor, plot_curve


def _row(step: int, loss: float, **kw) -> dict:
    return {"step": step, "loss": loss, "grad_norm": 1.0 + step, "lr": 0.001 * step, "tokens_per_s": 100.0,
            "padding": 0.0, "samples": 8, "seconds": 0.5 * step, **kw}


def _csv(path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _scalars(logdir, tag: str) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0}, purge_orphaned_data=True)
    acc.Reload()
    return [(e.step, round(e.value, 6)) for e in acc.Scalars(tag)]


def test_each_row_is_in_metrics_csv_as_soon_as_it_is_logged(tmp_path):
    run = tmp_path / "not-made-yet" / "run"
    mon = RunMonitor(run, tensorboard=False)
    mon.log(_row(1, 0.5, extra="not a column"))
    rows = _csv(run / "metrics.csv")  # before close: a run is watched while it goes on
    assert list(rows[0]) == list(FIELDS)
    assert rows == [{"step": "1", "loss": "0.5", "grad_norm": "2.0", "lr": "0.001", "tokens_per_s": "100.0",
                     "padding": "0.0", "samples": "8", "seconds": "0.5"}]
    mon.log(_row(2, 0.25))
    assert [r["loss"] for r in _csv(run / "metrics.csv")] == ["0.5", "0.25"]
    mon.close()
    assert not (run / "tensorboard").exists()


def test_a_resume_keeps_the_rows_up_to_its_checkpoint_and_drops_the_later_ones(tmp_path):
    mon = RunMonitor(tmp_path, tensorboard=False)
    for step in range(1, 6):
        mon.log(_row(step, 1.0 / step))
    mon.close()
    # the run stopped after step 5; its checkpoint is at step 3: steps 4 and 5 are trained again
    mon = RunMonitor(tmp_path, start_step=3, tensorboard=False)
    assert [r["step"] for r in _csv(tmp_path / "metrics.csv")] == ["1", "2", "3"]
    mon.log(_row(4, 0.2))
    mon.close()
    rows = _csv(tmp_path / "metrics.csv")
    assert [(r["step"], r["loss"]) for r in rows] == [("1", "1.0"), ("2", "0.5"), ("3", "0.3333333333333333"), ("4", "0.2")]
    # a fresh run (start_step 0) into a folder with an old metrics.csv starts it anew, header and all
    (tmp_path / "metrics.csv").write_text(",".join(FIELDS) + "\n1,1,1,1,1,0,8,1\n2.0,1,1,1,1,0,8,1\n")
    RunMonitor(tmp_path, tensorboard=False).close()
    assert _csv(tmp_path / "metrics.csv") == []
    (tmp_path / "metrics.csv").write_text(",".join(FIELDS) + "\n2.0,1,1,1,1,0,8,1\n3.0,1,1,1,1,0,8,1\n")
    RunMonitor(tmp_path, start_step=2, tensorboard=False).close()  # steps written as floats are read too
    assert [r["step"] for r in _csv(tmp_path / "metrics.csv")] == ["2.0"]


def test_tensorboard_has_every_column_by_step_and_a_resume_replaces_the_steps_after_its_checkpoint(tmp_path):
    mon = RunMonitor(tmp_path)
    for step in range(1, 6):
        mon.log(_row(step, 1.0 / step, padding=None))
    mon.close()
    assert _scalars(tmp_path / "tensorboard", "train/loss") == [(s, round(1.0 / s, 6)) for s in range(1, 6)]
    assert _scalars(tmp_path / "tensorboard", "train/lr") == [(s, round(0.001 * s, 6)) for s in range(1, 6)]

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert tags == {f"train/{k}" for k in FIELDS if k not in ("step", "padding")}  # None is not logged

    mon = RunMonitor(tmp_path, start_step=3)  # resumed from step 3: steps 4 and 5 again, with other losses
    mon.log(_row(4, 7.0))
    mon.log(_row(5, 8.0))
    mon.close()
    assert _scalars(tmp_path / "tensorboard", "train/loss") == [(1, 1.0), (2, 0.5), (3, 0.333333), (4, 7.0), (5, 8.0)]


def test_a_run_without_tensorboard_installed_still_writes_metrics_csv(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    with caplog.at_level("WARNING", logger="training.monitor"):
        mon = RunMonitor(tmp_path)
    assert "tensorboard is not installed" in caplog.text
    mon.log(_row(1, 0.5))
    assert mon.close() == tmp_path / "loss_curve.png"
    assert len(_csv(tmp_path / "metrics.csv")) == 1 and not (tmp_path / "tensorboard").exists()


def test_close_draws_the_curve_and_a_run_without_a_step_has_none(tmp_path):
    assert RunMonitor(tmp_path / "empty", tensorboard=False).close() is None
    assert not (tmp_path / "empty" / "loss_curve.png").exists()
    mon = RunMonitor(tmp_path / "run", tensorboard=False)
    mon.log(_row(1, 0.5))
    png = mon.close()
    assert png == tmp_path / "run" / "loss_curve.png"
    from PIL import Image

    assert Image.open(png).size == (900, 320)  # 9 x 3.2 inches at 100 dpi


@pytest.fixture
def drawn(monkeypatch):
    seen = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: seen.append(fig))
    return seen


def test_the_curves_are_the_csvs_columns_and_the_mean_is_a_running_mean_over_2_percent_of_the_run(tmp_path, drawn):
    n = 150  # k = 3
    rows = [(i + 1, float((i * 7) % 11 + 1), 0.5 + i, 1e-4 * (i + 1)) for i in range(n)]
    path = tmp_path / "m.csv"
    path.write_text(",".join(FIELDS) + "\n" + "".join(f"{s}.0,{l},{g},{lr},10,0.0,8,{s}\n" for s, l, g, lr in rows))
    plot_curve(path, tmp_path / "c.png")
    fig = drawn[0]
    loss_axis, right, twin = fig.axes
    step_line, mean_line = loss_axis.get_lines()
    steps = [r[0] for r in rows]
    losses = [r[1] for r in rows]
    assert list(step_line.get_xdata()) == steps and list(step_line.get_ydata()) == losses
    expected = [sum(losses[max(0, i - 2): i + 1]) / len(losses[max(0, i - 2): i + 1]) for i in range(n)]
    assert list(mean_line.get_xdata()) == steps
    assert list(mean_line.get_ydata()) == pytest.approx(expected, rel=1e-12)
    assert mean_line.get_label() == "mean of 3"
    assert loss_axis.get_yscale() == "log" and loss_axis.get_xlabel() == "step"
    assert loss_axis.get_ylabel() == "flow-matching loss" and loss_axis.get_title() == "training loss"
    # the mean is drawn over the noisy steps, not hidden under them
    assert mean_line.get_linewidth() > step_line.get_linewidth() and step_line.get_alpha() < 1
    (lr_line,), (gn_line,) = right.get_lines(), twin.get_lines()
    assert list(lr_line.get_ydata()) == [r[3] for r in rows] and list(lr_line.get_xdata()) == steps
    assert list(gn_line.get_ydata()) == [r[2] for r in rows] and list(gn_line.get_xdata()) == steps
    assert right.get_xlabel() == "step" and right.get_title() == "learning rate and grad norm"
    # each axis label in its line's colour: which line reads on which axis
    assert right.yaxis.label.get_color() == lr_line.get_color() == "tab:green"
    assert twin.yaxis.label.get_color() == gn_line.get_color() == "tab:red"


def test_a_run_of_100_steps_gets_a_mean_of_2(tmp_path, drawn):
    path = tmp_path / "m.csv"
    path.write_text(",".join(FIELDS) + "\n" + "".join(f"{i + 1},{1 + i % 2},1.0,0.001,10,0.0,8,{i}\n" for i in range(100)))
    plot_curve(path, tmp_path / "c.png")
    lines = drawn[0].axes[0].get_lines()
    assert [ln.get_label() for ln in lines] == ["step", "mean of 2"]
    assert list(lines[1].get_ydata()) == [1.0] + [1.5] * 99


def test_a_fresh_run_into_the_folder_of_an_attempt_killed_before_its_first_checkpoint_shows_only_its_own_steps(tmp_path):
    """metrics.csv was started anew but TensorBoard kept the killed attempt's steps, drawn before the new run's:
    its curve went 1..5 of the old attempt, then back to step 1."""
    mon = RunMonitor(tmp_path)
    for step in range(1, 6):
        mon.log(_row(step, 1.0 / step))
    mon.close()
    mon = RunMonitor(tmp_path)  # no checkpoint to resume from: a new run, start_step 0
    assert _csv(tmp_path / "metrics.csv") == []
    mon.log(_row(1, 7.0))
    mon.log(_row(2, 8.0))
    mon.close()
    assert [(r["step"], r["loss"]) for r in _csv(tmp_path / "metrics.csv")] == [("1", "7.0"), ("2", "8.0")]
    assert _scalars(tmp_path / "tensorboard", "train/loss") == [(1, 7.0), (2, 8.0)]


def _losses(tmp_path, drawn, losses):
    path = tmp_path / "m.csv"
    path.write_text(",".join(FIELDS) + "\n" + "".join(f"{i + 1},{x},1.0,0.001,10,0.0,8,{i}\n" for i, x in enumerate(losses)))
    plot_curve(path, tmp_path / "c.png")
    fig = drawn[-1]
    fig.canvas.draw()
    return fig


def _labels(axis) -> tuple[list[str], list[str]]:
    low, high = axis.get_ylim()
    shown = lambda ticks: [t.get_text() for t in ticks if t.get_text() and low <= t.get_position()[1] <= high]  # noqa: E731
    return shown(axis.get_yticklabels()), shown(axis.get_yticklabels(minor=True))


def test_loss_labels_thin_out_as_the_loss_spans_more_decades_so_they_never_crowd(tmp_path, drawn):
    # over more than 2 decades: the decades alone
    major, minor = _labels(_losses(tmp_path, drawn, [10 ** (1 - 4 * i / 99) for i in range(100)]).axes[0])
    assert major == ["0.001", "0.01", "0.1", "1", "10"] and minor == []
    major, minor = _labels(_losses(tmp_path, drawn, [3 * 10 ** (-2.5 * i / 99) for i in range(100)]).axes[0])
    assert major == ["0.01", "0.1", "1"] and minor == []
    # between 0.7 and 2 decades: some multiples (1, 2, 3, 4, 6), never 5, 7, 8 or 9
    major, minor = _labels(_losses(tmp_path, drawn, [1.5 * 10 ** (-1.2 * i / 99) for i in range(100)]).axes[0])
    assert major == ["0.1", "1"] and set(minor) == {"0.2", "0.3", "0.4", "0.6"}
    # within 0.7 decades: every multiple
    major, minor = _labels(_losses(tmp_path, drawn, [0.9 - 0.6 * i / 99 for i in range(100)]).axes[0])
    assert major == [] and minor == ["0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"]


def test_the_two_panels_sit_side_by_side_and_the_legend_at_the_right_middle(tmp_path, drawn):
    """The legend's place is fixed: "best" sees only the learning-rate axis, so it put the legend over the grad norm."""
    fig = _losses(tmp_path, drawn, [1 / (i + 1) for i in range(60)])
    loss_panel, right, _ = fig.axes
    assert loss_panel.get_position().x1 < right.get_position().x0
    assert abs(loss_panel.get_position().y0 - right.get_position().y0) < 0.05
    box = right.get_legend().get_window_extent()
    panel = right.get_window_extent()
    assert panel.x1 - 40 < box.x1 <= panel.x1 and abs((box.y0 + box.y1) / 2 - (panel.y0 + panel.y1) / 2) < 2
