"""Checks of a local model folder before it is loaded, and one-line errors when loading fails.

A user's weights come from a path they type. The libraries' own failures for a wrong path are
tracebacks that name their internals (``OSError: Error no file named diffusion_pytorch_model.bin``,
``'CLIPConfig' object has no attribute 'num_hidden_layers'``); worse, transformers loads a folder of
another architecture into a randomly initialised model with only a printed report. Here a wrong
kind of model is refused up front, and what the loader still raises becomes a ValueError that
says which path, for which role, failed and why: the command line prints it as one line.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "diffusion_pytorch_model.safetensors",
                "diffusion_pytorch_model.bin", "model.safetensors.index.json", "pytorch_model.bin.index.json",
                "diffusion_pytorch_model.safetensors.index.json")


def hub_snapshot(path: Path) -> Path:
    """A Hugging Face hub cache's repository folder (models--org--name: refs/, snapshots/<commit>/, blobs/)
    -> the snapshot its refs/main names (or its only snapshot); any other path as it is. Users point at
    the repository folder, which holds no config.json of its own: it was refused "no config.json"."""
    snapshots = path / "snapshots"
    if not path.name.startswith("models--") or not snapshots.is_dir():
        return path
    ref = path / "refs" / "main"
    commit = ref.read_text().strip() if ref.is_file() else ""
    if commit and (snapshots / commit).is_dir():
        return snapshots / commit
    found = [s for s in snapshots.iterdir() if s.is_dir()]
    return found[0] if len(found) == 1 else path


def user_model_path(path: str | os.PathLike) -> str:
    """A model path as a user types it -> the absolute path the encoders load and record: ``~`` expanded
    (a YAML config's ``vae: ~/models/vae`` is not expanded by any shell), relative paths made absolute
    (encoder.json recorded ``models/vae`` and `lumina sample` run from another folder could not find
    it), a hub cache repository folder -> its snapshot. Not resolve(): a hub snapshot's files are
    symlinks to blobs without suffixes."""
    text = os.fspath(path)
    head, sep, tail = text.partition(":")
    if sep and head and "/" not in head and tail and not Path(text).exists():  # an open_clip ARCH:FILE (its FILE there or not)
        return f"{head}:{os.path.abspath(os.path.expanduser(tail))}"
    return str(hub_snapshot(Path(os.path.abspath(os.path.expanduser(text)))))


def pipeline_hint(path: str | Path) -> str:
    """For a diffusers pipeline folder (model_index.json, one model per subfolder), where its text
    encoders are, to end a refusal with: `--vae` takes such a folder (its vae/), and a user gave the
    same Stable Diffusion or Lumina-Next folder to --text-path, which said only "no config.json"."""
    p = Path(path)
    if not (p / "model_index.json").is_file():
        return ""
    found = sorted(str(q.parent) for q in p.glob("text_encoder*/config.json"))
    return f": it is a diffusers pipeline folder, whose text encoder is a folder of its own: {' or '.join(found)}" if found else ""


def folder_config(path: str | Path, role: str) -> dict:
    """The folder's config.json, or a one-line error naming what was expected."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{role}: no such file or folder: {path}")
    if not (p / "config.json").is_file():
        raise ValueError(f"{role}: {path} has no config.json (expected a folder written by save_pretrained){pipeline_hint(p)}")
    try:
        return json.loads((p / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{role}: {path}/config.json is not readable JSON ({e})") from None


def kind_of(config: dict) -> str:
    """What a config.json says its model is, for messages: a diffusers class or a transformers type."""
    if config.get("_class_name"):
        return f"a diffusers {config['_class_name']}"
    if config.get("model_type"):
        return f"a transformers {config['model_type']!r} model"
    return "a model of no known kind"


# model.fp16.safetensors, diffusion_pytorch_model.fp16.bin, diffusion_pytorch_model.safetensors.index.fp16.json
_VARIANT_FILE = re.compile(r"^(?:model|pytorch_model|diffusion_pytorch_model)(?:\.safetensors\.index|\.bin\.index)?\.(\w+)\.(?:safetensors|bin|json)$")


def weights_variant(path: str | Path) -> str | None:
    """The variant of a folder that holds its weights only as one (``diffusion_pytorch_model.fp16.safetensors``,
    ``model.fp16.safetensors``: what a download of the fp16 files alone leaves), else None. The loaders
    pass it as ``variant=``: without, diffusers and transformers look for the plain names only."""
    p = Path(path)
    if not p.is_dir() or any((p / name).is_file() for name in WEIGHT_FILES):
        return None
    variants = sorted({m.group(1) for f in p.iterdir() if (m := _VARIANT_FILE.match(f.name))})
    return variants[0] if variants else None


def require_weights(path: str | Path, role: str) -> None:
    p = Path(path)
    if not any((p / name).is_file() for name in WEIGHT_FILES) and weights_variant(p) is None:
        raise ValueError(f"{role}: {path} has a config.json but no weights ({', '.join(WEIGHT_FILES[:3])}, ...)")


@contextmanager
def without_loading_bars() -> Iterator[None]:
    """transformers 5 draws a "Loading weights 0/103" bar for every model it loads: noise among the
    stage's own progress (lumina sample printed one per text encoder)."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def every_weight_loaded(loaded: tuple, unused: tuple[str, ...] = ()):
    """The model of ``from_pretrained(..., output_loading_info=True)``, refused where tensors its config asks
    for were not in its files: transformers gave them random values with only a printed LOAD REPORT (a
    LLaMA config of 4 layers over weights of 3 encoded, recorded as llama@...), diffusers left them
    empty and ended in "Cannot copy out of meta tensor". Raised inside ``loading``, which names the path.
    ``unused``: prefixes of tensors the encoder never runs (a BERT's pooler), which may be missing."""
    model, info = loaded
    missing = [k for k in info.get("missing_keys") or [] if not k.startswith(unused or ("\0",))]
    if missing:
        raise RuntimeError(f"{len(missing)} of the model's tensors are not in its weight files (first {sorted(missing)[0]}): "
                           "a config.json of a larger model, or weights of another; they would be random")
    return model


@contextmanager
def loading(role: str, path: str | Path) -> Iterator[None]:
    """What a loader raises for a file it cannot use, as one line: ``role at path: Type: first line``."""
    import pickle

    from safetensors import SafetensorError

    try:
        with without_loading_bars():
            yield
    except ValueError as e:
        mismatch = diffusers_mismatch(str(e))
        if mismatch is None:
            raise
        raise ValueError(f"{role} at {path} could not be loaded: {mismatch}") from e
    except (OSError, RuntimeError, AttributeError, KeyError, TypeError, EOFError, pickle.UnpicklingError,
            SafetensorError) as e:
        if isinstance(e, FileNotFoundError) and not Path(path).exists():
            raise FileNotFoundError(f"{role}: no such file or folder: {path}") from None
        first = (str(e).strip().splitlines() or [""])[0][:300]
        if "`ignore_mismatched_sizes` to `False`" in first:  # transformers: the user set nothing; its LOAD REPORT lists them
            first = "its weights do not fit its config.json: size mismatches (transformers' LOAD REPORT above lists them)"
        summary = state_dict_summary(str(e))
        # chained: LUMINA_TRACEBACK=1 shows the loader's whole message and where it came from
        raise ValueError(f"{role} at {path} could not be loaded: {type(e).__name__}: {first}{summary}") from e


def diffusers_mismatch(message: str) -> str | None:
    """diffusers' own size-mismatch ValueError (``Cannot load  because decoder.conv_in.bias expected shape
    torch.Size([16]), but got torch.Size([8]). If you want to instead overwrite ... pass both
    low_cpu_mem_usage=False and ignore_mismatched_sizes=True``) as the state-dict summary says it;
    None for any other ValueError. It reached the user as that line, without the role or the path,
    advising arguments the command line does not take."""
    found = re.search(r"because (\S+) expected shape torch\.Size\((\[[^\]]*\])\), but got torch\.Size\((\[[^\]]*\])\)", message)
    if not found:
        return None
    name, in_model, in_file = found.groups()
    return (f"its weights do not fit its config.json: size mismatch (first {name}: {in_file} in the file, {in_model} in the model): "
            "weights of another architecture, or a config.json of another model")


def _keys(message: str, label: str) -> list[str]:
    line = re.search(rf"{label} key\(s\) in state_dict: (.*)", message)
    return re.findall(r'"([^"]+)"', line.group(1)) if line else []


def state_dict_summary(message: str) -> str:
    """torch's "Error(s) in loading state_dict" lists every key on lines of their own, which a one-line
    error drops: the counts of missing, unexpected and size-mismatched keys, and the first of each."""
    missing, unexpected = _keys(message, "Missing"), _keys(message, "Unexpected")
    mismatches = re.findall(r"size mismatch for (\S+): copying a param with shape torch\.Size\((\[[^\]]*\])\) from checkpoint, "
                            r"the shape in current model is torch\.Size\((\[[^\]]*\])\)", message)
    parts = []
    if mismatches:
        name, in_file, in_model = mismatches[0]
        parts.append(f"{len(mismatches)} size mismatches (first {name}: {in_file} in the file, {in_model} in the model)")
    if missing:
        parts.append(f"{len(missing)} missing (first {missing[0]})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected (first {unexpected[0]})")
    return f" {'; '.join(parts)}: weights of another architecture" if parts else ""
