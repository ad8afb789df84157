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


# (characters a line, lines) a panel's title fits in: a grid panel 3.2 in wide, the single PNG 6 in
TITLE_FIT = {False: (36, 1), True: (60, 2)}


def panel_title(text: str, width: int, lines: int) -> str:
    """``text`` drawable and wrapped in at most ``lines`` of ``width`` characters, cut at a word
    with an ellipsis: a caption cut at 24 characters, then wrapped at 34, left "clo" and "i" alone."""
    import textwrap

    return "\n".join(textwrap.wrap(drawable_title(text), width, max_lines=lines, placeholder=" …"))


DB_PER_LN = 20.0 / np.log(10.0)  # the log-mel is ln|mel magnitude|: dB = 8.686 x that
DB_RANGE = (-100.0, 10.0)  # colour scale, dB re a mel magnitude of 1 (the floor 1e-5 is -100 dB)
HZ_TICKS = (250, 500, 1000, 2000, 4000, 8000)


def mel_bin_of_hz(hz: np.ndarray | float) -> np.ndarray:
    """Position of a frequency on the mel axis, in mel bins (bin i is centred on its filter's peak)."""
    from encoders.audio.mel import _hz_to_mel, _mel_to_hz

    pts = _mel_to_hz(np.linspace(_hz_to_mel(MEL.fmin), _hz_to_mel(MEL.fmax), MEL.n_mels + 2))
    return np.interp(hz, pts[1:-1], np.arange(MEL.n_mels), left=-0.5, right=MEL.n_mels - 0.5)


def spectrogram_png(mels: list[np.ndarray], titles: list[str], path: Path, cols: int = 4, scale_group: int | None = None) -> Path:
    """Log-mels side by side (rows of `cols`), low frequencies at the bottom. Each panel: its title,
    time in seconds (frames of MEL.hop samples at MEL.sample_rate; one time scale for each
    `scale_group` consecutive panels, by default each row),
    frequency on the mel axis labelled in Hz; one colour bar in dB (20 log10 of the mel magnitude)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max(1, -(-len(mels) // cols))
    single = len(mels) <= 1 and cols == 1
    size = (6.0, 3.4) if single else (3.2 * cols + 0.8, 2.5 * rows)
    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    dt = MEL.hop / MEL.sample_rate
    widths = [m.shape[-1] for m in mels]
    ticks = [hz for hz in HZ_TICKS if MEL.fmin < hz <= MEL.fmax]
    im = None
    for i, (ax, m, t) in enumerate(zip(axes.flat, mels, titles)):
        ax.axis("on")
        w = m.shape[-1]
        im = ax.imshow(np.asarray(m, dtype=np.float32) * DB_PER_LN, origin="lower", aspect="auto", cmap="magma",
                       vmin=DB_RANGE[0], vmax=DB_RANGE[1], interpolation="nearest",
                       extent=(-0.5 * dt, (w - 0.5) * dt, -0.5, m.shape[0] - 0.5))
        # one time scale per group: a 0.4 s clip was stretched to the width of a 1.6 s one beside it, and
        # with one scale for the grid a digit was a sliver beside a 5 s phrase
        start = i - i % (scale_group or cols)
        ax.set_xlim(-0.5 * dt, (max(widths[start : start + (scale_group or cols)]) - 0.5) * dt)
        ax.set_yticks(mel_bin_of_hz(np.array(ticks, dtype=float)), [f"{hz // 1000}k" if hz >= 1000 else str(hz) for hz in ticks])
        ax.tick_params(labelsize=7)
        r, c = divmod(i, cols)
        if r == rows - 1 or i + cols >= len(mels):
            ax.set_xlabel("time (s)", fontsize=7)
        if c == 0:
            ax.set_ylabel("Hz (mel scale)", fontsize=7)
        ax.set_title(panel_title(t, *TITLE_FIT[single]), fontsize=8, loc="left")
    if im is not None:
        bar = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.9 if single else 0.6, pad=0.02)
        bar.set_label("dB (20 log10 mel magnitude)", fontsize=7)
        bar.ax.tick_params(labelsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100 if single else 80)
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
        if wav.suffix.lower() != ".wav":  # --out take.WAV is written as named (it became take.wav)
            wav = wav.with_suffix(".wav")
        mel = from_latent(z)
        paths.append(write_wav(wav, vocode(mel)))
        title = prompts[i] if prompts else wav.stem
        paths.append(spectrogram_png([mel], [title], wav.with_suffix(".png"), cols=1))
    return paths
