"""What curation must make of each bad input the demo corpus plants: kind -> (status, reason kind)."""

EXPECTED = {
    "corrupt_image": ("quarantined", "decode_error"),
    "empty_caption": ("rejected", "caption_present"),
    "exact_duplicate": ("rejected", "exact_duplicate"),
    "near_duplicate": ("rejected", "phash_dedup"),
    "too_small": ("rejected", "min_size"),
    "bad_aspect_ratio": ("rejected", "aspect_ratio"),
    "non_utf8_caption": ("quarantined", "caption_not_utf8"),
    "missing_caption": ("quarantined", "missing_caption"),
    "blurry": ("rejected", "sharpness"),
    "washed_out": ("rejected", "contrast"),
    "blank": ("rejected", "solid_colour"),
}
