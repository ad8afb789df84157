"""The phone encoder beyond English: every espeak-ng voice maps to known tokens (a phone split into
a base from the IPA chart, modifiers and tone), while English keeps its version 1 ids."""

import hashlib

import pytest

from encoders.text.phone import PHONE_INVENTORY, UNK, VERSION, WORD, PhoneEncoder, phone_ids, phone_tokens, phonemize


def names(phone: str) -> list[str]:
    return [PHONE_INVENTORY[i] for i in phone_tokens(phone)]


@pytest.mark.parametrize("phone, tokens", [
    ("kʲ", ["k", "ʲ"]),  # ja, ru: palatalised
    ("ɯᵝ", ["ɯ", "ᵝ"]),  # ja: compressed u
    ("o̞", ["o", "\u031e"]),  # ja: lowered o, the diacritic kept as a token (version 1 dropped it)
    ("ä", ["a", "\u0308"]),  # ja: precomposed centralised a, split as its NFD
    ("ɑ̃ː", ["ɑ̃", "ː"]),  # a listed nasal vowel, then length
    ("i2", ["i", "2"]),  # cmn: tone digit after the vowel
    ("i.ɜ", ["ɨ", "3"]),  # cmn: espeak-ng's "i." (apical vowel) and its ɜ for tone 3
    ("aaɜ", ["a", "a", "3"]),  # yue: long a written twice, tone 3
    ("əːɜ", ["ə", "ː", "3"]),  # vi
    ("s.", ["ʂ"]), ("ts.h", ["tʂ", "ʰ"]), ("tɕh", ["tɕ", "ʰ"]),  # cmn's ASCII retroflex and aspiration
    ("ph", ["p", "ʰ"]),  # ko
    ("onɡ5", ["o", "ŋ", "5"]), ("nɡ5", ["ŋ", "5"]),  # cmn, yue: the final's velar nasal
    ("tʃʲ", ["tʃ", "ʲ"]),  # ru: a listed affricate, then palatalisation
    ("cʰcʰ", ["c", "ʰ", "c", "ʰ"]),  # hi: geminate
    ("t͡s", ["ts"]),  # a tie bar is the listed affricate
    ("ɜː", ["ɜː"]), ("oʊ", ["oʊ"]),  # English phones listed whole stay one token
])
def test_a_phone_splits_into_base_modifiers_and_tone(phone, tokens):
    assert names(phone) == tokens


def test_english_keeps_its_version_1_ids():
    # the first 139 entries are version 1's inventory, unchanged: English encodes to the same ids
    assert hashlib.sha256("\n".join(PHONE_INVENTORY[:139]).encode()).hexdigest()[:16] == "e2fbc40ebd7417c1"
    hello = phone_ids(phonemize(["hello world"])[0], 32)
    assert hello == [WORD, 17, 33, 23, 37, WORD, 25, 46, 23, 6, WORD]  # as version 1 encoded it
    # the whole inventory is pinned: a token added anywhere but the end, or removed, fails here
    assert len(PHONE_INVENTORY) == 215 and len(set(PHONE_INVENTORY)) == 215
    assert hashlib.sha256("\n".join(PHONE_INVENTORY).encode()).hexdigest()[:16] == INVENTORY_SHA


INVENTORY_SHA = "6491afc7834e0280"


def test_the_fingerprint_names_the_inventory_version():
    enc = PhoneEncoder()
    v1 = "phone@" + hashlib.sha256("\n".join([*PHONE_INVENTORY[:139], enc.backend, "en-us", "256"]).encode()).hexdigest()[:16]
    assert enc.fingerprint != v1 and enc.describe()["inventory_version"] == VERSION == 2
    assert enc.dim == len(PHONE_INVENTORY)


@pytest.mark.parametrize("voice, text", [
    ("ja", "こんにちは、今日はいい天気ですね。きゃりーぱみゅぱみゅ"),
    ("cmn", "你好世界，我们是中国人。学习中文不太难。"),
    ("yue", "你好世界，一二三四五六七八九十"),
    ("ru", "Съешь же ещё этих мягких французских булок, да выпей чаю."),
    ("ko", "안녕하세요, 커피 한 잔과 케이크 하나 주세요."),
    ("de", "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich. Eichhörnchen"),
    ("it", "Gli gnocchi sono buoni, e la pizza anche."),
    ("hi", "बच्चे शाम तक बगीचे में खेलते हैं। खाना"),
    ("ar", "مرحبا بالعالم، الطقس جميل اليوم."),
    ("vi", "Xin chào thế giới, tôi là người Việt Nam"),
    ("fr-fr", "Portez ce vieux whisky au juge blond qui fume, un vin blanc."),
])
def test_every_phone_of_a_voice_is_named(voice, text):
    enc = PhoneEncoder(language=voice)
    ids = enc.ids([text])[0]
    assert (ids != 0).sum() > 10 and UNK not in ids.tolist(), [p for p in phonemize([text], voice)[0] if UNK in phone_tokens(p)]
