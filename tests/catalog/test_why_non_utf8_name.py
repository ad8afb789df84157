"""`lumina catalog why FILE` of a file whose name is not UTF-8: the catalog holds the name as the
source named it (\\xNN escapes), and the name as the shell passes it (lone surrogates in Python)
could not even be handed to DuckDB ("cannot encode str as UTF-8", exit 2)."""

from __future__ import annotations

import os

from PIL import Image


def test_why_of_a_file_whose_name_is_not_utf8(tmp_path, capsys):
    from flows.cli import main

    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    name = os.fsencode(src) + b"/caf\xe9"  # Latin-1 e-acute: not UTF-8
    img = Image.new("RGB", (32, 32))
    img.putdata([((i * 37) % 256, (i * 11) % 256, (i * 5) % 256) for i in range(32 * 32)])
    img.save(name + b".png", format="PNG")
    with open(name + b".txt", "w") as f:
        f.write("a patterned square")
    assert main(["curate", str(src), "--home", str(home), "--local", "--vae-factor", "1"]) == 0
    capsys.readouterr()

    as_given = os.fsdecode(name + b".png")  # what argv holds: '\udce9'
    assert main(["catalog", "why", as_given, "--home", str(home)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert out.startswith("sample ") and "caf\\xe9.png" in out, out
