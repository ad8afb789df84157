"""HTML formatting is dropped from a transcript only where it is HTML (helper N, session 52): words in
angle brackets that begin with a formatting tag's name ("<b and c>") are a markup tag the take is
rejected for, not a bold tag whose 'attributes' vanish with the words."""

from encoders.audio.transcript import asr_tags, normalise_transcript


def test_words_in_angle_brackets_are_a_tag_not_html():
    assert asr_tags("if a <b and c> d then") == ["<b and c>"]
    assert asr_tags("so <i think so> yes") == ["<i think so>"]


def test_html_with_attributes_is_still_dropped():
    assert normalise_transcript('<font color="#ff0000">Red</font> alert') == "red alert"
    assert normalise_transcript("<font face=Arial size=2>hi</font> there") == "hi there"
    assert normalise_transcript("one<br />two") == "one two"
    assert asr_tags('<span style="x:y">ok</span>') == []
