"""The planted bad inputs of the speech demo corpus and the status and reason each must end with."""

EXPECTED = {  # planted kind -> (status, reason prefix)
    "truncated": ("quarantined", "truncated: data chunk declares"),
    "low_sample_rate": ("rejected", "sample_rate: score 8000 vs threshold 16000"),
    "silence": ("rejected", "silence:"),
    "clipped": ("rejected", "clipping_ratio:"),
    "stereo": ("accepted", None),
    "nan_samples": ("quarantined", "invalid_samples: 50 non-finite samples"),
    "missing_transcript": ("quarantined", "missing_caption:"),
    "noisy": ("rejected", "snr:"),
    "wrong_transcript": ("rejected", "max_speaking_rate:"),
    "near_duplicate": ("rejected", "audio_fingerprint_dedup: near duplicate of"),
}


def check_planted(by_name: dict, planted: dict) -> None:
    """by_name: path relative to the corpus root -> (status, reason)."""
    assert set(EXPECTED) == set(planted)
    for kind, rel in planted.items():
        status, reason = EXPECTED[kind]
        got_status, got_reason = by_name[rel]
        assert got_status == status, (kind, got_status, got_reason)
        assert (got_reason or "").startswith(reason or ""), (kind, got_reason)
        if status == "accepted":
            assert got_reason is None
