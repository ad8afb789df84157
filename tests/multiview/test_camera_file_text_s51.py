"""How a camera file's text is read (session 51 walkthrough): a cameras.json saved by a Windows editor
starts with a UTF-8 byte order mark, which json refuses, so a valid file was quarantined as
"not JSON (JSONDecodeError)"; that reason never said where a hand-edited file breaks either."""

import codecs
import json

import pytest

from encoders.cameras import CameraFileError, parse_cameras

DOC = {"convention": "spherical", "views": [{"file": f"{i}.png", "elevation": 20, "azimuth": 90 * i + 30, "radius": 1.0} for i in range(4)]}


def test_a_byte_order_mark_is_read_past():
    cams = parse_cameras(codecs.BOM_UTF8 + json.dumps(DOC).encode())
    assert [c.file for c in cams.cameras] == ["0.png", "1.png", "2.png", "3.png"]


def test_broken_json_says_where():
    text = json.dumps(DOC, indent=1).replace('"radius": 1.0\n', '"radius": 1.0,\n', 1)  # a trailing comma
    with pytest.raises(CameraFileError, match=r"^not JSON \(Expecting property name enclosed in double quotes at line 9 column 3\)$"):
        parse_cameras(text.encode())


def test_text_that_is_not_utf8_says_which_byte():
    with pytest.raises(CameraFileError, match=r"^not UTF-8 text \(byte 0xe9 at offset 16\)$"):
        parse_cameras('{"caption": "caf\u00e9"}'.encode("latin-1"))
