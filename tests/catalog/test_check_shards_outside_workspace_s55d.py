"""`lumina catalog check --shards` of a copied workspace read the original's shards: the catalog
records absolute uris. On a copy of the image demo's workspace with a curated shard of the copy
truncated, it said 'shards: 11 registered shards looked at, 101.6 MB hashed', every count 0, exit 0,
never having read the copy's files. It still reads what the catalog records (what training reads),
and now says how many of those are not in the catalog's workspace, with one of them."""

from __future__ import annotations

from catalog import Catalog
from catalog.cli import main

from .helpers import make_batch


def test_check_shards_names_shards_outside_the_catalogs_workspace(catalog_copy, capsys):
    home = catalog_copy.parent
    with Catalog.open(catalog_copy) as cat:  # its 3 shards are /shards/b000N.tar; one more in the workspace
        run = cat.start_run("curate", {}, run_id="run-home")
        cat.register_batches([make_batch(20, n=1, shard_dir=str(home / "encoded"))], run)
        cat.finish_run(run)
    main(["check", "--shards", "--catalog", str(catalog_copy)])
    out = capsys.readouterr().out
    assert (f"note: 3 of them are not in this catalog's workspace {home} but where they were registered "
            f"(e.g. /shards/b0000.tar): those files were read, as training reads them, not copies in {home}") in out
