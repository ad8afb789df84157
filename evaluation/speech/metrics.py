"""Speech evaluation: spoken-digit accuracy (judged by a classifier trained on real held-out
log-mels, with its own accuracy and chance), mel-cepstral distortion against the real recording of
the same text (beside real-vs-real), and pocketsphinx WER, restricted to the references' words, on
generated and on real speech through the same vocoder. Generated lengths come from the phoneme count. Log-mels are
un-normalised by the checkpoint's latent encoder (the dataset's mean and std stored with the
encoding); the judge sees model-space (normalised) spectrograms, real and generated alike."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import numpy as np
import torch

from evaluation.context import EvalContext
from evaluation.judging import too_few_to_judge
from evaluation.speech import durations
from evaluation.speech.asr import recognise, unknown_words, word_error_rate
from evaluation.speech.distortion import mcd
from evaluation.speech.judge import DIGIT_WORDS, digit_label, to_input, train_judge
from evaluation.speech.render import spectrogram_png, write_wav
from evaluation.speech.sample import trained_language
from evaluation.speech.vocoder import generator_path, vocode
from encoders.audio.mel import MEL, from_latent


log = logging.getLogger(__name__)
JUDGE_MIN_TEST_CLIPS = 10  # below this many real test clips the judge's own accuracy is said to be anecdotal


def _mel(ctx: EvalContext, z: torch.Tensor | np.ndarray) -> np.ndarray:
    """Model-space latent -> [80, W] log-mel, through the recorded latent encoder."""
    return from_latent(ctx.decode(np.asarray(z, np.float32)))


def _at_length(e, frames: int):
    """The example with a latent of the predicted length (generation takes its shape from it)."""
    shape = list(e.latent.shape)
    shape[-1] = frames
    return dataclasses.replace(e, latent=torch.zeros(shape))


GROUP = 16  # samples per generation batch, of similar lengths


def _generate_by_length(ctx: EvalContext, examples: list, lengths: list[int], seed: int) -> list[torch.Tensor]:
    """Model-space samples in the order given, generated in batches of similar length: a batch costs
    its longest member times its size, and one 3 s phrase padded forty 0.5 s digits to its length
    (twice the sampling work of the demo's evaluation, measured)."""
    order = sorted(range(len(examples)), key=lambda i: lengths[i])
    out: list = [None] * len(examples)
    for b, start in enumerate(range(0, len(order), GROUP)):
        idx = order[start : start + GROUP]
        for i, g in zip(idx, ctx.generate([_at_length(examples[i], lengths[i]) for i in idx], seed=seed + b)):
            out[i] = g
    return out


def evaluate_speech(ctx: EvalContext) -> tuple[dict[str, float], dict[str, str]]:
    cfg, examples = ctx.cfg, ctx.examples
    generator_path()  # a wrong LUMINA_SPEECH_VOCODER is said now, not after sampling
    out = Path(cfg.out_dir)
    dur = durations.from_checkpoint(cfg.checkpoint, cfg.catalog) or durations.from_metas([e.meta for e in examples])
    metrics: dict[str, float] = {"frames_per_phone": dur.frames_per_phone, "duration_offset_frames": dur.offset}

    digits = [(e, digit_label(e.caption)) for e in examples]
    digits = [(e, y) for e, y in digits if y is not None]
    by_caption: dict[str, list] = {}
    for e in examples:
        by_caption.setdefault(e.caption, []).append(e)
    prompts, phrases, notes = choose_prompts(digits, by_caption, cfg.samples_per_class)
    heldout_phrases = sum(digit_label(c) is None for c in by_caption)
    metrics.update(num_generated_phrases=float(len(phrases)), num_heldout_phrases=float(heldout_phrases))
    if digits:
        metrics.update(num_requested_digits=float(cfg.samples_per_class * len({y for _, y in digits})))
    for note in notes:
        _note(ctx, note)
    if seen := phrases_seen_in_training([e.caption for e in phrases], cfg.checkpoint, cfg.catalog):
        _note(ctx, seen)
    chosen = prompts + phrases
    if not chosen:
        return metrics, {}
    lengths = [dur.frames(int(e.meta.get("n_phones", 0)) or 1) for e in chosen]
    generated = _generate_by_length(ctx, chosen, lengths, seed=cfg.seed + 1)
    gen_mels = [_mel(ctx, g) for g in generated]
    real_mels = [_mel(ctx, e.latent) for e in chosen]

    if prompts and (few := too_few_to_judge(len(digits), "digit clips", "digit_accuracy")):
        _note(ctx, few)
    if prompts and not few:
        x = to_input([e.latent for e, _ in digits])
        report = train_judge(x, torch.tensor([y for _, y in digits]), seed=cfg.seed)
        targets = torch.tensor([digit_label(e.caption) for e in prompts])
        preds = report.judge.predict(to_input([torch.as_tensor(g, dtype=torch.float32) for g in generated[: len(prompts)]]))
        metrics.update(digit_accuracy=(preds == targets).float().mean().item(), judge_test_accuracy=report.test_accuracy,
                       chance_accuracy=1.0 / len({y for _, y in digits}), num_generated_digits=float(len(prompts)),
                       judge_test_clips=float(report.num_test), judge_train_clips=float(report.num_train))
        if report.num_test < JUDGE_MIN_TEST_CLIPS:
            _note(ctx, f"judge_test_accuracy {report.test_accuracy:.3f} rests on {report.num_test} real held-out clip(s) (the "
                       f"judge trained on {report.num_train}): too few to show the judge tells digits apart; digit_accuracy "
                       f"{metrics['digit_accuracy']:.3f} rests on {len(prompts)} generated clip(s). Evaluate on a held-out "
                       "manifest with more digits")

    # MCD: each generated clip against the real recording it was prompted from; the floor is two
    # real recordings of the same text (other voices, rates, pitches).
    metrics["mcd_db"] = float(np.mean([mcd(g, r) for g, r in zip(gen_mels, real_mels)]))
    pairs = [(v[0], v[1]) for v in by_caption.values() if len(v) > 1][: max(10, len(chosen))]
    if pairs:
        metrics["mcd_real_vs_real_db"] = float(np.mean([mcd(_mel(ctx, a.latent), _mel(ctx, b.latent)) for a, b in pairs]))
    else:
        _note(ctx, "no mcd_real_vs_real_db: no caption has two held-out takes, and the floor of mcd_db is two real "
                   "recordings of the same text")

    gen_audio = [vocode(m) for m in gen_mels]
    real_audio = [vocode(m) for m in real_mels]
    refs = [e.caption for e in chosen]
    language = trained_language(Path(cfg.checkpoint))
    if language.lower().startswith("en"):
        metrics.update(word_error_rates(ctx, refs, {"generated": gen_audio, "real_vocoded": real_audio}, len(prompts)))
    else:  # an English recogniser on French read 0.81 on the real takes, 1.0 on generated: noise, not a figure
        _note(ctx, f"no wer_*: pocketsphinx's model is US English and this checkpoint speaks {language}")

    renders = write_wavs(out / "speech", [e.caption for e in chosen], gen_audio, real_audio)
    first = {}
    for e, g, r in zip(chosen, gen_mels, real_mels):
        first.setdefault(e.caption, (g, r))
    shown = list(first.items())[: cfg.grid_size]  # --grid-size: it drew 12 whatever was asked
    mels = [m for _, (g, r) in shown for m in (g, r)]
    titles = [t for c, _ in shown for t in (f"generated: {c}", f"real: {c}")]  # render.panel_title fits them
    # each generated panel on the time scale of the real one beside it
    renders["grid"] = str(spectrogram_png(mels, titles, out / "spectrograms.png", cols=4, scale_group=2))
    return metrics, renders


def phrases_seen_in_training(captions: list[str], ckpt: str, catalog: str | None) -> str | None:
    """A note when held-out phrases evaluated are also transcripts of training takes (another take of
    the same text: the split is by take, not by text). Their mcd_db and wer_* then measure text the
    model was trained on. Helper L's walkthrough: a user's 'we will meet at noon', said twice, had one
    take in each split and nothing said so (the near-copy check compares images' pHashes only).
    Digits are left out: they are classes, in both splits by design."""
    if not captions:
        return None
    from evaluation.training_manifest import query_training_manifest

    rows = query_training_manifest(ckpt, "SELECT DISTINCT caption FROM manifest_members WHERE manifest = ? AND version = ?", catalog)
    trained = {r[0] for r in rows or []}
    seen = [c for c in dict.fromkeys(captions) if c in trained]
    if not seen:
        return None
    return (f"{len(seen)} of the {len(set(captions))} held-out phrases evaluated are also the transcript of a training take "
            f"(e.g. {seen[0]!r}): their mcd_db and wer_* measure text the model was trained on, not new text")


def word_error_rates(ctx: EvalContext, refs: list[str], audio: dict[str, list[np.ndarray]], digits: int) -> dict[str, float]:
    """wer_<kind> over all prompts and, with ``digits`` (the first clips), wer_<kind>_digits, each by
    pocketsphinx restricted to the references' words (``asr.py``: a uniform unigram model over
    them; asr_vocabulary_words says how many). Notes say which words it cannot hear and why a WER
    is above 1."""
    vocab = {w for c in refs for w in c.split()}
    unheard = unknown_words(vocab)
    metrics = {"asr_vocabulary_words": float(len(vocab) - len(unheard))}
    if unheard:
        _note(ctx, f"{len(unheard)} of the {len(vocab)} reference words are not in pocketsphinx's dictionary and count as "
                   "errors in every WER: " + ", ".join(unheard[:10]) + (" ..." if len(unheard) > 10 else ""))
    for kind, clips in audio.items():
        hyps = recognise(clips, MEL.sample_rate, vocab, desc=f"recognising {kind.replace('_', ' ')}")
        metrics[f"wer_{kind}"] = word_error_rate(refs, hyps)
        if digits:  # the digits alone: the phrases are few in training and much harder
            metrics[f"wer_{kind}_digits"] = word_error_rate(refs[:digits], hyps[:digits])
    above = [name for name, value in metrics.items() if name.startswith("wer_") and value > 1]
    if above:
        _note(ctx, f"{', '.join(above)} above 1: WER counts the words the recogniser heard but nobody said (insertions) "
                   "against the reference's words, so a clip read as more words than it has scores above 1")
    return metrics


def _note(ctx: EvalContext, note: str) -> None:
    """A shortfall of this evaluation: logged now, and kept with the context for the results
    (``EvalContext.notes``), where a reader of the figures finds it later."""
    log.warning("speech evaluation: %s", note)
    ctx.notes.append(note)


def choose_prompts(digits: list, by_caption: dict[str, list], per_class: int) -> tuple[list, list, list[str]]:
    """(digit prompts, phrase prompts, notes on where they fall short of ``per_class``). Every
    generated clip is prompted by a real held-out take (its caption and phone count; the reference
    of MCD), so a digit gets at most as many as the manifest has takes of it; phrases (captions that
    are not a digit): the first ``per_class`` distinct ones, one take each."""
    takes = {label: [e for e, y in digits if y == label] for label in range(10)}
    prompts = [e for label in range(10) for e in takes[label][:per_class]]
    phrases = [v[0] for c, v in sorted(by_caption.items()) if digit_label(c) is None]
    notes = []
    present = {label: len(t) for label, t in takes.items() if t}
    short = {label: n for label, n in present.items() if n < per_class}
    if short:
        notes.append(f"{len(prompts)} digit clips generated, not {per_class} per digit ({per_class * len(present)}): each is "
                     "prompted by a real held-out take of its digit, and the held-out manifest has only "
                     + ", ".join(f"{n} of {DIGIT_WORDS[label]}" for label, n in sorted(short.items())))
    if present and len(present) < 10:
        notes.append("no held-out take of " + ", ".join(DIGIT_WORDS[d] for d in range(10) if d not in present)
                     + ": those digits are not generated")
    if len(phrases) > per_class:
        notes.append(f"{per_class} of the {len(phrases)} held-out phrases evaluated (--samples-per-class caps the phrases too)")
    return prompts, phrases[:per_class], notes


def write_wavs(folder: Path, captions: list[str], generated: list[np.ndarray], real: list[np.ndarray]) -> dict[str, str]:
    """One generated and one real WAV per distinct caption (the first clip of a repeated caption
    wins), named by its first four words; returns the generated ones as renders. A former
    evaluation's WAVs are removed first: the folder holds this one's only, not a mix of both."""
    for stale in [*folder.glob("generated_*.wav"), *folder.glob("real_*.wav")]:
        stale.unlink()
    renders: dict[str, str] = {}
    seen: set[str] = set()
    for caption, g, r in zip(captions, generated, real):
        if caption in seen:
            continue
        seen.add(caption)
        name = _free_name(wav_name(caption), renders)
        renders[f"wav_{name}"] = str(write_wav(folder / f"generated_{name}.wav", g))
        write_wav(folder / f"real_{name}.wav", r)
    return renders


def wav_name(caption: str) -> str:
    """The first four words as a file name: letters, digits, '-' and '_' only (a caption's '/'
    would name a folder, its '?' or ':' trouble other systems)."""
    words = [w for w in (re.sub(r"[^\w-]+", "", word) for word in caption.split()) if w]
    return "_".join(words[:4]) or "caption"


def _free_name(name: str, renders: dict[str, str]) -> str:
    """name, or name_2, name_3 ... when another caption with the same first words took it."""
    n, candidate = 1, name
    while f"wav_{candidate}" in renders:
        n += 1
        candidate = f"{name}_{n}"
    return candidate
