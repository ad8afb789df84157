"""`lumina catalog why FILE` of a file a refresh had superseded told the current sample's story, and
its 'Status changes by refreshes' section read '(none)', as if no refresh had touched the file: the
section is of this sample only (the superseded one's story has the change). It is now headed so,
and beside an empty one it names the file's earlier sample this one superseded."""

from __future__ import annotations

import dataclasses

from catalog import Catalog
from catalog.cli import main
from catalog.source_index import Retirement, retire
from tests.catalog.helpers import key, make_batch


def _catalog(tmp_path, replaced: int) -> str:
    """Batch 1's sample 0 and the `replaced` after it come from one file /raw/x.png, those superseded by sample 0."""
    path = str(tmp_path / "c.duckdb")
    batch = make_batch(1, n=4, status_cycle=("accepted",))
    batch = dataclasses.replace(batch, samples=[dataclasses.replace(s, source_uri="/raw/x.png") if j <= replaced else s
                                                for j, s in enumerate(batch.samples)])
    with Catalog.open(path) as cat:
        run = cat.start_run("curate", {})
        cat.register_batches([batch], run)
        retire(cat, [Retirement(key(1, j), "superseded", f"superseded: by {key(1, 0)}", key(1, 0))
                     for j in range(1, 1 + replaced)], run)
        cat.finish_run(run)
    return path


def _section(capsys, catalog: str, which: str) -> list[str]:
    assert main(["why", which, "--catalog", catalog]) == 0
    out = capsys.readouterr().out.splitlines()
    at = out.index("== Status changes of this sample by refreshes")
    return out[at + 1:at + 2]


def test_the_replacement_names_the_sample_it_superseded(tmp_path, capsys):
    catalog = _catalog(tmp_path, replaced=1)
    assert _section(capsys, catalog, "/raw/x.png") == [
        f"(none: no refresh changed this sample's status; a refresh superseded this file's earlier sample with it: "
        f"lumina catalog why {key(1, 1)})"]
    assert _section(capsys, catalog, key(1, 1))[0].startswith("changed_at")  # the superseded one's story has the change


def test_several_replaced_are_counted_and_a_sample_that_replaced_none_says_none(tmp_path, capsys):
    catalog = _catalog(tmp_path, replaced=2)
    assert "superseded this file's 2 earlier samples with it" in _section(capsys, catalog, key(1, 0))[0]
    assert _section(capsys, catalog, key(1, 3)) == ["(none)"]
