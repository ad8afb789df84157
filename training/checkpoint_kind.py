"""What a folder given as a checkpoint holds, from its config.json alone (no torch): a Flag-DiT, or
another model (a diffusers VAE, a transformers text encoder) to refuse as what it is. Used by
training's --init-from and by every command that takes a checkpoint folder (flows/steps.resolve_checkpoint)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from training.stopping import shell_word


def refuse_other_models(folder: Path, flag: str) -> None:
    """A folder that holds another model (a diffusers VAE, a transformers text encoder: a config.json
    and weights of their own) is refused as what it is. A VAE's folder was called a "damaged checkpoint"
    (its model.safetensors "missing", "pick another checkpoint of the run"), a BERT's failed with
    "unknown config keys: [...]", 23 of them, naming neither the folder nor the fix. Every Flag-DiT
    folder (trained, or converted by `lumina convert`) says ``model_type: flag-dit``; a config.json
    that is missing or unreadable is `check_weights`' to name."""
    try:
        saved = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return
    if not isinstance(saved, dict) or saved.get("model_type") == "flag-dit":
        return
    archs = saved.get("architectures")
    kind = (saved.get("_class_name") or (archs[0] if isinstance(archs, list) and archs else None)
            or saved.get("model_type"))
    if not isinstance(kind, str):  # no type at all: FlagDiTConfig.from_dict says what it lacks
        return
    raise ValueError(f"{flag} {folder} is not a Flag-DiT checkpoint: its config.json is {with_article(kind)}'s; give a "
                     "checkpoint-N folder of a lumina train run, or a Lumina-T2X release converted with lumina convert")


def with_article(word: str) -> str:
    """'an AutoencoderKL', 'a BertModel'; a U read as "you" before a capital takes 'a' (a UNet2DConditionModel,
    a UMT5EncoderModel: the folders an SD or Lumina-Next download puts beside each other)."""
    vowel = word[:1].lower() in "aeiou" and not (word[:1] == "U" and word[1:2].isupper())
    return f"{'an' if vowel else 'a'} {word}"


# what a published checkpoint folder holds that a run folder never does (training/state.py writes them)
CHECKPOINT_FILES = ("training.json", "train_state.json")


def refuse_a_checkpoint_as_run_folder(out_dir: str | Path) -> None:
    """--out-dir naming a checkpoint folder (run/checkpoint-0000040, the folder a user has at hand) is
    refused: a new run trained into it, its own checkpoint-N folders, metrics.csv and catalog rows
    inside the other run's checkpoint, all deleted with it once that run's keep_last pruned it; and
    `--resume` there said "no resumable checkpoint under ..." (without --manifest: "--manifest is
    required"), not which folder to give. Torch-free: the command line asks before its heavy imports."""
    folder = Path(out_dir)
    held = [name for name in CHECKPOINT_FILES if (folder / name).is_file()]
    if not (re.fullmatch(r"checkpoint-\d+", folder.name) or held):
        return
    run = folder.resolve().parent
    why = "a run writes its checkpoint-N folders inside its run folder, whose keep_last deletes the older ones with all they hold"
    if not held:  # not a checkpoint (yet): the name alone makes it one of the folder above's
        raise ValueError(f"--out-dir {folder} is named as a checkpoint of run folder {run}, not as a run folder ({why}): "
                         "give the run folder a name of its own")
    raise ValueError(f"--out-dir {folder} holds a checkpoint's {held[0]}: it is a checkpoint, not a run folder ({why}); "
                     f"--resume --out-dir {shell_word(run)} continues the run it belongs to, --init-from {shell_word(folder)} starts a new stage "
                     "from it, and a new run needs a folder of its own")
