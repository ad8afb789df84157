"""Speech evaluation pieces: MCD, the duration model, the vocoder round trip and the sample writer."""

from __future__ import annotations

import numpy as np

from evaluation.speech import durations
from evaluation.speech.distortion import mcd
from preprocess.speech.espeak import synthesise
from encoders.audio.mel import log_mel, to_latent


def _mel(word: str, voice: str = "en-us", rate: int = 160) -> np.ndarray:
    y, _ = synthesise(word, voice, rate, 50)
    return log_mel(y.astype(np.float32) / 32768)


def test_mcd_zero_for_itself_and_smaller_for_the_same_word():
    seven, seven_fast, three = _mel("seven"), _mel("seven", rate=220), _mel("three")
    assert mcd(seven, seven) < 1e-9
    assert mcd(seven, seven_fast) < mcd(seven, three)


def test_duration_model_fits_frames_per_phone():
    model = durations.fit([3, 5, 10], [30, 44, 79])
    assert abs(model.frames_per_phone - 7.0) < 0.1 and model.frames(4) == round(model.frames_per_phone * 4 + model.offset)
    assert durations.count_phones("seven") == 5


def test_save_samples_writes_speech_wav_and_png(tmp_path):
    import soundfile as sf

    from evaluation.speech.asr import recognise
    from evaluation.speech.render import save_samples

    z = to_latent(_mel("seven", rate=130), "channels")  # a decoded (un-normalised) log-mel
    paths = save_samples([z], tmp_path / "seven.wav")
    assert [p.name for p in paths] == ["seven.wav", "seven.png"]
    y, sr = sf.read(paths[0])
    assert sr == 22050 and abs(len(y) - z.shape[-1] * 256) <= 256
    digits = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
    (hyp,) = recognise([y], sr, digits)
    assert hyp and set(hyp.split()) <= digits  # speech, not silence or noise (pocketsphinx often hears espeak's "seven" as "two")


def test_generation_in_batches_of_similar_length_keeps_the_prompt_order():
    from dataclasses import dataclass

    import torch

    from evaluation.speech.metrics import GROUP, _generate_by_length

    @dataclass
    class Prompt:
        latent: torch.Tensor

    class Context:  # generate() marks each sample with its length
        batches: list[list[int]] = []

        def generate(self, examples, seed):
            self.batches.append([e.latent.shape[-1] for e in examples])
            return [torch.full(e.latent.shape, float(e.latent.shape[-1])) for e in examples]

    lengths = [int(n) for n in np.random.default_rng(0).permutation(np.arange(30, 30 + 3 * GROUP))]
    ctx = Context()
    out = _generate_by_length(ctx, [Prompt(torch.zeros(80, 1, 1, 5)) for _ in lengths], lengths, seed=1)
    assert [int(g[0, 0, 0, 0]) for g in out] == lengths and all(g.shape[-1] == n for g, n in zip(out, lengths))
    assert [len(b) for b in ctx.batches] == [GROUP] * 3
    assert all(max(b) - min(b) == GROUP - 1 for b in ctx.batches)  # consecutive lengths: nothing padded far


def test_a_short_prompt_is_never_shorter_than_the_shortest_curated_clip():
    """A fit with a negative offset (9.13 frames per phone, -18.7) gave "Hi." 7 frames, 0.08 s:
    below what curation keeps (0.2 s = 18 frames at hop 256)."""
    model = durations.DurationModel(9.13, -18.7, 40)
    assert model.frames(2) == durations.MIN_FRAMES == 18
    assert model.frames(45) == round(9.13 * 45 - 18.7)  # longer prompts as fitted


def test_spectrogram_panels_share_one_time_scale_and_wrap_their_titles(tmp_path, monkeypatch):
    """A 0.4 s clip was stretched to the width of a 1.6 s one, and long captions were cut off."""
    import matplotlib.figure
    import numpy as np

    from evaluation.speech.render import spectrogram_png

    figs = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: figs.append(fig))
    long = "the quick brown fox jumps over the lazy dog along the river"
    spectrogram_png([np.zeros((80, 40)), np.zeros((80, 160))], ["seven", long], tmp_path / "s.png", cols=2)
    a, b = figs[0].axes[:2]
    assert a.get_xlim() == b.get_xlim() == (-0.5, 159.5)
    title = b.get_title(loc="left")
    assert "\n" in title and title.replace("\n", " ") == long[: len(title)]


def test_a_sampled_spectrogram_is_titled_with_its_prompt(tmp_path, monkeypatch):
    """lumina sample titled the speech PNG with the file's name ("smith"), not what was said."""
    import numpy as np

    import evaluation.speech.render as render

    titles = []
    monkeypatch.setattr(render, "vocode", lambda mel: np.zeros(256, np.float32))
    monkeypatch.setattr(render, "spectrogram_png", lambda mels, t, path, cols=4: titles.append(t) or path)
    render.save_samples([np.zeros((1, 1, 80, 20), np.float32)], tmp_path / "smith.wav", prompts=["doctor smith paid"])
    render.save_samples([np.zeros((1, 1, 80, 20), np.float32)], tmp_path / "plain.wav")
    assert titles == [["doctor smith paid"], ["plain"]]


def test_an_evaluation_replaces_the_former_one_s_wavs_and_keeps_one_per_caption(tmp_path):
    from evaluation.speech.metrics import write_wavs

    folder = tmp_path / "speech"
    folder.mkdir()
    for old in ("generated_seven.wav", "real_seven.wav"):  # a former evaluation's prompt
        (folder / old).write_bytes(b"RIFF")
    (folder / "notes.txt").write_text("the user's own file")
    tone = np.sin(np.linspace(0, 200, 2205)).astype(np.float32) * 0.5
    renders = write_wavs(folder, ["two", "doctor smith paid five dollars", "two"], [tone, tone * 0.5, tone * 0.1], [tone * 0.2] * 3)

    assert sorted(p.name for p in folder.iterdir()) == [
        "generated_doctor_smith_paid_five.wav", "generated_two.wav", "notes.txt", "real_doctor_smith_paid_five.wav", "real_two.wav"]
    assert renders == {"wav_two": str(folder / "generated_two.wav"),
                       "wav_doctor_smith_paid_five": str(folder / "generated_doctor_smith_paid_five.wav")}
    import soundfile as sf

    first, rate = sf.read(folder / "generated_two.wav")
    assert rate == 22050 and abs(np.abs(first).max() - 0.5) < 1e-3  # the first clip of a repeated caption wins
    real, _ = sf.read(folder / "real_two.wav")
    assert abs(np.abs(real).max() - 0.1) < 1e-3  # the real recording's clip, not the generated one
