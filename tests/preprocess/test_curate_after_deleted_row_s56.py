"""`lumina curate` of a datasets folder again after one of its rows was deleted: the last row's old
number (`#row=3` of a 3-row dataset now) is gone though the folder is there, so the row now at
`#row=2` with that content is the same sample moved, not an exact_duplicate of itself."""

from __future__ import annotations

import io
import shutil

from catalog import Catalog
from flows.steps import curate_step
from preprocess.curate import CurateConfig


def _png(i: int) -> bytes:
    import numpy as np
    from PIL import Image

    out = io.BytesIO()  # a picture of its own (no solid colour, no near copy of another)
    Image.fromarray(np.random.default_rng(i).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(out, format="PNG")
    return out.getvalue()


def _save(folder, rows: list[int]) -> None:
    import datasets

    shutil.rmtree(folder, ignore_errors=True)
    features = datasets.Features({"image": datasets.Image(), "text": datasets.Value("string")})
    datasets.Dataset.from_dict({"image": [{"bytes": _png(i), "path": f"img{i}.png"} for i in rows],
                                "text": [f"a square of colour number {i}" for i in rows]}, features=features).save_to_disk(str(folder))


def test_curating_again_after_a_deleted_row_rejects_no_row_as_a_copy_of_itself(tmp_path):
    folder, home = tmp_path / "ds", tmp_path / "home"
    cfg = CurateConfig(modality="image", caption_column="text", options={"vae_factor": 1, "min_side": 8})
    _save(folder, [0, 1, 2, 3])
    first = curate_step(str(folder), str(home), cfg, backend="local")
    assert first["counts"].get("accepted") == 4, first["counts"]
    _save(folder, [0, 2, 3])  # row 1 deleted: rows 2 and 3 are now #row=1 and #row=2
    again = curate_step(str(folder), str(home), cfg, backend="local")
    with Catalog.open(home / "catalog.duckdb", read_only=True) as cat:
        dups = cat.sql("SELECT source_uri, reason FROM samples WHERE reason LIKE 'exact_duplicate%'")[1]
    assert dups == [], (again["counts"], dups)
