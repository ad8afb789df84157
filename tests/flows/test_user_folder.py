"""The README's chain on a user's own folder: curate, encode, manifest, train, evaluate, sample."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from PIL import Image

LUMINA = str(Path(sys.executable).parent / "lumina")
pytestmark = pytest.mark.slow


def _run(*args: str, cwd: Path) -> str:
    env = {**os.environ, "PREFECT_HOME": str(cwd / "prefect_home"), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([LUMINA, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (args, r.stdout[-2000:], r.stderr[-3000:])
    return r.stdout


def _lumina(capsys, *args: str) -> str:
    """`lumina ARGS` through its entry point in this process: the chain's later commands would each
    pay a new interpreter's imports of torch and transformers (3-5 s of CPU apiece; `lumina sample`
    is mostly that). The first curate runs as the console script, and the refusals below too."""
    from flows.cli import main

    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 0, (args, captured.out[-2000:], captured.err[-3000:])
    return captured.out


def test_the_documented_chain_on_a_user_folder(tmp_path, capsys, monkeypatch):
    from preprocess.image.demo_corpus import write_demo_corpus

    folder = write_demo_corpus(tmp_path / "my photos", num_digits=80, num_shapes=10).root
    home = str(tmp_path / "work")
    cat = str(tmp_path / "work" / "catalog.duckdb")
    (tmp_path / "train.yaml").write_text("steps: 8\nbatch_size: 16\nmodel_overrides: {dim: 32, n_layers: 1, n_heads: 2, patch_size: 4}\n")

    # --local: the chain's commands as documented, without two Ray start-ups (Ray curation: the demo e2e tests)
    curated = json.loads(_run("curate", str(folder), "--modality", "image", "--home", home, "--vae-factor", "1", "--resize", "square", "--set", "options.size=32",
                              "--local", "--json", cwd=tmp_path))
    assert curated["counts"]["accepted"] == 90 and curated["counts"]["quarantined"] == 3
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect_home"))
    _lumina(capsys, "encode", "--home", home, "--modality", "image", "--local")
    _lumina(capsys, "catalog", "manifest", "create", "mine-train", "--where", "modality = 'image' AND split = 'train'", "--catalog", cat)
    _lumina(capsys, "catalog", "manifest", "create", "mine-holdout", "--where", "modality = 'image' AND split = 'holdout'", "--catalog", cat)
    trained = json.loads(_lumina(capsys, "train", "--home", home, "--manifest", "mine-train", "--config", str(tmp_path / "train.yaml"), "--json"))
    assert trained["steps"] == 8 and trained["checkpoint_id"].startswith("ckpt-")
    evaluated = json.loads(_lumina(capsys, "evaluate", "--home", home, "--manifest", "mine-holdout", "--checkpoint", trained["checkpoint_id"],
                                   "--samples-per-class", "1", "--steps", "2", "--json"))
    assert Path(evaluated["renders"]["grid"]).exists()
    assert evaluated["sampling"] == {"steps": 2, "solver": "euler", "cfg_scale": 4.0, "shift": 1.0, "samples_per_class": 1, "seed": 0,
                                     "max_heldout": 4096}
    out = tmp_path / "three.png"
    _lumina(capsys, "sample", "--home", home, "--checkpoint", trained["checkpoint_id"], "--prompt", "a handwritten digit 3", "--size", "32x48",
            "--steps", "2", "--cfg", "4", "--seed", "1", "--out", str(out))
    assert Image.open(out).size == (48, 32)  # the requested HxW, in pixels

    con = duckdb.connect(cat, read_only=True)
    try:
        (ckpt_rows,) = con.execute("SELECT count(*) FROM checkpoints").fetchone()
        names = {r[0] for r in con.execute("SELECT DISTINCT name FROM metrics").fetchall()}
        n_samples = con.execute("SELECT count(*) FROM samples").fetchone()[0]
    finally:
        con.close()
    assert ckpt_rows == 1 and {"train_fm_loss", "heldout_fm_loss", "class_accuracy"} <= names

    # the same folder again, moved: no new sample rows
    moved = tmp_path / "moved"
    folder.rename(moved)
    _lumina(capsys, "curate", str(moved), "--modality", "image", "--home", home, "--resize", "square", "--set", "options.size=32", "--local")
    con = duckdb.connect(cat, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM samples").fetchone()[0] == n_samples
    finally:
        con.close()


def test_user_errors_are_one_line_and_exit_code_2(tmp_path):
    home = str(tmp_path / "home")  # a mistyped curate or encode makes no workspace (no catalog, no failed run)
    for args in (["curate", str(tmp_path / "missing"), "--home", home], ["curate", str(tmp_path), "--set", "options.nope=1", "--home", home],
                 ["curate", str(tmp_path), "--modality", "imgae", "--home", home], ["encode", "--modality", "speach", "--home", home],
                 ["curate", str(tmp_path), "--bogus", "--home", home], ["sample", "--checkpoint", "ckpt-0000", "--home", home],
                 ["sample", "--checkpoint", "ckpt-0000", "--prompt", "x", "--home", str(tmp_path)]):
        r = subprocess.run([LUMINA, *args], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert r.returncode == 2, (args, r.stderr)
        lines = [line for line in r.stderr.splitlines() if line.strip() and "it/s" not in line]
        assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in r.stderr, r.stderr
        assert not Path(home).exists(), args
