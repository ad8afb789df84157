"""The phone encoder: espeak-ng's phonemes, a fixed inventory, one-hot rows with a mask."""

import ctypes

import numpy as np

from encoders.text import load_text_encoder
from encoders.text.phone import PAD, PHONE_INVENTORY, UNK, WORD, _phonemize_cmudict, phone_tokens, phonemize


def espeak_ipa(text: str, voice: str = "en-us") -> str:
    """Ask libespeak-ng itself (the bundled library, called directly, not through phonemizer)."""
    import espeakng_loader

    lib = ctypes.cdll.LoadLibrary(espeakng_loader.get_library_path())
    assert lib.espeak_Initialize(2, 0, espeakng_loader.get_data_path().encode(), 0x8000) > 0  # AUDIO_OUTPUT_RETRIEVAL, dont-exit
    assert lib.espeak_SetVoiceByName(voice.encode()) == 0
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    ptr = ctypes.c_char_p(text.encode())
    out = []
    while ptr.value:  # one clause per call
        out.append(lib.espeak_TextToPhonemes(ctypes.pointer(ptr), 1, 0x02 | (ord("_") << 8)).decode())  # UTF-8 in; IPA, '_' between phones
    return " ".join(out)


def test_hello_world_gives_the_phonemes_espeak_ng_gives():
    ours = phonemize(["hello world"])[0]
    theirs = espeak_ipa("hello world")  # e.g. 'h_ə_l_ˈoʊ w_ˈɜː_l_d'
    expected = [p.replace("ˈ", "").replace("ˌ", "") for w in theirs.split() for p in [*w.split("_"), "|"]][:-1]
    assert ours == [p for p in expected if p]
    assert ours == ["h", "ə", "l", "oʊ", "|", "w", "ɜː", "l", "d"]  # the en-us pronunciation, for the reader


def test_phone_features_are_one_hot_rows_with_a_mask():
    enc = load_text_encoder("phone", max_tokens=16)
    t = enc.encode(["hello world", ""])
    assert t.feats.shape == (2, 16, len(PHONE_INVENTORY)) and t.feats.dtype == np.float16
    ids = t.feats[0].astype(np.float32).argmax(-1)
    n = 11  # | h ə l oʊ | w ɜː l d |
    assert t.mask[0].sum() == n and t.mask[0][:n].all()
    assert [PHONE_INVENTORY[i] for i in ids[:n]] == ["|", "h", "ə", "l", "oʊ", "|", "w", "ɜː", "l", "d", "|"]
    assert (t.feats[0].astype(np.float32).sum(-1) == t.mask[0]).all()  # one 1 per real row, zero rows at padding
    assert t.mask[1].sum() == 2 and (ids[n:] == 0).all()  # the empty caption: two boundaries, not an empty mask
    # pooled: the normalised bag of phones; 'l' appears twice in 'hello world'
    assert np.isclose(np.linalg.norm(t.pooled[0]), 1.0)
    assert np.isclose(t.pooled[0][PHONE_INVENTORY.index("l")], 2 * t.pooled[0][PHONE_INVENTORY.index("h")])
    assert enc.fingerprint.startswith("phone@") and enc.describe()["fingerprint"] == enc.fingerprint


def test_long_text_is_truncated_with_a_closing_boundary():
    t = load_text_encoder("phone", max_tokens=8).encode(["the quick brown fox jumps over the lazy dog"])
    ids = t.feats[0].astype(np.float32).argmax(-1)
    assert t.mask[0].all() and ids[0] == WORD and ids[-1] == WORD


def test_inventory_is_fixed_and_unknowns_map_to_unk():
    assert PHONE_INVENTORY[:3] == ("<pad>", "<unk>", "|") and (PAD, UNK, WORD) == (0, 1, 2)
    assert phone_tokens("ɑ̃ː") == (*phone_tokens("ɑ̃"), *phone_tokens("ː")) and UNK not in phone_tokens("ɑ̃ː")  # length a token of its own
    assert phone_tokens("ɪ̯")[0] == phone_tokens("ɪ")[0] and phone_tokens("☃") == (UNK,)
    # every phone espeak-ng en-us gives on a pangram set is in the inventory, whole
    phones = {p for line in phonemize(["The quick brown fox jumps over the lazy dog.", "She sells sea shells; thorough, measure, jury."]) for p in line}
    assert all(len(phone_tokens(p)) == 1 and phone_tokens(p) != (UNK,) for p in phones), [p for p in phones if len(phone_tokens(p)) != 1]


def test_cmudict_fallback_speaks_the_same_inventory():
    ph = _phonemize_cmudict(["hello world", "qzxv"])
    assert ph[0][4] == "|" and all(UNK not in phone_tokens(p) for p in ph[0])
    assert ph[1] == ["<unk>"]
