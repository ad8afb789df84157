"""Multi-view evaluation: view sets generated for held-out captions and cameras, judged by
classifiers trained on real held-out renders.

- object_accuracy: the object judge names the caption's object, per view (chance: 1/objects);
- cross_view_agreement: all views of a generated set get the same object (beside the judge's own
  agreement on real sets and the agreement of random guesses);
- pose_accuracy: the azimuth judge puts each generated view in its camera's bin (chance: 1/bins,
  bins = views per set);
- camera_permutation_follow: with the same noise and caption but the cameras permuted, the share
  of views whose pose prediction moves with its camera (of those it should move; 1.0 = the cameras
  fully steer the views, 0 = they are ignored);
- psnr / ssim against the real renders of the same object and cameras.

The object figures need captions of the demo's form ('a <colour> <object>') naming each object in 2
or more sets; for free-form captions they are left out and a note (metrics.json "notes") says why.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from encoders.cameras import azimuth_of_vector
from evaluation.context import EvalContext
from evaluation.image.render import to_uint8
from evaluation.multiview.judge import judge_views, object_label, pose_bin, train_view_judge
from evaluation.multiview.render import save_strip, save_turntable

log = logging.getLogger(__name__)

# the demo's captions: article, colour, then the object in 1 to 3 words ("a red rubber duck")
CAPTION_TEMPLATE = re.compile(r"^(?:a|an) \S+ ([^\s,.;:]+(?: [^\s,.;:]+){0,2})$", re.IGNORECASE)
MIN_SETS_PER_OBJECT = 2  # an object named once is no class: the judge is tested on sets it never saw
MIN_LABELLED_SETS = 4


def _pixels(ctx: EvalContext, latents) -> torch.Tensor:
    return torch.stack([torch.from_numpy(np.asarray(ctx.decode(z.numpy()), dtype=np.float32)) for z in latents]).clamp(-1, 1)


def psnr_ssim(generated: torch.Tensor, real: torch.Tensor) -> tuple[float, float]:
    """Mean over views of PSNR (dB) and SSIM, on [0, 1] pixels. [N, 3, V, H, W] each."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    g = ((generated + 1) / 2).permute(0, 2, 3, 4, 1).reshape(-1, *generated.shape[3:], 3).numpy().astype(np.float64)
    r = ((real + 1) / 2).permute(0, 2, 3, 4, 1).reshape(-1, *real.shape[3:], 3).numpy().astype(np.float64)
    with np.errstate(divide="ignore"):  # identical views: infinite PSNR, capped below
        psnr = [peak_signal_noise_ratio(a, b, data_range=1.0) for a, b in zip(r, g)]
    ssim = [structural_similarity(a, b, data_range=1.0, channel_axis=-1) for a, b in zip(r, g)]
    return float(np.mean(np.minimum(psnr, 100.0))), float(np.mean(ssim))


def permuted(examples, perm: list[int]):
    """The same examples with view i given the camera of view perm[i]."""
    return [replace(e, frame_cond=e.frame_cond[perm]) for e in examples]


def follow_rate(pred: torch.Tensor, pred_perm: torch.Tensor, perm: list[int]) -> float:
    """Among views whose predicted pose should change when the cameras are permuted (the view that
    now has its camera was predicted elsewhere), the share whose prediction moved with the camera.
    A generator that ignores cameras (or a judge that always says the same) scores 0, not 1."""
    target = pred[:, perm]
    moved = target != pred
    return float((pred_perm == target)[moved].float().mean().item()) if moved.any() else 0.0


def _template_object(caption: str) -> str | None:
    m = CAPTION_TEMPLATE.match((caption or "").strip())
    return m.group(1) if m else None


def object_classes(captions: list[str], notes: list[str]) -> tuple[list[str], list[int | None]]:
    """(object nouns, each set's label or None). The object is what a caption of the demo's form names
    after its article and colour ("a red rubber duck"), and only an object that 2 or more sets name is
    a class (the judge is tested on sets it did not train on). Free-form captions give no classes (each
    was its own object before, and object accuracy was reported as if it meant something): a note
    says why the object figures are absent, or on how many sets they rest."""
    named = Counter(o for c in captions if (o := _template_object(c)) is not None)
    nouns = sorted(o for o, k in named.items() if k >= MIN_SETS_PER_OBJECT)
    labels = [object_label(c, nouns) for c in captions]
    labelled = sum(y is not None for y in labels)
    fit = sum(named.values())
    if len(nouns) < 2 or labelled < MIN_LABELLED_SETS:
        example = next((c for c in captions if _template_object(c) is None), captions[0] if captions else "")
        notes.append(f"no object_accuracy, cross_view_agreement or num_objects: they need held-out captions of the form "
                     f"'a <colour> <object>' (the demo's: 'a red rubber duck') with 2 or more objects each named by "
                     f"{MIN_SETS_PER_OBJECT} or more sets; {fit} of the {len(captions)} captions have that form and "
                     f"{len(nouns)} object(s) repeat (e.g. {example[:80]!r}); pose accuracy, the camera follow rate and "
                     f"PSNR/SSIM do not depend on captions")
        log.warning("multi-view evaluation: %s", notes[-1])
        return [], [None] * len(captions)
    if labelled < len(captions):
        notes.append(f"object_accuracy and cross_view_agreement rest on {labelled} of the {len(captions)} sets "
                     f"(num_sets_object_labelled): the others' captions name none of the {len(nouns)} objects that "
                     f"{MIN_SETS_PER_OBJECT} or more captions of the form 'a <colour> <object>' name")
        log.warning("multi-view evaluation: %s", notes[-1])
    return nouns, labels


def evaluate_multiview(ctx: EvalContext) -> tuple[dict[str, float], dict[str, str]]:
    cfg = ctx.cfg
    examples = [e for e in ctx.examples if e.frame_cond is not None]
    if not examples:
        return {}, {}
    # the judges need one view count and size: the most common one is evaluated, the rest counted
    shapes = Counter(tuple(e.latent.shape) for e in examples)
    shape, _ = max(shapes.items(), key=lambda kv: (kv[1], kv[0]))
    skipped = len(examples) - shapes[shape]
    if skipped:
        ctx.notes.append(f"{skipped} of {len(examples)} sets have another view count or size than the {shapes[shape]} of "
                         f"shape {list(shape)} evaluated, and are left out (num_sets_skipped)")
        log.warning("multi-view evaluation: %s", ctx.notes[-1])
    examples = [e for e in examples if tuple(e.latent.shape) == shape]
    views = shape[1]
    real = _pixels(ctx, [e.latent for e in examples])  # [N, 3, V, H, W]
    cams = torch.stack([e.frame_cond for e in examples])  # [N, V, K]
    bins = views
    pose = torch.tensor([[pose_bin(c, bins) for c in cs] for cs in cams])
    nouns, labels = object_classes([e.caption for e in examples], ctx.notes)
    metrics: dict[str, float] = {"num_sets": float(len(examples)), "views_per_set": float(views),
                                 "num_sets_skipped": float(skipped)}

    pose_report = train_view_judge(real, pose, bins, seed=cfg.seed)
    generated = _pixels(ctx, ctx.generate(examples, seed=cfg.seed + 1))
    pose_pred = judge_views(pose_report.judge, generated)
    perm = [(i + views // 2) % views for i in range(views)]
    generated_perm = _pixels(ctx, ctx.generate(permuted(examples, perm), seed=cfg.seed + 1))  # same noise
    pose_pred_perm = judge_views(pose_report.judge, generated_perm)
    psnr, ssim = psnr_ssim(generated, real)
    metrics.update(
        pose_accuracy=(pose_pred == pose).float().mean().item(),
        pose_chance=1.0 / bins,
        pose_judge_accuracy=pose_report.test_accuracy,
        pose_accuracy_permuted_cameras=(pose_pred_perm == pose[:, perm]).float().mean().item(),
        camera_permutation_follow=follow_rate(pose_pred, pose_pred_perm, perm),
        psnr=psnr,
        ssim=ssim,
    )
    labelled = [i for i, y in enumerate(labels) if y is not None]
    metrics["num_sets_object_labelled"] = float(len(labelled))
    if nouns:
        idx = torch.tensor(labelled)
        y = torch.tensor([labels[i] for i in labelled])
        obj_report = train_view_judge(real[idx], y[:, None].expand(-1, views), len(nouns), seed=cfg.seed)
        pred = judge_views(obj_report.judge, generated[idx])
        real_pred = judge_views(obj_report.judge, real[idx][obj_report.test_sets])
        agree = lambda p: (p == p[:, :1]).all(1).float().mean().item()  # noqa: E731
        metrics.update(
            object_accuracy=(pred == y[:, None]).float().mean().item(),
            object_chance=1.0 / len(nouns),
            object_judge_accuracy=obj_report.test_accuracy,
            cross_view_agreement=agree(pred),
            cross_view_agreement_real=agree(real_pred),
            cross_view_agreement_chance=(1.0 / len(nouns)) ** (views - 1),
            num_objects=float(len(nouns)),
        )

    out = Path(cfg.out_dir)
    n = min(cfg.grid_size, len(examples))
    gen8, real8 = [to_uint8(g.numpy()) for g in generated[:n]], [to_uint8(r.numpy()) for r in real[:n]]
    renders = {"grid": str(save_strip([row for pair in zip(gen8, real8) for row in pair], out / "view_strips.png"))}
    (out / "view_strips.txt").write_text("".join(f"rows {2 * i}, {2 * i + 1} (generated, real): {e.caption} | azimuths "
                                                 f"{[round(azimuth_of_vector(c.numpy()), 1) for c in e.frame_cond]}\n" for i, e in enumerate(examples[:n])))
    renders["grid_captions"] = str(out / "view_strips.txt")
    for i in range(n):
        renders[f"strip_{i}"] = str(save_strip([gen8[i], real8[i]], out / f"strip_{i:02d}.png"))
        renders[f"turntable_{i}"] = str(save_turntable(gen8[i], out / f"turntable_{i:02d}.gif"))
    return metrics, renders
