"""options.metadata_name is matched against each file's name: a path ("wavs/metadata.csv") matched
no file, so the listing was never read and every take was quarantined missing_caption without a
word. It is refused in one line now; a plain name of any file is taken."""

from __future__ import annotations

import pytest

from contracts.config import OutOfRange
from preprocess.speech.plugin import SpeechOptions


@pytest.mark.parametrize("name", ["wavs/metadata.csv", "/data/lj/metadata.csv", "lj\\metadata.csv", " "])
def test_a_path_or_blank_metadata_name_is_refused(name):
    with pytest.raises(OutOfRange, match="metadata_name must be a file name"):
        SpeechOptions(metadata_name=name)


def test_a_file_name_is_taken():
    assert SpeechOptions(metadata_name="train.csv").metadata_name == "train.csv"
