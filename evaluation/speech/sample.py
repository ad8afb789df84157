"""`lumina sample` hook for speech: the output length from the prompt's phoneme count and the
durations measured on the checkpoint's training manifest."""

from __future__ import annotations

import json
from pathlib import Path

from evaluation.config import ModalitySampling  # torch-free: lumina sample --help lists these flags
from evaluation.sample_flags import flag_names
from evaluation.speech import durations
from evaluation.speech.sample_flags import FLAGS  # --text: one definition, also read by lumina sample --help


def refuse_size_flags(cfg) -> None:
    """--size, --frames (--views): the length comes from the prompt."""
    if getattr(cfg, "size", None) or getattr(cfg, "frames", None):
        *flags, last = [*flag_names("size"), *flag_names("frames")]
        raise ValueError(f"speech: the length comes from the prompt's phonemes; {', '.join(flags)} and {last} do not apply")


def prepare(cfg, ckpt: Path, shape: list[int], options: None = None) -> tuple[list[int], dict]:
    from evaluation.speech.vocoder import generator_path

    refuse_size_flags(cfg)
    generator_path()  # a wrong LUMINA_SPEECH_VOCODER is said now, not after sampling
    language = trained_language(Path(ckpt))
    warn_if_foreign(cfg.prompt, language)
    phones = durations.count_phones(cfg.prompt, language)
    if phones == 0:  # it wrote a fifth of a second of noise; curation rejects such text (transcript_phones)
        raise ValueError(f"speech: the prompt {cfg.prompt!r} has no phones to say; give words")
    # as long as the phones the text encoder reads: a prompt past its max_tokens was as long as all of
    # them, its tail spoken without text (the dropped tokens "change nothing in the sample", it said)
    if (max_tokens := phone_encoder_tokens(Path(ckpt))) is not None and phones > max_tokens - 2:
        phones = durations.phones_read(cfg.prompt, language, max_tokens)
    model = durations.from_checkpoint(ckpt, getattr(cfg, "catalog", None))
    if model is None:
        import logging

        logging.getLogger(__name__).warning(
            "the training manifest's durations could not be read (its catalog is not reachable: --home or --catalog); "
            "the output length uses the default %g frames per phone", durations.DEFAULT[0])
        model = durations.DurationModel(*durations.DEFAULT)
    width = model.frames(phones)
    shape = list(shape)
    shape[-1] = width  # [80, 1, 1, W] or [1, 1, 80, W]: time is the last axis in both layouts
    return shape, {}


def warn_if_foreign(prompt: str, language: str) -> None:
    """One warning when the prompt is text curation would reject as wrong_language for the
    checkpoint's language: "你好" on an en-us checkpoint was spoken as "Chinese letter Chinese
    letter", exit 0, without a word."""
    from encoders.audio.language import MAX_FOREIGN_WORD_SHARE, check
    from encoders.audio.transcript import normalise_transcript

    found = check(normalise_transcript(prompt, language), language)
    if found.share > MAX_FOREIGN_WORD_SHARE:
        import logging

        logging.getLogger(__name__).warning(
            "speech: the prompt %r is not in the checkpoint's language %s (%s; curation rejects such text as wrong_language): "
            "it is spoken as %s reads it, not as said", prompt, language, found.detail, language)


def describe_length(shape: list[int], downsample: int = 1) -> str:
    """'1056 frames (12.3 s)': a latent's length as the spectrogram's frames and seconds."""
    from encoders.audio.mel import MEL

    frames = shape[-1]  # time is the last axis in both layouts
    return f"{frames} frames ({frames * MEL.hop / MEL.sample_rate:.1f} s)"


# --text is the prompt; the spectrogram PNG beside each WAV is titled with it
SAMPLING = ModalitySampling(prepare=prepare, aliases=FLAGS.aliases, writer_takes_prompts=True,
                            describe_size=describe_length, check_flags=refuse_size_flags)


def phone_encoder_tokens(ckpt: Path) -> int | None:
    """The tokens the checkpoint's phone text encoder reads (text_encoder.json's max_tokens, which
    PhoneEncoder.describe records); None for another text encoder, whose tokens are no phones."""
    described = ckpt / "text_encoder.json"
    if not described.is_file():
        return None
    t = json.loads(described.read_text())
    return int(t["max_tokens"]) if t.get("name") == "phone" and t.get("max_tokens") else None


def trained_language(ckpt: Path) -> str:
    """The espeak-ng voice the checkpoint's captions were phonemised in (text_encoder.json); en-us,
    the only voice before it was recorded."""
    described = ckpt / "text_encoder.json"
    if not described.is_file():
        return "en-us"
    return json.loads(described.read_text()).get("language") or "en-us"
