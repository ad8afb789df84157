"""A LUMINA_SPEECH_VOCODER that names no file, or a file torch cannot load, ends `lumina sample`
and `lumina evaluate` in one line naming it, before any sampling. Before, a missing file printed
torch's traceback as a warning and then "[Errno 2] No such file or directory" without the variable,
a file that was no archive ended in a BadZipFile traceback (exit 1), both after sampling."""

from __future__ import annotations

import zipfile
from types import SimpleNamespace

import pytest

from evaluation.speech.sample import prepare
from evaluation.speech.vocoder import generator_path


def _files(tmp_path):
    (tmp_path / "junk.pt2").write_text("not a model")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("a", "b")
    return {"missing": (tmp_path / "nope.pt2", "no such file"), "folder": (tmp_path, "no such file"),
            "junk": (tmp_path / "junk.pt2", "not a zip archive"), "zip": (tmp_path / "other.zip", "torch cannot load it")}


@pytest.mark.parametrize("case", ["missing", "folder", "junk", "zip"])
def test_a_wrong_vocoder_is_one_value_error_naming_it(tmp_path, monkeypatch, case):
    path, why = _files(tmp_path)[case]
    monkeypatch.setenv("LUMINA_SPEECH_VOCODER", str(path))
    with pytest.raises(ValueError) as e:
        generator_path()
    assert str(e.value).startswith(f"vocoder {path} (LUMINA_SPEECH_VOCODER: ") and why in str(e.value)
    with pytest.raises(ValueError, match="LUMINA_SPEECH_VOCODER"):  # lumina sample's hook says it before sampling
        prepare(SimpleNamespace(prompt="hello", size=None, frames=None), tmp_path, [80, 1, 1, 10])


def test_without_a_vocoder_griffin_lim_is_used(monkeypatch):
    monkeypatch.delenv("LUMINA_SPEECH_VOCODER", raising=False)
    assert generator_path() is None
