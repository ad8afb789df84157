"""Which samples are a source's when a refresh retires what left it: besides origins under the
source's folder (or matching its tar globs), the samples a curate, refresh or data_to_model run of
that source registered last. A listing's media may lie outside the listing's folder: only the run
says they are the source's."""

from __future__ import annotations

from catalog import Catalog
from catalog.source_index import samples_gone_from_source

from .helpers import make_batch, run_py

LISTING = "/data/captions.parquet"  # its media: /raw/<batch>/<j>.png, outside /data


def test_samples_a_run_of_the_source_registered_are_its_own_whatever_the_flow(tmp_path):
    with Catalog.open(tmp_path / "catalog.duckdb") as cat:
        for b, (flow, source) in enumerate([("data_to_model", LISTING), ("curate", LISTING), ("refresh", LISTING),
                                            ("curate", "/data/other.parquet"), ("encode", LISTING)]):
            run = cat.start_run(flow, {"source": source})
            cat.register_batches([make_batch(b, n=2, status_cycle=("accepted",))], run)
            cat.finish_run(run)

        gone = samples_gone_from_source(cat, LISTING, "image", prefixes=["/data/"], patterns=[],
                                        present_uris=["/raw/0/1.png", "/raw/2/0.png"])
        # batches 0-2 came from runs of this listing (data_to_model, curate, refresh); 3 from another
        # source, 4 from a run that does not take a source in
        assert gone == ["/raw/0/0.png", "/raw/1/0.png", "/raw/1/1.png", "/raw/2/1.png"]
        assert samples_gone_from_source(cat, LISTING, "video", prefixes=["/data/"], patterns=[], present_uris=[]) == []
        by_prefix = samples_gone_from_source(cat, "/raw/3", "image", prefixes=["/raw/3/"], patterns=[], present_uris=[])
        assert by_prefix == ["/raw/3/0.png", "/raw/3/1.png"]


def test_a_refresh_finds_the_options_of_a_curate_that_recorded_its_source_relative(tmp_path):
    """Runs before 53e8a79 recorded the source as typed (`lumina curate src2`): a refresh of the
    absolute folder re-curated everything at the defaults instead of reusing their options."""
    from catalog.source_index import last_curation_of_source

    with Catalog.open(tmp_path / "catalog.duckdb") as cat:
        for source, size in [("/elsewhere/src2", 48), ("./src2/", 32), ("other", 64)]:  # the relative one newer
            run = cat.start_run("curate", {"source": source, "modality": "image", "options": {"size": size}})
            cat.finish_run(run)
        assert last_curation_of_source(cat, "/home/me/src2", "image")["options"] == {"size": 32}
        assert last_curation_of_source(cat, "/elsewhere/src2", "image")["options"] == {"size": 48}  # exact wins
        assert last_curation_of_source(cat, "/home/me/mysrc2", "image") is None  # a name's end is not a folder
        assert last_curation_of_source(cat, "/home/me/src2", "video") is None


def test_the_samples_of_a_million_inputs_are_looked_up_without_binding_a_million_element_list(tmp_path):
    """A first refresh retires against every input it curated: a list parameter of 1M uris took
    ~440 MB of DuckDB memory to bind; a registered Arrow column of them takes ~160 MB."""
    code = """
import resource, sys
from catalog import Catalog
from catalog.source_index import current_samples_of
cat = Catalog.open(sys.argv[1])
uris = [f"/data/corpus/shard-{i // 5000:05d}.tar#{i:09d}.png" for i in range(1_000_000)]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert current_samples_of(cat, uris, "image") == []
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""
    out = run_py(code, str(tmp_path / "catalog.duckdb"))
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) < 300, f"peak grew {out.stdout.split()[-1]} MB"
