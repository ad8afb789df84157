"""options.language must be a voice espeak-ng has: a run with language zh quarantined every take as
analysis_error ('language "zh" is not supported'), after reading and decoding all of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from preprocess.speech.plugin import SpeechOptions

LUMINA = str(Path(sys.executable).parent / "lumina")


@pytest.mark.parametrize("given, meant", [("zh", "cmn"), ("zh-TW", "cmn"), ("en", "en-us"), ("en_US", "en-us"), ("jp", "ja"), ("fr", "fr-be' or 'fr-ch' or 'fr-fr")])
def test_a_code_that_is_no_voice_is_refused_with_the_voice_meant(given, meant):
    with pytest.raises(ValueError, match=f"options.language '{given}' is no espeak-ng voice: did you mean '{meant}'"):
        SpeechOptions(language=given)


def test_voices_espeak_has_are_taken():
    for voice in ("en-us", "cmn", "ja", "de", "fr-fr", "yue"):
        assert SpeechOptions(language=voice).language == voice


def test_curate_refuses_before_any_work(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.wav").write_bytes(b"")
    r = subprocess.run([LUMINA, "curate", str(tmp_path / "src"), "--modality", "speech", "--home", str(tmp_path / "home"),
                        "--set", "options.language=zh", "--local"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("lumina curate: error: options.language 'zh' is no espeak-ng voice")
    assert not (tmp_path / "home").exists()
