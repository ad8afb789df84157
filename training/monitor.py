"""Watching a run: one row per step to a CSV and TensorBoard, a loss-curve PNG at each checkpoint
and at the end, and how each epoch's batches were formed (``EpochBatches``: the log and TensorBoard)."""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass
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
        _keep_rows_up_to(self.csv_path, start_step)
        self._file = open(self.csv_path, "a", newline="")
        self._csv = csv.DictWriter(self._file, FIELDS)
        self._plotted_at: float | None = None
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
        """A step's `FIELDS` (the trainer's row also carries its batch's token counts, for the window's [PAD] share)."""
        self._csv.writerow({k: row.get(k) for k in FIELDS})
        self._file.flush()  # readable while the run goes on
        if self.tb is not None:
            for k in FIELDS:
                if k != "step" and (v := row.get(k)) is not None:
                    self.tb.add_scalar(f"train/{k}", v, int(row["step"]))

    def log_epoch(self, step: int, epoch: "EpochBatches") -> None:
        """An epoch's batches, at the step that trained its last one (TensorBoard's epoch/*)."""
        if self.tb is not None:
            for k, v in epoch.figures().items():
                self.tb.add_scalar(f"epoch/{k}", v, step)

    def plot(self, at_most_every_s: float = 0.0) -> Path | None:
        """The loss-curve PNG of the steps so far, unless one was drawn less than `at_most_every_s` ago
        (the trainer draws one at each checkpoint, so a run of days is watched by it too)."""
        now = time.monotonic()
        if self._plotted_at is not None and now - self._plotted_at < at_most_every_s:
            return None
        self._plotted_at = now
        self._file.flush()
        return plot_curve(self.csv_path, self.out / "loss_curve.png")

    def close(self) -> Path | None:
        self._file.close()
        if self.tb is not None:
            self.tb.close()
        return plot_curve(self.csv_path, self.out / "loss_curve.png")


@dataclass
class EpochBatches:
    """How the batches of one epoch a run trained on were formed (from batch `first` of it on: a
    resumed run starts inside one)."""

    epoch: int
    first: int = 0
    batches: int = 0
    samples: int = 0
    ones: int = 0  # batches of one sample: its gradient alone made the step
    alone: int = 0  # of those, samples over half the token budget, which no other sample fits beside
    longest_alone: int = 0  # tokens
    tokens: int = 0  # real tokens
    padded: int = 0  # tokens computed: each batch's size x its longest sample
    complete: bool = False  # its last batch was trained on

    def add(self, samples: int, tokens: int, padded: int, max_tokens: int | None) -> None:
        self.batches, self.samples, self.tokens, self.padded = (self.batches + 1, self.samples + samples,
                                                                 self.tokens + tokens, self.padded + padded)
        if samples == 1:
            self.ones += 1
            if max_tokens is not None and 2 * tokens > max_tokens:
                self.alone += 1
                self.longest_alone = max(self.longest_alone, tokens)

    def after(self, earlier: "EpochBatches | None") -> "EpochBatches":
        """This part of an epoch joined to the part trained before it (a stopped run's, which a
        --resume continues), when `earlier` ends where this begins; else this part alone."""
        if earlier is None or earlier.epoch != self.epoch or earlier.first + earlier.batches != self.first:
            return self
        return EpochBatches(self.epoch, earlier.first, earlier.batches + self.batches, earlier.samples + self.samples,
                            earlier.ones + self.ones, earlier.alone + self.alone,
                            max(earlier.longest_alone, self.longest_alone), earlier.tokens + self.tokens,
                            earlier.padded + self.padded, self.complete)

    def figures(self) -> dict[str, float]:
        return {"batches": self.batches, "samples_per_batch": self.samples / max(1, self.batches),
                "batches_of_one": self.ones, "padding": 1 - self.tokens / self.padded if self.padded else 0.0}

    def whole(self) -> bool:
        return self.first == 0 and self.complete


class BatchLog:
    """Rank 0's account of how batches were formed, from the items it trains on: a line per epoch
    (epochs that end in the same log window share one), and once, a warning where batches of one
    sample are forced by the token budget."""

    def __init__(self, max_tokens: int | None, over_half: tuple[int, int] | None = None,
                 resumed: "EpochBatches | None" = None):
        self.max_tokens = max_tokens
        # the part of the epoch a --resume continues that the stopped run trained (its checkpoint's
        # train_state.json): the lines say this call's batches, TensorBoard's epoch/* the whole epoch's
        self.resumed = resumed
        self.trained = False
        # (samples, the longest's tokens) of the manifest's samples over half of max_tokens, where the
        # trainer knows them: the warning's advice covers those, not only the ones trained on so far
        self.over_half = over_half
        self.current: EpochBatches | None = None
        self.ended: list[EpochBatches] = []  # not said yet
        self.warned = False

    def add(self, item: dict) -> EpochBatches | None:
        """Count a trained batch; the epoch it ended, if it was the epoch's last (the whole epoch, its
        part before a --resume too: a stopped and resumed run gives a straight run's figures)."""
        pos = item["position"]
        self.trained = True
        if self.current is None or self.current.epoch != pos.epoch:
            if self.current is not None:  # the epoch before ended without its last batch marked (cannot, but say it)
                self.ended.append(self.current)
            self.current = EpochBatches(pos.epoch, first=pos.index)
        e = self.current
        e.add(item["global_size"], item["tokens"], item["padded_tokens"], self.max_tokens)
        if not item.get("epoch_ends"):
            return None
        e.complete, self.current = True, None
        self.ended.append(e)
        return e.after(self.resumed)

    def open_epoch(self) -> dict | None:
        """The epoch trained inside so far, the part before a --resume included, for a checkpoint's
        train_state.json; None at an epoch's end."""
        if self.current is not None:
            return asdict(self.current.after(self.resumed))
        return asdict(self.resumed) if self.resumed is not None and not self.trained else None

    def say(self, log: logging.Logger, run_ended: bool = False) -> None:
        """Log the epochs ended since the last call (at a log window's end); at the run's end also
        the epoch it stopped inside."""
        told = self.ended + ([self.current] if run_ended and self.current is not None else [])
        self.ended = []
        whole: list[EpochBatches] = []
        for e in told:
            if e.whole():
                whole.append(e)
                continue
            self._line(log, whole)
            whole = []
            self._line(log, [e])
        self._line(log, whole)
        # warned as soon as a log window shows it: a long epoch's end may be hours away
        self._warn(log, told + ([self.current] if not run_ended and self.current is not None else []))

    def _line(self, log: logging.Logger, epochs: list[EpochBatches]) -> None:
        if not epochs:
            return
        e = epochs[0]
        if len(epochs) > 1:
            which = f"epochs {e.epoch}-{epochs[-1].epoch}"
        elif e.whole():
            which = f"epoch {e.epoch}"
        else:  # a resumed run's first, or the one the run stopped inside
            which = f"epoch {e.epoch}, {_span(e)}{'' if e.complete else ' (so far)'}"
        n = sum(x.batches for x in epochs)
        total = EpochBatches(e.epoch, batches=n, samples=sum(x.samples for x in epochs), ones=sum(x.ones for x in epochs),
                             tokens=sum(x.tokens for x in epochs), padded=sum(x.padded for x in epochs)).figures()
        # "3.5 samples per batch, 0 of one sample" read as a count of samples: say they are batches
        ones = total["batches_of_one"]
        log.info("%s: %d batch%s, %.1f samples per batch on average, %d batch%s a single sample, [PAD] %.1f%%", which, n,
                 "" if n == 1 else "es", total["samples_per_batch"], ones, " holds" if ones == 1 else "es hold",
                 100 * total["padding"])

    def _warn(self, log: logging.Logger, epochs: list[EpochBatches]) -> None:
        hit = next((e for e in epochs if e.alone), None)
        if self.warned or hit is None:
            return
        self.warned = True
        longest, manifest = hit.longest_alone, ""
        if self.over_half is not None and self.over_half[1] > longest:
            # the batches so far showed only some of them (a user who raised the budget to what they
            # showed still had the longer ones alone)
            longest = self.over_half[1]
            manifest = (f"the manifest holds {self.over_half[0]} such sample{'' if self.over_half[0] == 1 else 's'}, "
                        f"up to {longest} tokens: ")
        log.warning("%d of %s of epoch %d held one sample each: %d %s more than half of --tokens-per-batch %d (up to "
                    "%d tokens), so no other sample fits beside %s and each gets an optimizer step of its own; "
                    "%s--tokens-per-batch %d or more batches them in pairs (said once)", hit.alone,
                    f"the {hit.batches} batches" if hit.whole() else _span(hit), hit.epoch, hit.alone,
                    "sample has" if hit.alone == 1 else "samples have", self.max_tokens, hit.longest_alone,
                    "it" if hit.alone == 1 else "one", manifest, 2 * longest)


def _span(e: EpochBatches) -> str:
    return f"batch {e.first}" if e.batches == 1 else f"batches {e.first}-{e.first + e.batches - 1}"


def _keep_rows_up_to(path: Path, step: int) -> None:
    """metrics.csv with only the rows of steps up to `step` (a resume's checkpoint; 0 for a fresh run),
    rewritten row by row: reading a long run's rows into dicts took ~0.7 KB a step."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(FIELDS)
        if path.exists():
            with open(path, newline="") as f:
                rows = csv.reader(f)
                header = next(rows, None) or []
                at = {name: i for i, name in enumerate(header)}
                for r in rows:
                    if _whole_row(r, len(header)) and r[at.get("step", 0)] and int(float(r[at.get("step", 0)])) <= step:
                        w.writerow([r[at[k]] if k in at and at[k] < len(r) else "" for k in FIELDS])
    os.replace(tmp, path)


def _whole_row(row: list[str], width: int) -> bool:
    """A row as `RunMonitor.log` writes it: every field, each a number or empty. A run killed mid-write
    leaves a last row cut short ('1' of '125,...' was kept as a step-1 row after step 60), and a power
    loss can bring the file's tail back as zero bytes (the float() of it stopped --resume:
    "could not convert string to float: '\\x00...'"); neither is a row."""
    if len(row) != width:
        return False
    try:
        for value in row:
            if value:
                float(value)
    except ValueError:
        return False
    return True


def _columns(path: Path, names: tuple[str, ...]):
    """The named columns of metrics.csv as float arrays (empty cells as NaN)."""
    import numpy as np

    if not path.exists():
        return None
    cols: list[list[float]] = [[] for _ in names]
    with open(path, newline="") as f:
        rows = csv.reader(f)
        header = next(rows, None) or []
        at = [header.index(n) for n in names]
        for r in rows:
            if len(r) == len(header):
                for c, i in zip(cols, at):
                    c.append(float(r[i]) if r[i] else float("nan"))
    return [np.asarray(c, dtype=np.float64) for c in cols]


# lines of more points than this are drawn from every n-th point (the running mean is computed from all)
MAX_POINTS = 20_000


def _PlainLog(**kw):
    """matplotlib's choice of which log ticks to label, written as plain numbers: a loss between
    1.05 and 1.12 was labelled 1.08x10^0."""
    from matplotlib.ticker import LogFormatter

    class PlainLog(LogFormatter):
        def __call__(self, x, pos=None):
            return f"{x:g}" if super().__call__(x, pos) else ""

    return PlainLog(**kw)


def running_mean(values, k: int):
    """Mean of each value and the k - 1 before it (fewer at the start), in one pass; non-finite values
    (a skipped step's loss) are left out, as the log windows leave them out (in a cumulative sum one
    would have made every later mean NaN)."""
    import numpy as np

    finite = np.isfinite(values)
    sums = np.cumsum(np.concatenate([[0.0], np.where(finite, values, 0.0)]))
    counts = np.cumsum(np.concatenate([[0], finite.astype(np.int64)]))
    i = np.arange(1, len(values) + 1)
    lo = np.maximum(0, i - k)
    n = counts[i] - counts[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[i] - sums[lo]) / np.maximum(n, 1), np.nan)


def _enough_loss_ticks(a) -> None:
    """Evenly spaced plain ticks where the log axis would have fewer than three in view: a loss from
    1.5 down to 0.88 crosses 1, where the log ticks in view are 0.9 and 1 only (the decade above has
    none before 2), so the curve's upper half read against no label."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

    low, high = a.get_ylim()
    shown = [y for y in (*a.yaxis.get_majorticklocs(), *a.yaxis.get_minorticklocs()) if low <= y <= high]
    if len(shown) < 3:
        a.yaxis.set_major_locator(MaxNLocator(nbins=5))
        a.yaxis.set_minor_locator(NullLocator())
        a.yaxis.set_major_formatter(FuncFormatter(lambda x, pos: f"{x:.4g}"))


def plot_curve(csv_path: Path, png: Path) -> Path | None:
    columns = _columns(csv_path, ("step", "loss", "lr", "grad_norm"))
    if columns is None or not len(columns[0]):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, loss, lr, grad_norm = columns
    every = max(1, -(-len(steps) // MAX_POINTS))
    shown = slice(None, None, every)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.plot(steps[shown], loss[shown], lw=0.6, alpha=0.5, label="step" if every == 1 else f"every {every}th step")
    k = len(steps) // 50  # a running mean over 2% of the run; under 100 steps the steps alone
    if k > 1:
        a.plot(steps[shown], running_mean(loss, k)[shown], lw=1.5, label=f"mean of {k}")
    a.set(xlabel="step", ylabel="flow-matching loss", yscale="log", title="training loss")
    a.yaxis.set_major_formatter(_PlainLog())
    a.yaxis.set_minor_formatter(_PlainLog(labelOnlyBase=False, minor_thresholds=(2, 0.7)))  # every minor tick within 0.7 decades
    _enough_loss_ticks(a)
    a.legend()
    lines = b.plot(steps[shown], lr[shown], color="tab:green", label="learning rate (left)")
    b.set(xlabel="step", title="learning rate and grad norm")
    b.set_ylabel("learning rate", color="tab:green")
    b2 = b.twinx()
    lines += b2.plot(steps[shown], grad_norm[shown], color="tab:red", lw=0.6, alpha=0.6,
                     label="grad norm (right)")
    b2.set_ylabel("grad norm", color="tab:red")
    b.legend(lines, [ln.get_label() for ln in lines], fontsize="small", loc="center right")  # "best" sees one axis only
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png


# the loggers whose records a run prints while its bar shows: the trainer's, and on the Ray driver
# rank 0's `training` records and Python warnings (`py.warnings`) replayed from messages.jsonl
BAR_LOGGERS = ("training", "py.warnings")


@contextlib.contextmanager
def logging_above(bar):
    """While the progress bar ``bar`` (tqdm) shows: log lines to the console go through tqdm.write,
    above the bar (a warning such as "stop requested" was printed on the bar's own line). Only the
    loggers that print to the console already (the command lines' "training" handler, a root
    handler): others keep their handlers (Prefect, pytest). A record of BAR_LOGGERS that no handler
    takes, which logging's last resort (``logging.lastResort``) would print on stderr over the bar,
    is printed above it as well, as the last resort would (WARNING and up): on the Ray driver of a
    command line, rank 0's Python warnings. Nothing changes with the bar disabled."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    def to_console(h: logging.Handler) -> bool:  # what logging_redirect_tqdm replaces
        return isinstance(h, logging.StreamHandler) and h.stream in (sys.stdout, sys.stderr)

    if bar.disable:
        yield
        return
    loggers = [lg for lg in (logging.getLogger(), logging.getLogger("training")) if any(map(to_console, lg.handlers))]
    last_resort = logging.lastResort
    unhandled = [] if last_resort is None else [lg for lg in map(logging.getLogger, BAR_LOGGERS) if not _handled(lg)]
    above = _AboveTheBar(type(bar), last_resort.level if last_resort is not None else logging.WARNING)
    with logging_redirect_tqdm(loggers=loggers, tqdm_class=type(bar)) if loggers else contextlib.nullcontext():
        for lg in unhandled:
            lg.addHandler(above)
        try:
            yield
        finally:
            for lg in unhandled:
                lg.removeHandler(above)


def _handled(logger: logging.Logger) -> bool:
    """Whether a record of ``logger`` meets a handler (else logging hands it to its last resort)."""
    while logger is not None:
        if logger.handlers:
            return True
        logger = logger.parent if logger.propagate else None
    return False


class _AboveTheBar(logging.Handler):
    """logging's last resort (the message alone, on stderr) through ``tqdm_class.write``: above its bars."""

    def __init__(self, tqdm_class, level: int):
        super().__init__(level)
        self.tqdm_class = tqdm_class

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # a Python warning's text ends in its own newline (warnings.formatwarning)
            self.tqdm_class.write(self.format(record).rstrip("\n"), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging's own policy: report, never raise into the caller
            self.handleError(record)
