"""The stop line said "continue with --resume": a bare --resume picks the manifest's newest run,
and `python -m training.train` needs the run folder too. It names the folder to resume now."""

import signal

from training.stopping import TrainingStopped


def test_the_stop_line_names_the_run_folder_to_resume_and_reads_back():
    stopped = TrainingStopped(signal.SIGINT, 82, "/w/runs/train-1/checkpoint-0000082")
    assert str(stopped) == ("stopped by SIGINT at step 82; checkpoint /w/runs/train-1/checkpoint-0000082 is written and "
                            "registered: continue with --resume --out-dir /w/runs/train-1")
    back = TrainingStopped.from_message(str(stopped))  # a Cancelled flow keeps only the message
    assert (back.signum, back.step, back.checkpoint) == (signal.SIGINT, 82, "/w/runs/train-1/checkpoint-0000082")
    assert stopped.exit_code == 130
