"""One sample off the latent grid is one sample: check_latent_grid said '1 curated multiview samples have sides'."""

from tests.multiview.test_review_s53_latent_grid import test_views_off_the_vae_grid_are_told_to_set_the_size as _told


def test_one_sample_is_named_in_the_singular(tmp_path, monkeypatch):
    import preprocess.encode as encode

    said, real = [], encode.check_latent_grid

    def spy(*args, **kwargs):
        try:
            real(*args, **kwargs)
        except ValueError as e:
            said.append(str(e))
            raise

    monkeypatch.setattr("tests.multiview.test_review_s53_latent_grid.check_latent_grid", spy)
    _told(tmp_path)
    assert said and said[0].startswith("1 curated multiview sample has sides that are not multiples of 8"), said
