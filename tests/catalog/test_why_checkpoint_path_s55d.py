"""`lumina catalog why` named the checkpoint only when given its id or its uri exactly as recorded
(absolute). From the workspace, `why runs/RUN/checkpoint-0000020` (the same folder, relative) and
`why .../checkpoint-0000020/model.safetensors` (a file of it: what a user has in hand) said only
"no sample with key ..., and none came from a file of that name". Both now name the checkpoint and
the manifest it trained on, as the id does."""

from __future__ import annotations

from catalog import Catalog
from catalog.cli import main


def test_why_names_the_checkpoint_of_a_relative_folder_or_a_file_in_it(catalog_copy, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "runs" / "r1" / "checkpoint-0000010"
    with Catalog.open(catalog_copy) as cat:
        run = cat.start_run("train", {}, run_id="r1")
        ckpt = cat.register_checkpoint(run, str(folder), {}, "images", 1, step=10)
        cat.finish_run(run)
    monkeypatch.chdir(tmp_path)
    for given in ("runs/r1/checkpoint-0000010", "runs/r1/checkpoint-0000010/", f"{folder}/model.safetensors",
                  "runs/r1/checkpoint-0000010/model.safetensors"):
        assert main(["why", given, "--catalog", str(catalog_copy)]) == 2
        err = capsys.readouterr().err
        assert f"{ckpt} is a checkpoint: it trained on manifest images@v1 (" in err, given
    assert main(["why", "runs/r1", "--catalog", str(catalog_copy)]) == 2  # a run folder is no checkpoint
    assert "is a checkpoint" not in capsys.readouterr().err
