"""The loss curve of a second stage (a speech walkthrough, 2026-12-06: --init-from, 30 steps, loss from
1.5 down to 0.88): its log axis labelled 0.9 and 1 only, the upper half of the curve against no label."""

from __future__ import annotations

import matplotlib.figure

from training.monitor import FIELDS, plot_curve


def test_a_loss_across_1_with_no_log_tick_above_gets_evenly_spaced_labels(tmp_path, monkeypatch):
    losses = [1.5 - 0.62 * i / 29 for i in range(30)]
    csv_path = tmp_path / "m.csv"
    csv_path.write_text(",".join(FIELDS) + "\n" + "".join(f"{i + 1},{x},1.0,0.001,10,0.0,8,{i}\n" for i, x in enumerate(losses)))
    seen = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: (fig.canvas.draw(), seen.append(fig)))
    plot_curve(csv_path, tmp_path / "c.png")
    axis = seen[0].axes[0]
    low, high = axis.get_ylim()
    shown = [t.get_text() for t in axis.get_yticklabels(minor=True) + axis.get_yticklabels()
             if t.get_text() and low <= t.get_position()[1] <= high]
    assert len(shown) >= 3 and any(float(x) > 1.1 for x in shown), shown
    assert axis.get_yscale() == "log" and all("10" not in x[1:] for x in shown), shown
