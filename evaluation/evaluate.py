"""Evaluation of a trained checkpoint on a held-out manifest, for any modality.

- held-out flow-matching loss (fixed noise and timesteps, so two checkpoints compare fairly);
- the modality's own metrics and renders (evaluation/<modality>/: judges, grids, GIFs, WAVs),
  decoding latents with the latent encoder recorded for the checkpoint's manifest.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import torch

from modelzoo.transport.inference import DEFAULT_CFG_SCALE
from training.data import Example, NullCaption, load_examples
# torch-free (evaluation/config.py, evaluation/checks.py), here for every importer of evaluation.evaluate
from evaluation.checks import check_moved_encoder_flags, check_out_folder, check_same_encoders  # noqa: F401
from evaluation.config import WEIGHTS, EvalConfig, ignored_grid_note  # noqa: F401

log = logging.getLogger(__name__)

MODALITY_EVALUATORS = {
    "image": "evaluation.image.metrics:evaluate_image",
    "video": "evaluation.video.metrics:evaluate_video",
    "multiview": "evaluation.multiview.metrics:evaluate_multiview",
    "speech": "evaluation.speech.metrics:evaluate_speech",
}


SAMPLING_SETTINGS = ("steps", "solver", "cfg_scale", "shift", "samples_per_class", "seed", "max_heldout")


def sampling_settings(cfg: EvalConfig) -> dict:
    """The EvalConfig fields the metrics depend on, as metrics.json and lumina evaluate's output give
    them (the image demo evaluates at cfg_scale 6, lumina evaluate and lumina sample default to 4)."""
    return {k: getattr(cfg, k) for k in SAMPLING_SETTINGS}


@dataclass
class EvalResult:
    metrics: dict[str, float]
    renders: dict[str, str] = field(default_factory=dict)  # name -> file (grid, gif, wav, ...)
    notes: list[str] = field(default_factory=list)  # what a reader of the figures must know (EvalContext.notes)
    # how the samples were drawn (sampling_settings): the metrics depend on them, and metrics.json,
    # written over by an evaluation with other settings, did not say which
    sampling: dict = field(default_factory=dict)
    # where the model ran (device_record): --device auto is cpu or a GPU, and two evaluations'
    # figures compare honestly only when it is known which (metrics.json said neither)
    device: dict = field(default_factory=dict)

    @property
    def grid(self) -> str | None:
        return self.renders.get("grid")


def device_record(requested: str, device: str, model) -> dict:
    """What metrics.json says of where an evaluation ran: the --device given (auto), the device torch
    used (cuda as cuda:N, the GPU it means, and its name) and the dtype of the model's weights."""
    used = torch.device(device)
    if used.type == "cuda" and used.index is None:  # bare cuda is the current GPU
        used = torch.device("cuda", torch.cuda.current_device())
    record = {"requested": requested, "used": str(used)}
    if used.type == "cuda":
        record["name"] = torch.cuda.get_device_name(used)
    weight = next(model.parameters(), None) if isinstance(model, torch.nn.Module) else None
    if weight is not None:
        record["dtype"] = str(weight.dtype).removeprefix("torch.")
    return record


def load_checkpoint(path: str | Path, weights: str = "ema", device: str = "cpu"):
    """The checkpoint's model on ``device`` (eval mode) and its null caption (on the CPU: the
    sampler moves what it uses)."""
    from modelzoo import FlagDiT
    from training.state import check_weights

    check_weights(path, flag="--checkpoint")  # a file cut short or too long: one line naming it, not safetensors' traceback
    model = FlagDiT.from_pretrained(path).eval()
    if weights == "raw":
        model.load_state_dict(raw_weights(path), strict=True)
    # read on the CPU as ever, then moved: the weights are the same bits on any device
    return model.to(device), NullCaption.load(Path(path) / "null_caption.npz")


def raw_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The raw (not averaged) weights a checkpoint keeps for resuming: the model.* tensors of its
    train_state.safetensors, read without the optimizer's."""
    from safetensors import safe_open

    from modelzoo.weights_file import load_failure
    from training.state import STATE_TENSORS, is_sharded_dir

    ckpt = Path(path)
    if is_sharded_dir(ckpt):
        raise ValueError(f"--weights raw: {ckpt.name} keeps its raw weights sharded by rank (train_state/, an FSDP2 run), "
                         f"which lumina sample does not read: sample its EMA weights (--weights ema)")
    if not (ckpt / STATE_TENSORS).is_file():
        raise FileNotFoundError(f"--weights raw: {ckpt} has no {STATE_TENSORS}, where a checkpoint keeps its raw weights "
                                f"for resuming (deleted, or a converted release): sample its EMA weights (--weights ema)")
    try:
        with safe_open(str(ckpt / STATE_TENSORS), "pt") as f:
            return {k.removeprefix("model."): f.get_tensor(k) for k in f.keys() if k.startswith("model.")}
    except Exception as e:  # noqa: BLE001 - SafetensorError, OSError: the file does not load
        raise ValueError(f"--weights raw: {ckpt / STATE_TENSORS} does not load ({load_failure(ckpt / STATE_TENSORS, e)})") from None


def load_decoder(checkpoint: str | Path, vae: str | None = None, device: str | None = None):
    """The latent encoder recorded with the checkpoint (latent_encoder.json), for decoding; ``vae``:
    the same VAE at another place (its fingerprint is checked as ever); ``device``: where a VAE
    decodes (None: cuda when torch sees a GPU, else cpu). It takes and gives arrays on the CPU."""
    from encoders.latent import load_described

    info = json.loads((Path(checkpoint) / "latent_encoder.json").read_text())
    with recorded_path(f"{info['name']} VAE", "--vae", moved_to=vae, recorded=info.get("path")):
        return load_described({**info, "path": vae} if vae else info, device)


@contextmanager
def recorded_path(what: str, flag: str, moved_to: str | None, recorded: str | None) -> Iterator[None]:
    """Loading an encoder from the path its checkpoint records: if that path is gone, the error
    names the flag that gives its new place."""
    try:
        yield
    except FileNotFoundError as e:
        if moved_to or not recorded:
            raise
        raise FileNotFoundError(f"{e}: the checkpoint records its {what} there; moved? give its new place with "
                                f"{flag} PATH") from None


def checkpoint_modality(checkpoint: str | Path) -> str:
    info = json.loads((Path(checkpoint) / "training.json").read_text())
    return info.get("modality") or "image"


@torch.no_grad()
def heldout_loss(model, examples: list[Example], batch_size: int = 128, seed: int = 0, device: str = "cpu") -> float:
    """The flow-matching loss on ``examples``, with the model on ``device``; the noise and the
    timesteps are drawn on the CPU (the same ones on every device) and moved there."""
    from evaluation.sampling import moved
    from modelzoo import FlowMatching
    from modelzoo.transport.tree import tree_map
    from training.data import collate

    from tqdm.auto import tqdm

    fm = FlowMatching(timesteps="uniform")
    torch.manual_seed(seed)  # the same noise and timesteps for every checkpoint
    total, n = 0.0, 0
    for i in tqdm(range(0, len(examples), batch_size), desc=f"held-out loss on {len(examples)}", unit="batch", leave=False):
        b = collate(examples[i : i + batch_size])
        k = len(b["cap_mask"])
        # drawn as training_loss draws them (t, then x0), on the CPU
        t, x0 = fm.sample_t(k), tree_map(torch.randn_like, b["x1"])
        inputs = moved({"x1": b["x1"], "t": t, "x0": x0, "cap_feats": b["cap_feats"], "cap_mask": b["cap_mask"],
                        **({"frame_cond": b["frame_cond"]} if "frame_cond" in b else {})}, device)
        total += fm.training_loss(model, inputs.pop("x1"), **inputs).item() * k
        n += k
    return total / max(n, 1)


# a judge's own accuracy on real held-out data: judge_<what>_accuracy or <what>_judge_accuracy,
# beside <what>_chance (judge_test_accuracy: beside chance_accuracy)
_JUDGE = re.compile(r"^(?:judge_(?P<a>\w+?)|(?P<b>\w+?)_judge)_accuracy$")


def warn_if_the_judge_is_no_judge(metrics: dict[str, float]) -> list[str]:
    """An accuracy read by a judge that does no better than chance on real held-out data (a tiny
    held-out set, one example per class) measures nothing: say so beside the figure. Returns the
    warnings, for the result's notes."""
    said = []
    for key, judge in metrics.items():
        if not (m := _JUDGE.match(key)):
            continue
        what = m["a"] or m["b"]
        chance = metrics.get(f"{what}_chance", metrics.get("chance_accuracy") if what == "test" else None)
        # within float32's rounding: a judge's 1/6 (float32) is 5e-9 above chance's 1/6 (float64)
        if judge is not None and chance is not None and judge <= chance + 1e-6:
            said.append(f"the {'' if what == 'test' else what + ' '}judge scores {judge:.3f} on real held-out data, no better "
                        f"than chance ({chance:.3f}): the accuracies it reads for generated samples mean nothing; evaluate "
                        f"on a larger held-out manifest")
            log.warning("%s", said[-1])
    return said


def modality_hook(table: dict[str, str], modality: str, name: str):
    """The function ``table`` ("module:function" per modality) names for ``modality``; a modality
    without an entry is one line naming the table, not a bare KeyError."""
    spec = table.get(modality)
    if spec is None:
        raise ValueError(f"no {name} entry for modality {modality!r} (it has {', '.join(sorted(table))}): a modality "
                         f"registers its evaluation functions there (README, 'Adding a modality')")
    module, _, fn = spec.partition(":")
    return getattr(importlib.import_module(module), fn)


def evaluate(cfg: EvalConfig, judge_cache: str | Path | None = None) -> EvalResult:
    """``judge_cache``: the folder the judges trained on the held-out examples are kept in
    (judging.cached_fit; lumina evaluate: <workspace>/cache/judges); None trains them every time."""
    from catalog import load_manifest, load_manifest_header
    from encoders.device import usable_device
    from evaluation.config import judge_cache_limit
    from evaluation.context import EvalContext
    from evaluation.leakage import heldout_leakage

    device = usable_device(cfg.device)  # auto: cuda when torch sees a GPU (as lumina train), else cpu
    if judge_cache is not None:
        judge_cache_limit()  # a bad $LUMINA_JUDGE_CACHE_MB: refused now, not after the sampling
    if cfg.out_dir is not None:  # a file in the way was said after the held-out loss
        check_out_folder(cfg.out_dir, "--out-dir", folder=True)
    # the manifest first: a wrong name or an empty selection fails before the model loads
    manifest = load_manifest(cfg.catalog, cfg.manifest, cfg.manifest_version, first=cfg.max_heldout)
    if cfg.max_heldout is not None and (total := load_manifest_header(cfg.catalog, manifest.name, manifest.version).num_members) > len(manifest):
        log.info("evaluating on %d of the %d members of %s (--max-heldout)", len(manifest), total, manifest.id)
    check_same_encoders(manifest, Path(cfg.checkpoint))
    check_moved_encoder_flags(cfg.checkpoint, vae=cfg.vae)
    examples = load_examples(manifest)
    if not examples:
        raise ValueError(f"held-out manifest {cfg.manifest!r} is empty")
    evaluate_modality = modality_hook(MODALITY_EVALUATORS, checkpoint_modality(cfg.checkpoint), "MODALITY_EVALUATORS")
    model, null = load_checkpoint(cfg.checkpoint, device=device)
    log.info("evaluating on %s (--device %s)", device, cfg.device)
    decoder = load_decoder(cfg.checkpoint, cfg.vae, device)  # a --vae of another VAE: refused before the held-out loss and the sampling
    # near copies of training samples in the held-out data (curation's dedup misses lossy ones): said
    # before the sampling, so a long evaluation's log shows it early; after the checkpoint and decoder
    # load, so a damaged checkpoint's refusal stays the one line it says
    leak_notes, leak_metrics = heldout_leakage(cfg.catalog, cfg.checkpoint, manifest)
    metrics: dict[str, float] = {"heldout_fm_loss": heldout_loss(model, examples, seed=cfg.seed, device=device)}
    Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
    ctx = EvalContext(model, null, examples, cfg, decoder,
                      judge_cache=Path(judge_cache) if judge_cache is not None else None, device=device)
    if note := ignored_grid_note(cfg.solver, cfg.steps, cfg.shift):  # metrics.json's settings name the steps
        ctx.notes.append(note)
        log.warning("%s", note)
    with ctx.judging():
        extra, renders = evaluate_modality(ctx)
    metrics.update(extra)
    ctx.notes.extend(warn_if_the_judge_is_no_judge(metrics))
    ctx.notes.extend(leak_notes)
    metrics.update(leak_metrics)  # added beside the figures, none of which it changes
    result = EvalResult(metrics, renders, ctx.notes, sampling_settings(cfg), device_record(cfg.device, device, model))
    write_metrics_json(result, cfg.out_dir)
    return result


def write_metrics_json(result: EvalResult, out_dir: str | Path) -> Path:
    """<out_dir>/metrics.json: the figures, renders, notes, sampling settings and device of an evaluation."""
    path = Path(out_dir) / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(result), indent=1))
    return path
