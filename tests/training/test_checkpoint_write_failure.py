"""A checkpoint that cannot be written (disk full, a file size limit) ends the run with one line:
the folder, the error, the newest intact checkpoint and --resume, with nothing half written left."""

import pytest
import safetensors.torch
from safetensors import SafetensorError

from flows.cli import user_errors
from training.state import CheckpointWriteFailed
from training.trainer import train

from .test_trainer import tiny_cfg

TOO_LARGE = 'Error while serializing: IoError(Os { code: 27, kind: FileTooLarge, message: "File too large" })'


@pytest.mark.parametrize("async_checkpoint", [False, True], ids=["sync", "async"])
def test_a_failed_checkpoint_write_names_the_folder_the_error_and_the_checkpoint_to_resume_from(
        tiny_home, tmp_path, monkeypatch, async_checkpoint):
    real_save = safetensors.torch.save_file

    def too_large_at_step_4(tensors, path, *args, **kwargs):
        if ".checkpoint-0000004-" in path:
            raise SafetensorError(TOO_LARGE)
        return real_save(tensors, path, *args, **kwargs)

    monkeypatch.setattr(safetensors.torch, "save_file", too_large_at_step_4)
    run = tmp_path / "run"
    with pytest.raises(CheckpointWriteFailed) as failed:
        train(tiny_cfg(tiny_home, run, steps=8, checkpoint_every=2, async_checkpoint=async_checkpoint))  # async: raised at 6
    assert str(failed.value) == (
        f"checkpoint {run}/checkpoint-0000004 could not be written ({TOO_LARGE}); the newest intact checkpoint is "
        f"{run}/checkpoint-0000002: free space (or raise the file size limit), then continue with --resume "
        f"--out-dir {run}")
    assert isinstance(failed.value, user_errors())  # lumina train: this line, exit 2, the catalog run failed
    assert not list(run.glob(".checkpoint-*"))  # its half-written folder gave its space back; no next one begun
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-0000002"]


def test_a_failed_first_checkpoint_says_there_is_none_to_resume_from(tiny_home, tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", disk_full)
    with pytest.raises(CheckpointWriteFailed, match=r"checkpoint-0000002 could not be written \(\[Errno 28\] No space "
                                                    r"left on device\); no checkpoint of this run was written"):
        train(tiny_cfg(tiny_home, tmp_path / "run", steps=2))
