"""Watching a run: one row per step to a CSV and TensorBoard, and a loss-curve PNG at the end."""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

FIELDS = ("step", "loss", "grad_norm", "lr", "tokens_per_s", "padding", "samples", "seconds")
log = logging.getLogger(__name__)


class RunMonitor:
    """Rank 0 only. Appends on resume (rows past the resumed step are dropped first; a fresh run,
    start_step 0, drops every row of an earlier attempt in the folder)."""

    def __init__(self, out_dir: str | os.PathLike, start_step: int = 0, tensorboard: bool = True):
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.out / "metrics.csv"
        rows = _read(self.csv_path)
        kept = [r for r in rows if int(float(r["step"])) <= start_step]
        with open(self.csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, FIELDS)
            w.writeheader()
            w.writerows(kept)
        self._file = open(self.csv_path, "a", newline="")
        self._csv = csv.DictWriter(self._file, FIELDS)
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                # event files of a resumed run's later steps, or of an attempt a fresh run replaces (killed
                # before its first checkpoint), are hidden from step start_step + 1 on, as metrics.csv drops them
                self.tb = SummaryWriter(str(self.out / "tensorboard"), purge_step=start_step + 1)
            except ImportError:  # tensorboard not installed: the CSV still has every row
                log.warning("tensorboard is not installed; writing metrics.csv only")

    def log(self, row: dict[str, float]) -> None:
        self._csv.writerow({k: row.get(k) for k in FIELDS})
        self._file.flush()  # readable while the run goes on
        if self.tb is not None:
            for k, v in row.items():
                if k != "step" and v is not None:
                    self.tb.add_scalar(f"train/{k}", v, int(row["step"]))

    def close(self) -> Path | None:
        self._file.close()
        if self.tb is not None:
            self.tb.close()
        return plot_curve(self.csv_path, self.out / "loss_curve.png")


def _read(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _PlainLog(**kw):
    """matplotlib's choice of which log ticks to label, written as plain numbers: a loss between
    1.05 and 1.12 was labelled 1.08x10^0."""
    from matplotlib.ticker import LogFormatter

    class PlainLog(LogFormatter):
        def __call__(self, x, pos=None):
            return f"{x:g}" if super().__call__(x, pos) else ""

    return PlainLog(**kw)


def plot_curve(csv_path: Path, png: Path) -> Path | None:
    rows = _read(csv_path)
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [int(float(r["step"])) for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.plot(steps, [float(r["loss"]) for r in rows], lw=0.6, alpha=0.5, label="step")
    k = len(rows) // 50  # a running mean over 2% of the run; under 100 steps the steps alone
    if k > 1:
        smooth = [sum(float(r["loss"]) for r in rows[max(0, i - k + 1): i + 1]) / len(rows[max(0, i - k + 1): i + 1]) for i in range(len(rows))]
        a.plot(steps, smooth, lw=1.5, label=f"mean of {k}")
    a.set(xlabel="step", ylabel="flow-matching loss", yscale="log", title="training loss")
    a.yaxis.set_major_formatter(_PlainLog())
    a.yaxis.set_minor_formatter(_PlainLog(labelOnlyBase=False, minor_thresholds=(2, 0.7)))  # every minor tick within 0.7 decades
    a.legend()
    lines = b.plot(steps, [float(r["lr"]) for r in rows], color="tab:green", label="learning rate (left)")
    b.set(xlabel="step", title="learning rate and grad norm")
    b.set_ylabel("learning rate", color="tab:green")
    b2 = b.twinx()
    lines += b2.plot(steps, [float(r["grad_norm"]) for r in rows], color="tab:red", lw=0.6, alpha=0.6,
                     label="grad norm (right)")
    b2.set_ylabel("grad norm", color="tab:red")
    b.legend(lines, [ln.get_label() for ln in lines], fontsize="small", loc="center right")  # "best" sees one axis only
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png
