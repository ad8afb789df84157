import pytest

from preprocess.image.demo_corpus import write_demo_corpus


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    return write_demo_corpus(tmp_path_factory.mktemp("corpus"), num_digits=60, num_shapes=20, seed=0)


@pytest.fixture
def analysed(monkeypatch) -> list[str]:
    """The names of the inputs the analysis reads (AnalyseStage._analyse, once per input): counts,
    never times, what a curate or refresh analysed again."""
    import preprocess.curate as pc

    names: list[str] = []
    real = pc.AnalyseStage._analyse

    def counting(self, item):
        names.append(item.name)
        return real(self, item)

    monkeypatch.setattr(pc.AnalyseStage, "_analyse", counting)
    return names
