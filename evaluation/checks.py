"""The checks of a checkpoint and a held-out manifest that `lumina evaluate` and `lumina sample` make
before any model loads, without torch: the command says a wrong checkpoint or manifest in one line
before it imports the evaluation (torch: ~1.6 s of CPU). evaluation/evaluate.py and
evaluation/sample.py re-export them."""

from __future__ import annotations

import json
import os
from pathlib import Path


def training_info(ckpt: Path) -> dict:
    """The checkpoint's training.json: which encoders made its data (a converted release has none)."""
    if not (ckpt / "training.json").is_file():
        raise ValueError(f"{ckpt} has no training.json: a model without recorded encoders (a converted release?); "
                         f"train or fine-tune it on your encoded data first (lumina train --init-from {ckpt})")
    return json.loads((ckpt / "training.json").read_text())


def check_moved_encoder_flags(checkpoint: str | Path, vae: str | None = None, text_path: str | None = None,
                              text_too: bool = False) -> None:
    """--vae or --text-path for a checkpoint whose encoder reads no file is an error (the user has
    another checkpoint in mind; the flag used to be ignored without a word), before any model loads.
    The VAE decodes last, so its path is checked here too (a typo in --vae, or a VAE moved away, was
    said only after all the sampling, or a whole held-out loss). With ``text_too`` (lumina sample),
    a recorded text encoder that is gone is said in the same line as a VAE that is gone: the user
    learnt of one flag, gave it, and only then of the other."""
    ckpt = Path(checkpoint)
    # a checkpoint lacking either file is refused later, where it is read, with its own line
    info = _read_json_or_empty(ckpt / "latent_encoder.json")
    gone: list[str] = []
    if vae:
        if not info.get("path"):
            raise ValueError(f"--vae {vae}: {ckpt.name} was trained on {info.get('name')} latents, which decode without a VAE")
        from encoders.latent.vae import check_vae_path

        check_vae_path(vae)  # no weights read: a missing path, or one that holds no AutoencoderKL
    elif info.get("path") and not Path(info["path"]).exists():
        gone.append(_moved(f"{info['name']} VAE", "--vae", info["path"]))
    text = _read_json_or_empty(ckpt / "text_encoder.json")
    if text_path and text.get("name") == "phone":
        raise ValueError(f"--text-path {text_path}: {ckpt.name} was trained on the phone encoder, which reads no weights")
    if text_too and not text_path and text.get("path") and _gone(text["path"]):
        gone.append(_moved(f"{text['name']} text encoder", "--text-path", text["path"]))
    if gone:
        raise FileNotFoundError("; and ".join(gone))


def _gone(recorded: str) -> bool:
    """Whether a recorded text encoder's place is gone. An open_clip CLIP is recorded as ARCH:FILE
    ("ViT-B-32:/models/clip.pt"), which is no path: it is there where its FILE is (every lumina sample
    of such a checkpoint was refused "no such file or folder: ViT-B-32:/models/clip.pt ... moved?")."""
    from encoders.clip import split_arch_spec  # torch-free

    return not split_arch_spec(recorded)[1].exists()


def _read_json_or_empty(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _moved(what: str, flag: str, recorded: str) -> str:
    return f"no such file or folder: {recorded}: the checkpoint records its {what} there; moved? give its new place with {flag} PATH"


def check_same_encoders(manifest, ckpt: Path) -> None:
    """A held-out manifest encoded by other encoders than the checkpoint's training data feeds the
    model latents and caption features it has never seen: its metrics would mean nothing. The error
    gives the command that makes the manifest to evaluate on (``manifest``: a Manifest or its header)."""
    info = ckpt / "training.json"
    trained = json.loads(info.read_text()).get("encoders", {}) if info.is_file() else {}
    differ = {k: (trained[k], v) for k, v in manifest.encoders.items() if k in trained and trained[k] != v}
    if differ:
        pins = " ".join(f"--encoder {t}" for t, _ in differ.values())
        raise ValueError(f"manifest {manifest.id} was encoded by " + ", ".join(f"{k} {v}" for k, (_, v) in differ.items())
                         + f", but {ckpt.name} was trained on " + ", ".join(f"{k} {t}" for k, (t, _) in differ.items())
                         + f": its metrics would mean nothing; evaluate it on a manifest of the same samples as its "
                         f"encoders encoded them: lumina catalog manifest create NAME --where \"{manifest.where}\" {pins} "
                         f"(encode them with that encoder first if they have no such encoding)")


def check_out_folder(path: str | Path, flag: str, folder: bool = False) -> None:
    """Where ``flag`` (--out: a file; --out-dir: a ``folder``) writes can be written, said before any
    model loads: a file in the place of a folder on the way (``--out notes.txt/x.png``) or a folder
    that cannot be written ended the command after all the sampling (a whole evaluation) in
    ``[Errno 17] File exists`` or ``[Errno 13] Permission denied``. Missing folders are fine: the
    writers make them."""
    given = Path(path)
    if not folder and given.is_dir():
        raise ValueError(f"{flag} {path} is a folder: give a file name (e.g. {given / 'sample'})")
    target = given if folder else given.parent
    nearest = next((p for p in (target, *target.parents) if p.exists()), Path("."))  # the nearest that is there
    if not nearest.is_dir():
        raise ValueError(f"{flag} {path}: {nearest} is a file, not a folder")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {path}: the folder {nearest} is not writable")
