"""`lumina evaluate`'s refusals of a wrong checkpoint or manifest come before torch is imported: the
command imported the evaluation (torch, ~1.7 s of CPU) before evaluate_step checked either, so a typo
in --checkpoint waited seconds for its one line. The lines are evaluate_step's own, in its order."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# each case's main() in one fresh process: its exit code, its stderr, and whether torch was imported
PROBE = """
import contextlib, io, json, sys
from flows.cli import main
cases = json.loads(sys.argv[1])
out = []
for argv in cases:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        out.append([main(argv), err.getvalue(), "torch" in sys.modules])
print(json.dumps([out, "torch" in sys.modules]))
"""


def _checkpoint(folder: Path, training: dict | None, latent: dict | None = None) -> str:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "flag-dit"}))
    if training is not None:
        (folder / "training.json").write_text(json.dumps(training))
    (folder / "latent_encoder.json").write_text(json.dumps(latent or {"name": "identity", "path": None}))
    return str(folder)


def test_a_wrong_checkpoint_or_manifest_is_refused_before_torch_with_evaluate_steps_line(tiny_home, tmp_path, capsys):
    from catalog import load_manifest_header
    from flows.cli import main

    encoders = load_manifest_header(tiny_home.catalog, tiny_home.holdout_manifest).encoders
    own = {"modality": "image", "encoders": encoders}
    home, empty = str(tiny_home.home), str(tmp_path / "empty_home")
    run = tmp_path / "run"
    _checkpoint(run / "checkpoint-0000001", own)
    cases = {
        "no such checkpoint": [empty, "nope", "m"],
        "a run folder": [empty, str(run), "m"],
        "no training.json": [empty, _checkpoint(tmp_path / "release", None), "m"],
        "no catalog": [empty, str(run / "checkpoint-0000001"), "m"],
        "no such manifest": [home, str(run / "checkpoint-0000001"), "nope"],
        "other encoders": [home, _checkpoint(tmp_path / "other", {**own, "encoders": {k: "other@1" for k in encoders}}),
                           tiny_home.holdout_manifest],
        "a VAE moved away": [home, _checkpoint(tmp_path / "moved", own, {"name": "sd15", "path": str(tmp_path / "vae")}),
                             tiny_home.holdout_manifest],
    }
    argvs = [["evaluate", "--home", h, "--checkpoint", c, "--manifest", m] for h, c, m in cases.values()]
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argvs)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results, torch_at_end = json.loads(done.stdout)
    assert not torch_at_end
    for name, argv, (code, err, torch_imported) in zip(cases, argvs, results):
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, (name, err)
        assert not torch_imported, f"{name}: torch imported before the refusal"
        # this process has torch: the command leaves the checks to evaluate_step, which says the same line
        assert main(argv) == 2
        assert capsys.readouterr().err == err, name


def test_an_out_dir_under_a_file_is_refused_before_torch_and_records_no_run(tiny_home, tmp_path):
    """It ended the whole evaluation in '[Errno 17] File exists' and left a failed evaluate run."""
    import duckdb

    from catalog import load_manifest_header

    encoders = load_manifest_header(tiny_home.catalog, tiny_home.holdout_manifest).encoders
    ckpt = _checkpoint(tmp_path / "run" / "checkpoint-0000001", {"modality": "image", "encoders": encoders})
    (tmp_path / "notes.txt").write_text("a file in the way")
    argv = ["evaluate", "--home", str(tiny_home.home), "--checkpoint", ckpt, "--manifest", tiny_home.holdout_manifest,
            "--out-dir", str(tmp_path / "notes.txt" / "eval")]

    def evaluate_runs() -> int:
        with duckdb.connect(str(tiny_home.catalog), read_only=True) as con:
            return con.execute("SELECT count(*) FROM runs WHERE flow_name LIKE '%evaluat%'").fetchone()[0]

    before = evaluate_runs()
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps([argv])], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    [(code, err, torch_imported)], _ = json.loads(done.stdout)
    assert code == 2 and "Traceback" not in err
    assert "--out-dir" in err and "notes.txt is a file, not a folder" in err, err
    assert not torch_imported
    assert evaluate_runs() == before
