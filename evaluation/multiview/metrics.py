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

Every held-out set is scored, whatever its view count and view size (a user's folders of 4 and of 6
views, or two curations at another --size; only the most common shape was scored before, the rest
counted in num_sets_skipped). One judge per kind reads every view: views of several sizes scaled
whole to one square (judging.common_side: the median), the pose bins those of the most common view
count (ties: the larger); PSNR/SSIM compare each set at its own size; views_per_set is the mean. A
note says so where the sets differ.
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
from evaluation.judging import at_side, common_side
from evaluation.multiview.judge import judge_views, object_label, pose_bin, train_view_judge
from evaluation.multiview.render import save_set_renders, save_strip

log = logging.getLogger(__name__)

# the demo's captions: article, colour, then the object in 1 to 3 words ("a red rubber duck")
CAPTION_TEMPLATE = re.compile(r"^(?:a|an) \S+ ([^\s,.;:]+(?: [^\s,.;:]+){0,2})$", re.IGNORECASE)
MIN_SETS_PER_OBJECT = 2  # an object named once is no class: the judge is tested on sets it never saw
MIN_LABELLED_SETS = 4
MIN_POSE_SETS = 2  # one to train the pose judge on, one to test it on


def _pixels(ctx: EvalContext, latents) -> list[torch.Tensor]:
    """Each set decoded, [3, V, H, W] in [-1, 1] (a list: sets may differ in view count and size)."""
    return [torch.from_numpy(np.asarray(ctx.decode(z.numpy()), dtype=np.float32)).clamp(-1, 1) for z in latents]


def _batch(sets: list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
    """One [N, ...] tensor where the sets share a shape (the judges' batches and cache keys as ever), else the list."""
    return torch.stack(sets) if len({tuple(s.shape) for s in sets}) == 1 else sets


def _judged(judge, sets: list[torch.Tensor], side: int | None) -> list[torch.Tensor]:
    """The judge's answer per view of each set ([V_i] each), each view read at side x side (None: as it is)."""
    return list(judge_views(judge, _batch([at_side(s, side) for s in sets])))


def _share(pred: list[torch.Tensor], target: list[torch.Tensor]) -> float:
    """The share of all views (of every set) where ``pred`` is ``target``."""
    return torch.cat([p == t for p, t in zip(pred, target)]).float().mean().item()


def psnr_ssim(generated, real) -> tuple[float, float]:
    """Mean over views of PSNR (dB) and SSIM, on [0, 1] pixels. [N, 3, V, H, W] each, or lists of
    [3, V, H, W] sets (each generated set the size of its real one)."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    psnr, ssim = [], []
    for gen_set, real_set in zip(generated, real):
        g = ((gen_set + 1) / 2).permute(1, 2, 3, 0).numpy().astype(np.float64)  # [V, H, W, 3]
        r = ((real_set + 1) / 2).permute(1, 2, 3, 0).numpy().astype(np.float64)
        with np.errstate(divide="ignore"):  # identical views: infinite PSNR, capped below
            psnr += [peak_signal_noise_ratio(a, b, data_range=1.0) for a, b in zip(r, g)]
        ssim += [structural_similarity(a, b, data_range=1.0, channel_axis=-1) for a, b in zip(r, g)]
    return float(np.mean(np.minimum(psnr, 100.0))), float(np.mean(ssim))


def half_turn(views: int) -> list[int]:
    """The camera permutation the follow rate uses: each view gets the camera half a ring away."""
    return [(i + views // 2) % views for i in range(views)]


def permuted(examples, perm: list[int] | None = None):
    """The same examples with view i given the camera of view perm[i] (None: each set's half_turn)."""
    return [replace(e, frame_cond=e.frame_cond[perm if perm is not None else half_turn(len(e.frame_cond))]) for e in examples]


def follow_rate(pred, pred_perm, perm) -> float:
    """Among views whose predicted pose should change when the cameras are permuted (the view that
    now has its camera was predicted elsewhere), the share whose prediction moved with the camera.
    A generator that ignores cameras (or a judge that always says the same) scores 0, not 1.
    ``pred``, ``pred_perm``: [N, V] with one ``perm``, or lists of [V_i] with a perm per set."""
    if isinstance(pred, torch.Tensor):
        pred, pred_perm, perm = list(pred), list(pred_perm), [perm] * len(pred)
    target = [p[q] for p, q in zip(pred, perm)]
    moved = torch.cat([t != p for t, p in zip(target, pred)])
    followed = torch.cat([pp == t for pp, t in zip(pred_perm, target)])
    return float(followed[moved].float().mean().item()) if moved.any() else 0.0


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


def _why_these_bins(counts: Counter) -> str:
    """Said of the pose bins: a tie (1 set of 4 views, 1 of 6) was called 'the most common view count'."""
    top = max(counts.values())
    tied = sorted(v for v, k in counts.items() if k == top)
    if len(tied) == 1:
        return "the most common view count"
    return f"the largest of the view counts {', '.join(map(str, tied[:-1]))} and {tied[-1]}, {top} set{'s' if top != 1 else ''} each"


def _note_mixed_sets(ctx: EvalContext, counts: Counter, bins: int, side: int | None, sizes: int) -> None:
    """What a reader of the figures must know where the held-out sets differ in view count or size."""
    if len(counts) > 1:
        ctx.notes.append(f"the {sum(counts.values())} sets have {len(counts)} view counts ("
                         + ", ".join(f"{k} of {v} views" for v, k in sorted(counts.items()))
                         + f"): all are scored, the pose judge with {bins} azimuth bins of {360 / bins:g} degrees ("
                         + _why_these_bins(counts) + f"; pose_chance 1/{bins}); views_per_set is their mean")
        log.info("multi-view evaluation: %s", ctx.notes[-1])
    if side is not None:
        ctx.notes.append(f"the views come in {sizes} sizes: the judges read each scaled to {side}x{side} (the median "
                         f"of sqrt(H x W)); PSNR and SSIM compare each set at its own size")
        log.info("multi-view evaluation: %s", ctx.notes[-1])


def _enough_for_the_pose_judge(num_sets: int, notes: list[str]) -> bool:
    """The pose judge trains on some held-out sets and is tested on the others: one set leaves it
    nothing to train on (torch.randint(0) ended the evaluation in a traceback), so it is skipped
    with a note and the rest (held-out loss, PSNR/SSIM, renders) is still reported."""
    if num_sets >= MIN_POSE_SETS:
        return True
    notes.append(f"no pose_accuracy, pose_judge_accuracy, pose_accuracy_permuted_cameras or camera_permutation_follow: the "
                 f"pose judge trains on some held-out sets and is tested on the others, so it needs {MIN_POSE_SETS} or more; "
                 f"this manifest has {num_sets}")
    log.warning("multi-view evaluation: %s", notes[-1])
    return False


def evaluate_multiview(ctx: EvalContext) -> tuple[dict[str, float], dict[str, str]]:
    cfg = ctx.cfg
    examples = [e for e in ctx.examples if e.frame_cond is not None]
    if not examples:
        return {}, {}
    real = _pixels(ctx, [e.latent for e in examples])  # [3, V, H, W] each
    counts = Counter(s.shape[1] for s in real)
    bins, _ = max(counts.items(), key=lambda kv: (kv[1], kv[0]))  # the pose bins: the most common view count
    side = common_side([s.shape for s in real])  # None: one view size, read as it is
    _note_mixed_sets(ctx, counts, bins, side, len({tuple(s.shape[-2:]) for s in real}))
    cams = [e.frame_cond for e in examples]
    pose = [torch.tensor([pose_bin(c, bins) for c in cs]) for cs in cams]
    nouns, labels = object_classes([e.caption for e in examples], ctx.notes)
    metrics: dict[str, float] = {"num_sets": float(len(examples)), "views_per_set": float(np.mean([len(c) for c in cams]))}

    judge_real = [at_side(s, side) for s in real]
    generated = _pixels(ctx, ctx.generate(examples, seed=cfg.seed + 1))
    if _enough_for_the_pose_judge(len(examples), ctx.notes):
        pose_report = train_view_judge(_batch(judge_real), _batch(pose), bins, seed=cfg.seed)
        pose_pred = _judged(pose_report.judge, generated, side)
        perms = [half_turn(len(c)) for c in cams]
        generated_perm = _pixels(ctx, ctx.generate(permuted(examples), seed=cfg.seed + 1))  # same noise
        pose_pred_perm = _judged(pose_report.judge, generated_perm, side)
        metrics.update(
            pose_accuracy=_share(pose_pred, pose),
            pose_chance=1.0 / bins,
            pose_judge_accuracy=pose_report.test_accuracy,
            pose_accuracy_permuted_cameras=_share(pose_pred_perm, [p[q] for p, q in zip(pose, perms)]),
            camera_permutation_follow=follow_rate(pose_pred, pose_pred_perm, perms),
        )
    psnr, ssim = psnr_ssim(generated, real)
    metrics.update(psnr=psnr, ssim=ssim)
    labelled = [i for i, y in enumerate(labels) if y is not None]
    metrics["num_sets_object_labelled"] = float(len(labelled))
    if nouns:
        y = [torch.full((len(cams[i]),), labels[i]) for i in labelled]
        obj_report = train_view_judge(_batch([judge_real[i] for i in labelled]), _batch(y), len(nouns), seed=cfg.seed)
        pred = _judged(obj_report.judge, [generated[i] for i in labelled], side)
        real_pred = _judged(obj_report.judge, [real[labelled[j]] for j in obj_report.test_sets], side)
        agree = lambda p: torch.stack([(v == v[0]).all() for v in p]).float().mean().item()  # noqa: E731
        chance = sorted({(1.0 / len(nouns)) ** (len(cams[i]) - 1) for i in labelled})
        metrics.update(
            object_accuracy=_share(pred, y),
            object_chance=1.0 / len(nouns),
            object_judge_accuracy=obj_report.test_accuracy,
            cross_view_agreement=agree(pred),
            cross_view_agreement_real=agree(real_pred),
            cross_view_agreement_chance=chance[0] if len(chance) == 1 else float(np.mean(
                [(1.0 / len(nouns)) ** (len(cams[i]) - 1) for i in labelled])),
            num_objects=float(len(nouns)),
        )

    out = Path(cfg.out_dir)
    n = min(cfg.grid_size, len(examples))
    gen8, real8 = [to_uint8(g.numpy()) for g in generated[:n]], [to_uint8(r.numpy()) for r in real[:n]]
    renders = {"grid": str(save_strip([row for pair in zip(gen8, real8) for row in pair], out / "view_strips.png"))}
    (out / "view_strips.txt").write_text("".join(f"rows {2 * i}, {2 * i + 1} (generated, real): {e.caption} | azimuths "
                                                 f"{[round(azimuth_of_vector(c.numpy()), 1) for c in e.frame_cond]}\n" for i, e in enumerate(examples[:n])))
    renders["grid_captions"] = str(out / "view_strips.txt")
    renders.update(save_set_renders(gen8, real8, out))
    return metrics, renders
