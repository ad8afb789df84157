import pytest

from preprocess.image.demo_corpus import write_demo_corpus


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    return write_demo_corpus(tmp_path_factory.mktemp("corpus"), num_digits=60, num_shapes=20, seed=0)
