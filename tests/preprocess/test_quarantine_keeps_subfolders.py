"""A quarantined input's copy keeps its files' paths below the folder they share: a multi-view
object with views in cam0/000.png ... cam3/000.png was copied as one 000.png (each copy over the
last) beside a camera file whose paths no longer resolved (helper N's review)."""

from __future__ import annotations

from preprocess.curate import quarantine
from preprocess.sources import Entry, RawInput


def _entry(root, name: str, data: bytes) -> Entry:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return Entry(name, str(path), len(data), ("file", str(path)))


def test_views_in_subfolders_keep_them(tmp_path):
    src, q = tmp_path / "src", tmp_path / "quarantine"
    views = {f"obj/cam{i}/000.png": f"view {i}".encode() for i in range(4)}
    media = {f"view{i}": _entry(src, name, data) for i, (name, data) in enumerate(views.items())}
    media["cameras"] = _entry(src, "obj/transforms.json", b"{}")
    quarantine(RawInput("obj", str(src / "obj"), media, _entry(src, "obj/caption.txt", b"a chair")), "k1", "decode_error: x", str(q))
    got = {p.relative_to(q / "k1").as_posix(): p.read_bytes() for p in (q / "k1").rglob("*") if p.is_file()}
    assert got == {**{n.removeprefix("obj/"): d for n, d in views.items()}, "transforms.json": b"{}",
                   "caption.txt": b"a chair", "error.txt": b"decode_error: x\n"}


def test_a_single_file_input_is_copied_by_its_name(tmp_path):
    src, q = tmp_path / "src", tmp_path / "quarantine"
    item = RawInput("a/b/x.png", str(src / "a/b/x.png"), {"media": _entry(src, "a/b/x.png", b"png")}, _entry(src, "a/b/x.txt", b"cap"))
    quarantine(item, "k2", "r", str(q))
    assert sorted(p.name for p in (q / "k2").iterdir()) == ["error.txt", "x.png", "x.txt"]
    top = RawInput("y.png", str(src / "y.png"), {"media": _entry(src, "y.png", b"png")})
    quarantine(top, "k3", "r", str(q))
    assert sorted(p.name for p in (q / "k3").iterdir()) == ["error.txt", "y.png"]
