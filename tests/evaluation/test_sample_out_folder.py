"""`lumina sample --out` and `lumina evaluate --out-dir` where nothing can be written (a file in the
place of a folder on the way) ended the command after all the sampling, or a whole evaluation, in
`[Errno 17] File exists: '...'`; they are refused in one line before any model loads."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from evaluation.sample import SampleConfig, sample_to_files


@pytest.fixture
def ckpt(tmp_path):
    """A checkpoint folder as far as the checks before the model read it (no weights: reaching the
    model load fails)."""
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")
    (ckpt / "training.json").write_text(json.dumps({"latent_shape": [3, 1, 8, 8], "modality": "image"}))
    (ckpt / "latent_encoder.json").write_text(json.dumps({"name": "identity", "downsample": 1}))
    return ckpt


@pytest.mark.parametrize("under", ["notes.txt/x.png", "notes.txt/deeper/x.png"])
def test_sample_out_under_a_file_is_refused_before_the_model_loads(ckpt, tmp_path, under):
    (tmp_path / "notes.txt").write_text("mine")
    out = tmp_path / under
    with pytest.raises(ValueError, match=f"^--out {out}: {tmp_path / 'notes.txt'} is a file, not a folder$"):
        sample_to_files(SampleConfig(checkpoint=str(ckpt), prompt="digit 7", out=str(out)))
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_sample_out_naming_a_folder_is_refused(ckpt, tmp_path):
    (tmp_path / "renders.png").mkdir()
    with pytest.raises(ValueError, match=r"^--out .*renders\.png is a folder: give a file name"):
        sample_to_files(SampleConfig(checkpoint=str(ckpt), prompt="digit 7", out=str(tmp_path / "renders.png")))


def test_a_missing_folder_is_no_error(tmp_path):
    from evaluation.checks import check_out_folder

    check_out_folder(tmp_path / "new" / "deeper" / "x.png", "--out")
    check_out_folder(tmp_path / "new" / "eval", "--out-dir", folder=True)
    check_out_folder("x.png", "--out")  # the current folder
    assert not (tmp_path / "new").exists()  # checked, not made: the writers make it


@pytest.mark.parametrize("out_dir", ["notes.txt", "notes.txt/eval"])
def test_evaluate_out_dir_that_is_or_lies_under_a_file_is_refused_first(tmp_path, out_dir):
    from evaluation.evaluate import EvalConfig, evaluate

    (tmp_path / "notes.txt").write_text("mine")
    cfg = EvalConfig(manifest="m", checkpoint=str(tmp_path / "ckpt"), catalog=str(tmp_path / "none.duckdb"),
                     out_dir=str(tmp_path / out_dir))
    with pytest.raises(ValueError, match=f"^--out-dir {tmp_path / out_dir}: {tmp_path / 'notes.txt'} is a file, not a folder$"):
        evaluate(cfg)


def test_the_command_says_it_in_one_line_exit_2(ckpt, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    proc = subprocess.run([sys.executable, "-m", "flows.cli", "sample", "--home", str(tmp_path), "--checkpoint", str(ckpt),
                           "--prompt", "a", "--out", str(tmp_path / "notes.txt" / "x.png")], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"lumina sample: error: --out {tmp_path / 'notes.txt' / 'x.png'}: "
                                                f"{tmp_path / 'notes.txt'} is a file, not a folder"]


@pytest.mark.parametrize("out", [".", "..", "renders/", "renders/..", "a/b/"])
def test_an_out_that_names_a_folder_is_refused(out):
    """--out renders/ wrote renders.png beside the folder, without a word; --out . ended in pathlib's
    "PosixPath('.') has an empty name"."""
    from evaluation.sample import out_path

    with pytest.raises(ValueError, match=f"^--out {re.escape(out)} names a folder: give a file name \\(e.g. .*sample.png\\)$"):
        out_path(out, "image")
