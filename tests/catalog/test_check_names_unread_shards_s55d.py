"""`lumina catalog check` reads no shard unless given --shards, and said nothing of them: on the image
demo's workspace with a curated shard truncated to 100,000 of its 235,520 bytes it printed every
violation 0 and exited 0, as for a healthy one. It now ends with how many registered shard files it
did not look at and the option that does."""

from __future__ import annotations

from catalog.cli import main

HINT = "registered shard files not looked at (lumina catalog check --shards compares each with its recorded size"


def test_plain_check_says_the_shards_were_not_read(catalog_copy, capsys):
    main(["check", "--catalog", str(catalog_copy)])
    out = capsys.readouterr().out
    assert f"shards: 3 {HINT}" in out and "do:" not in out
    main(["check", "--shards", "--catalog", str(catalog_copy)])  # its shards are not on disk: findings, no hint
    out = capsys.readouterr().out
    assert HINT not in out and "shards: 3 registered shards looked at" in out
