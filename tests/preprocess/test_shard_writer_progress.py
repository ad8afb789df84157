"""The local shard writer's bar moved once per shard (up to 512 inputs): on 1,000 own speech takes it
stood still for 10.9 s (helper W's scale walk). It now counts inputs as they are written, and a
shard reused from an earlier run counts all of its inputs at once."""

from __future__ import annotations

import re

import preprocess.curate as pc

from .test_curate_memory import _folder


def _writer_bar(err: str) -> list[tuple[int, int, str]]:
    """(done, total, unit) of every refresh of the shard writer's bar."""
    return [(int(a), int(b), u) for a, b, u in re.findall(r"write shards[^|\r\n]*\|[^|]*\| (\d+)/(\d+) \[[^\]]*?(input|batch)", err)]


def test_the_local_shard_writer_counts_inputs_not_shards(tmp_path, capsys):
    src = _folder(tmp_path / "src", 12)
    cfg = pc.CurateConfig(options={"vae_factor": 1}, shard_size=5)
    out = pc.curate(str(src), str(tmp_path / "home"), cfg, backend="local")
    bar = _writer_bar(capsys.readouterr().err)
    assert bar, "no shard-writer bar"
    total = bar[-1][1]
    assert {u for _, _, u in bar} == {"input"} and bar[-1][0] == total
    assert total == out.counts["accepted"] > 5 and len(out.shard_uris) > 1  # inputs, over several shards

    # again: every shard is reused and still counted in inputs
    pc.curate(str(src), str(tmp_path / "home"), cfg, backend="local")
    again = _writer_bar(capsys.readouterr().err)
    assert again and again[-1][:2] == (total, total) and again[-1][2] == "input"
