"""The first `lumina refresh` after `lumina demo --source DIR --set curate_options.vae_factor=1`
curated every input again at the default vae_factor 8 (inputs_to_curate 17 of 17, with a warning):
the last curation of a source ignored data_to_model runs, whose curate stage curated it with its
curate_options. Helper E's finding."""

from catalog import Catalog
from catalog.source_index import last_curation_of_source


def test_a_data_to_model_run_of_a_source_is_its_last_curation_with_its_curate_options(tmp_path):
    src = str(tmp_path / "photos")
    with Catalog.open(tmp_path / "catalog.duckdb") as cat:
        run = cat.start_run("data_to_model", {"modality": "image", "source": src, "curate_options": {"vae_factor": 1},
                                              "manifest_prefix": "image-photos"})
        cat.finish_run(run)
        last = last_curation_of_source(cat, src, "image")
        assert last is not None and last["options"] == {"vae_factor": 1}
        assert last_curation_of_source(cat, src, "video") is None
        demo = cat.start_run("data_to_model", {"modality": "image", "source": None, "curate_options": {"vae_factor": 2}})
        cat.finish_run(demo)  # the demo corpus: no source of the user's
        assert last_curation_of_source(cat, src, "image")["options"] == {"vae_factor": 1}
        later = cat.start_run("curate", {"modality": "image", "source": src, "options": {"vae_factor": 4}})
        cat.finish_run(later)
        assert last_curation_of_source(cat, src, "image")["options"] == {"vae_factor": 4}
