"""The same captioned images as each source kind `lumina curate` reads: a folder (given), webdataset
tars, jsonl/csv/parquet listings and a Hugging Face `save_to_disk` dataset. Used by
bench/bench_sources.py and tests/preprocess/test_sources.py."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path


def as_tars(folder: Path, out: Path, parts: int = 2) -> str:
    """The folder's files (media and captions side by side) in `parts` tars; returns the glob."""
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in folder.iterdir())
    per = -(-len(files) // parts)
    per += per % 2  # keep a media file and its caption in the same tar
    for i in range(parts):
        with tarfile.open(out / f"part-{i}.tar", "w") as tar:
            for p in files[i * per : (i + 1) * per]:
                tar.add(p, arcname=p.name)
    return str(out / "part-*.tar")


def as_listing(folder: Path, caps: dict[str, str], kind: str) -> str:
    """A jsonl, csv or parquet listing beside the folder: path relative to the listing, caption."""
    rows = [{"path": f"{folder.name}/{name}", "caption": cap} for name, cap in caps.items()]
    path = folder.parent / f"listing.{kind}"
    if kind == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in rows))
    elif kind == "csv":
        import csv

        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, ["path", "caption"])
            w.writeheader()
            w.writerows(rows)
    elif kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        raise ValueError(f"unknown listing kind {kind!r}")
    return str(path)


def as_dataset(folder: Path, caps: dict[str, str], out: Path) -> str:
    """A Hugging Face dataset (image + caption columns) saved with save_to_disk."""
    import datasets

    ds = datasets.Dataset.from_dict({"image": [str(folder / n) for n in caps], "caption": list(caps.values())})
    ds = ds.cast_column("image", datasets.Image())
    ds.save_to_disk(str(out))
    return str(out)


def all_kinds(folder: Path, caps: dict[str, str], work: Path) -> dict[str, str]:
    return {
        "folder": str(folder),
        "tars": as_tars(folder, work / "tars"),
        "jsonl": as_listing(folder, caps, "jsonl"),
        "csv": as_listing(folder, caps, "csv"),
        "parquet": as_listing(folder, caps, "parquet"),
        "hf_dataset": as_dataset(folder, caps, work / "ds"),
    }
