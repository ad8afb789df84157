"""The fault suite (bench/faults.py): its short version end to end, and proof that its judges can fail."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def _faults():
    spec = importlib.util.spec_from_file_location("bench_faults", REPO / "bench" / "faults.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_quick_fault_suite_finds_nothing_lost_wrong_or_left_running(tmp_path):
    r = subprocess.run([sys.executable, str(REPO / "bench" / "faults.py"), "--quick", "--json", "--out", str(tmp_path / "work")],
                       capture_output=True, text=True, timeout=1500, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout)
    h, k = report["hostile"], report["kills"]
    assert h["inputs_tried"] >= 35
    assert h["accounted_with_reason"] == h["inputs_tried"], h["findings"]
    assert (h["silently_wrong"], h["unexpected_outcome"], h["reasons_differing_across_runs"]) == (0, 0, 0), h["findings"]
    assert (h["crashes"], h["hangs"]) == (0, 0), h["crash_logs"]
    assert k["kills_landed"] == 6 and k["kills_per_stage"] == {"curate": 1, "encode": 1, "register": 1, "train": 3}, k["kills"]
    # each aimed at its stage's named moment (mid-work), none tried again
    assert k["kills_tried"] == 6 and all(kill["point"].startswith("when ") for kill in k["kills"]), k["kills"]
    # ... and killed there, stopped at its hold point (contracts/hold_points.py), however slow the machine
    assert [kill["held_at"] for kill in k["kills"]] == ["curate.batches-written:1", "encode.shard-written:1",
                                                        "register.shard-registered:2", "train.checkpoint-published:2",
                                                        "train.checkpoint-published:3", "train.checkpoint-registered:3"], k["kills"]
    assert k["kills_survived"] == k["kills_landed"], k["kills"]
    assert (k["rows_lost"], k["rows_duplicated"], k["runs_left_running"], k["processes_left_behind"]) == (0, 0, 0, 0), k["kills"]
    assert k["temp_files_left"] == 0, k["kills"]  # no interrupted atomic write left behind by a rerun
    # the rows beside the samples: shard samples, and the log windows' metrics a --resume brings in
    assert not any(k["other_rows_lost"].values()) and not any(k["other_rows_duplicated"].values()), k["kills"]
    # a killed run is abandoned, or completed when the kill came after it had finished its run row
    assert all(s in ("abandoned", "completed") for kill in k["kills"] for s in kill["killed_runs"]), k["kills"]


def test_the_judge_catches_sideways_pixels_wrong_captions_and_changed_reasons(tmp_path):
    """A case whose expectation is deliberately wrong must be reported, or the suite's zeros mean nothing."""
    from flows.steps import curate_step
    from preprocess.curate import CurateConfig

    f = _faults()
    root = (tmp_path / "src").resolve()
    w = f.CorpusWriter(root, tmp_path / "outside")
    up = f.quads(32, 48, 5)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = Image.fromarray(up).transpose(Image.Transpose.ROTATE_90)
    w.case("rotated", "EXIF 6").image("rot.jpg", stored, "JPEG", exif=exif.tobytes(), quality=95)
    w.accepted("rot.jpg", np.asarray(stored))  # wrong on purpose: the picture as stored, not as seen
    w.case("captioned", "a caption").image("cap.png", Image.fromarray(f.quads(48, 48, 6)), caption="the real caption")
    w.accepted("cap.png", f.quads(48, 48, 6), caption="another caption")  # wrong on purpose
    w.case("orphan", "a lone caption").caption("lonely.png")
    w.expect("lonely.txt", "rejected", "orphan_caption")
    home = tmp_path / "home"
    curate_step(str(root), str(home), CurateConfig(options=f.CURATE_OPTIONS), backend="local")
    rows = f.samples_by_uri(home / "catalog.duckdb")
    rot, cap, orphan = (f.judge_case(c, root, home / "catalog.duckdb", rows, rows) for c in w.cases)
    assert rot.accounted and rot.silently_wrong and "stored 32x48, the input shows 48x32" in rot.silently_wrong[0]
    assert cap.silently_wrong and "expected 'another caption'" in cap.silently_wrong[0]
    assert orphan.accounted and not orphan.silently_wrong and not orphan.unexpected and not orphan.differs
    changed = {uri: [(key, status, "orphan_caption: something else", c)] for uri, [(key, status, _, c)] in rows.items()}
    assert f.judge_case(w.cases[2], root, home / "catalog.duckdb", rows, changed).differs  # reasons that change are caught
    del rows[str(root / "lonely.txt")]
    assert not f.judge_case(w.cases[2], root, home / "catalog.duckdb", rows, rows).accounted  # a vanished entry is caught


@pytest.mark.parametrize("hold", [False, True])
def test_a_run_waits_without_polling_every_5_ms(tmp_path, monkeypatch, hold):
    """A command with nothing to watch is waited for, and a hold point (the stage stops itself) is
    checked every 50 ms: the suite's parent process polled every 5 ms for each of its ~20 commands
    (about 200 wake-ups a second of CPU, for minutes)."""
    f = _faults()
    naps: list[float] = []
    sleep = f.time.sleep
    monkeypatch.setattr(f.time, "sleep", lambda s: naps.append(s) or sleep(s))
    out = f.run(["sleep", "0.25"], tmp_path, tmp_path / "log", timeout=30,
                hold=("fault-suite-test.never", tmp_path / "mark") if hold else None)
    assert out.rc == 0 and not out.killed
    assert len(naps) < 25 and f.WATCH_POLL_S not in naps, naps
