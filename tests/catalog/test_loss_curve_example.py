"""README promises `lumina train` "registers the checkpoint and its loss curve", and nothing said how
to read that curve back from the catalog (session 52 data-lead walk): the catalog README's examples
now have the query, and it gives the run's curve, not another run's."""

from __future__ import annotations

import csv
import io

from catalog import Catalog
from catalog.cli import EXAMPLE_QUERIES, main


def test_the_loss_curve_example_gives_the_newest_checkpoints_run_in_step_order(catalog_copy, capsys):
    path = catalog_copy  # its manifest images@v1, and a checkpoint of run-train logged before these
    with Catalog.open(path) as cat:
        for run_id, losses in (("train-old", {10: 9.0}), ("train-new", {4: 1.5, 2: 1.7, 6: 1.2})):
            cat.start_run("train", {}, run_id=run_id)
            for step, loss in losses.items():
                cat.log_metrics(run_id, {"train_fm_loss": loss, "grad_norm": 1.0}, step=step, split="train")
            cat.register_checkpoint(run_id, f"/runs/{run_id}/checkpoint-{max(losses):07d}", {}, "images", 1,
                                    step=max(losses))
            cat.finish_run(run_id)
    query = next(q for title, q in EXAMPLE_QUERIES if title.startswith("loss curve"))
    assert main(["sql", query, "--csv", "--catalog", str(path)]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [["step", "train_fm_loss"], ["2", "1.7"], ["4", "1.5"], ["6", "1.2"]]
