"""A multi-view candidate holds its mosaic's colour signature as 48 bytes, as image's do (curate holds
one per input until near-duplicate search is done): the float32 array it was took ~570 bytes an input
against ~90. Lossless: the cells are a BOX resize's uint8 pixels, so distances are unchanged."""

from __future__ import annotations

import numpy as np
from PIL import Image

from preprocess.image.dedup import colour_distance, colour_signature
from preprocess.multiview.group import group_multiview
from preprocess.multiview.plugin import MultiviewOptions, MultiviewPlugin
from preprocess.sources import SourceSpec, list_entries
from tests.multiview.test_view_decoding import AZIMUTHS, KEY, encoded, rendered_object, write_set


def test_the_signature_is_48_bytes_and_measures_as_the_float_array(tmp_path):
    views = {f"view_{i}.png": encoded(Image.fromarray(np.where(m[..., None], rgb, 255).astype(np.uint8)))
             for i, (rgb, m) in enumerate(map(rendered_object, AZIMUTHS))}
    (item,), _ = group_multiview(list_entries(SourceSpec(str(write_set(tmp_path / "obj", views)))))
    cand = MultiviewPlugin().analyse(item, "a red test object", KEY, MultiviewOptions())[0]
    assert cand.accepted, cand.record.reason
    colour = cand.signature[1]
    assert isinstance(colour, bytes) and len(colour) == 48
    as_floats = np.frombuffer(colour, np.uint8).astype(np.float32).reshape(16, 3)
    other = colour_signature(Image.fromarray(np.full((8, 8, 3), 90, np.uint8)))
    assert colour_distance(colour, other) == colour_distance(as_floats, other) > 0
