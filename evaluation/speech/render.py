"""WAV files and spectrogram PNGs of generated (and real) speech."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from evaluation.speech.vocoder import vocode
from encoders.audio.mel import MEL, from_latent

OUT_SUFFIXES = (".wav",)  # what lumina sample can write (the first: the default)


def write_wav(path: Path, y: np.ndarray) -> Path:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, MEL.sample_rate, subtype="PCM_16")
    return path


@lru_cache(maxsize=1)
def _font_codepoints() -> frozenset[int]:
    """The characters matplotlib's default font (with the fonts it falls back to) can draw."""
    from matplotlib import font_manager, ft2font

    prop = font_manager.FontProperties()
    try:
        paths = font_manager.fontManager._find_fonts_by_props(prop)  # the fallback list text is drawn with
    except Exception:  # noqa: BLE001 - an older or newer matplotlib: its first font
        paths = [font_manager.findfont(prop)]
    chars: set[int] = set()
    for path in paths:
        chars.update(ft2font.FT2Font(str(path)).get_charmap())
    return frozenset(chars)


def drawable_title(text: str) -> str:
    """``text`` with every character the font cannot draw written as its escape (你 -> \\u4f60) and
    ``$`` escaped (two of them started mathtext): a CJK prompt's title showed empty boxes, and
    matplotlib warned once per missing glyph."""
    chars = _font_codepoints()
    out = []
    for c in text:
        if c == "$":
            out.append(r"\$")
        elif ord(c) in chars or c.isspace():
            out.append(c)
        else:
            out.append(c.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def spectrogram_png(mels: list[np.ndarray], titles: list[str], path: Path, cols: int = 4) -> Path:
    """Log-mels side by side (rows of `cols`), low frequencies at the bottom."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import textwrap

    rows = max(1, -(-len(mels) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    longest = max((m.shape[-1] for m in mels), default=1)
    for ax, m, t in zip(axes.flat, mels, titles):
        ax.imshow(m, origin="lower", aspect="auto", cmap="magma", vmin=-11.5, vmax=1.0)
        # one time scale for every panel: a 0.4 s clip was stretched to the width of a 1.6 s one
        ax.set_xlim(-0.5, longest - 0.5)
        ax.set_title("\n".join(textwrap.wrap(drawable_title(t), 34)[:2]), fontsize=8, loc="left")  # wrapped, not cut at the edge
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def save_samples(decoded: list[np.ndarray], out: Path, prompts: list[str] | None = None) -> list[Path]:
    """`lumina sample`: each decoded log-mel [C, T, H, W] (un-normalised by the checkpoint's latent
    encoder, which holds the dataset's mean and std) -> a WAV (out, or out_1.wav, out_2.wav ... for
    several, as the other modalities number theirs) and its spectrogram PNG beside it, titled with
    its prompt (else the file's name)."""
    out = Path(out)
    paths = []
    for i, z in enumerate(decoded):
        wav = out if len(decoded) == 1 else out.with_name(f"{out.stem}_{i + 1}{out.suffix or '.wav'}")
        wav = wav.with_suffix(".wav")
        mel = from_latent(z)
        paths.append(write_wav(wav, vocode(mel)))
        title = prompts[i] if prompts else wav.stem
        paths.append(spectrogram_png([mel], [title], wav.with_suffix(".png"), cols=1))
    return paths
