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


def test_spectrogram_panels_share_one_time_scale_and_cut_their_titles_at_a_word(tmp_path, monkeypatch):
    """A 0.4 s clip was stretched to the width of a 1.6 s one, and long captions were cut off at the
    panel's edge, then cut at 24 characters and wrapped at 34 ("the weather today is" / "clo")."""
    import matplotlib.figure
    import numpy as np

    from evaluation.speech.render import spectrogram_png

    figs = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: figs.append(fig))
    long = "the quick brown fox jumps over the lazy dog along the river"
    spectrogram_png([np.zeros((80, 40)), np.zeros((80, 160))], ["seven", long], tmp_path / "s.png", cols=2)
    a, b = figs[0].axes[:2]
    dt = 256 / 22050  # one mel frame, in seconds
    assert np.allclose(a.get_xlim(), (-0.5 * dt, 159.5 * dt)) and a.get_xlim() == b.get_xlim()
    title = b.get_title(loc="left")
    assert title == "the quick brown fox jumps over the …"  # one line, whole words, an ellipsis for the rest


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


def _speech_context(tmp_path, monkeypatch, captions: list[str], samples_per_class: int, hear=lambda audio: ["" for _ in audio],
                    unknown=lambda vocab: [], grid_size: int = 16, panels: list | None = None):
    """evaluate_speech on held-out examples with these captions; the judge, vocoder, recogniser and
    renders stubbed (their own tests are above): what is chosen, counted and said is the test.
    ``panels`` (a list) receives the titles of the spectrogram grid's panels."""
    from types import SimpleNamespace

    import torch

    import evaluation.speech.metrics as metrics
    from evaluation.context import EvalContext
    from evaluation.speech.judge import JudgeReport
    from training.data import Example

    class Judge:
        def predict(self, x):
            return torch.tensor(self.labels[: len(x)])

    judge = Judge()

    def train_judge(x, labels, seed=0):
        n_test = max(1, int(len(x) * 0.25))
        return JudgeReport(judge, 1.0, len(x) - n_test, n_test)

    monkeypatch.setattr(metrics.durations, "from_checkpoint", lambda *a: None)
    monkeypatch.setattr(metrics, "train_judge", train_judge)
    monkeypatch.setattr(metrics, "vocode", lambda m: np.zeros(256, np.float32))
    monkeypatch.setattr(metrics, "recognise", lambda audio, sr, vocab, desc="": hear(audio))
    monkeypatch.setattr(metrics, "unknown_words", unknown)
    monkeypatch.setattr(metrics, "mcd", lambda a, b: 1.0)
    monkeypatch.setattr(metrics, "spectrogram_png",
                        lambda mels, titles, path, cols=4, scale_group=None: (panels.extend(titles) if panels is not None else None) or path)
    monkeypatch.setattr(metrics, "write_wavs", lambda *a: {})
    examples = [Example(f"k{i}", torch.zeros(80, 1, 1, 20), torch.zeros(2, 4), torch.ones(2, dtype=torch.bool), c, "holdout",
                        {"n_phones": 4, "mel_frames": 20}) for i, c in enumerate(captions)]
    cfg = SimpleNamespace(checkpoint=str(tmp_path), catalog=None, samples_per_class=samples_per_class, seed=0, out_dir=str(tmp_path),
                          grid_size=grid_size)
    ctx = EvalContext(None, None, examples, cfg, SimpleNamespace(decode=lambda z: z))
    ctx.generate = lambda chosen, seed: [torch.zeros(e.latent.shape) for e in chosen]
    from evaluation.speech.judge import digit_label

    judge.labels = [digit_label(e.caption) for e in examples if digit_label(e.caption) is not None]
    m, _ = metrics.evaluate_speech(ctx)
    return m, ctx.notes


def test_speech_evaluation_says_how_many_clips_its_figures_rest_on(tmp_path, monkeypatch, caplog):
    """--samples-per-class 2 on a held-out set of three, eight, nine, nine and three phrases generated 4
    digits (capped by the real takes of each, unsaid), 2 phrases (capped too, unsaid), and printed
    judge_test_accuracy 1.0 from one real clip without a word."""
    import logging

    caplog.set_level(logging.WARNING, logger="evaluation.speech.metrics")
    m, notes = _speech_context(tmp_path, monkeypatch, ["three", "eight", "nine", "nine", "good morning", "hello there", "thank you"], 2)
    assert (m["num_generated_digits"], m["num_requested_digits"], m["num_generated_phrases"]) == (4.0, 6.0, 2.0)
    assert (m["judge_test_clips"], m["judge_train_clips"]) == (1.0, 3.0) and m["judge_test_accuracy"] == 1.0
    assert m["num_heldout_phrases"] == 3.0  # beside num_generated_phrases: the cap shows in metrics.json
    said = [r.getMessage() for r in caplog.records]
    # the notes stay with the results (EvalContext.notes), not only in the log: the same four, in order
    assert [f"speech evaluation: {n}" for n in notes] == said and len(notes) == 4, notes
    assert any("4 digit clips generated, not 2 per digit (6)" in s and "1 of three, 1 of eight" in s for s in said), said
    assert any("2 of the 3 held-out phrases evaluated (--samples-per-class caps the phrases too)" in s for s in said), said
    assert any("judge_test_accuracy 1.000 rests on 1 real held-out clip(s)" in s for s in said), said
    assert any("no held-out take of zero, one, two, four, five, six, seven" in s for s in said), said


def test_speech_evaluation_is_quiet_when_it_generates_what_was_asked(tmp_path, monkeypatch, caplog):
    import logging

    from evaluation.speech.judge import DIGIT_WORDS

    caplog.set_level(logging.WARNING, logger="evaluation.speech.metrics")
    m, notes = _speech_context(tmp_path, monkeypatch, [w for w in DIGIT_WORDS for _ in range(4)] + ["hello there"], 4)
    assert (m["num_generated_digits"], m["num_requested_digits"], m["num_generated_phrases"], m["judge_test_clips"]) == (40.0, 40.0, 1.0, 10.0)
    assert not [r.getMessage() for r in caplog.records if r.name == "evaluation.speech.metrics"] and notes == []


def test_a_cjk_prompt_s_spectrogram_title_is_drawn_without_missing_glyph_warnings(tmp_path, monkeypatch):
    """lumina sample --text "你好" printed four "Glyph ... missing from font(s) DejaVu Sans" warnings and
    titled the PNG with empty boxes: characters the font lacks are written as their escapes."""
    import warnings

    import evaluation.speech.render as render

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        render.spectrogram_png([np.zeros((80, 20))], ["你好 seven"], tmp_path / "nihao.png", cols=1)
    assert (tmp_path / "nihao.png").stat().st_size > 0
    assert not [w for w in caught if "missing from font" in str(w.message)], [str(w.message) for w in caught]

    monkeypatch.setattr(render, "_font_codepoints", lambda: frozenset(map(ord, "seven $")))  # a font of these alone
    assert render.drawable_title("你好 seven $5") == "\\u4f60\\u597d seven \\$5"  # ASCII is never escaped
    assert render.drawable_title("😀") == "\\U0001f600"


def test_spectrograms_have_time_and_frequency_axes_a_title_and_a_db_colour_bar(tmp_path, monkeypatch):
    """The spectrogram PNGs (the evaluation's grid, every `lumina sample` PNG of 240x176 px) were
    drawn with ax.axis("off"): no time or frequency ticks, no colour scale."""
    import matplotlib.figure
    from PIL import Image

    from evaluation.speech.render import mel_bin_of_hz, spectrogram_png

    assert float(mel_bin_of_hz(8000.0)) == 79.5 and float(mel_bin_of_hz(1000.0)) < 40  # fmax at the top edge; mel axis: 1 kHz low
    real_savefig = matplotlib.figure.Figure.savefig
    figs = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: figs.append(fig) or real_savefig(fig, *a, **k))
    m = np.full((80, 86), -5.0)  # 86 frames: 1.0 s
    spectrogram_png([m], ["seven"], tmp_path / "one.png", cols=1)
    panel, bar = figs[0].axes
    assert panel.get_title(loc="left") == "seven"
    assert panel.get_xlabel() == "time (s)" and "Hz" in panel.get_ylabel()
    assert [t.get_text() for t in panel.get_yticklabels()] == ["250", "500", "1k", "2k", "4k", "8k"]
    assert 0.99 < panel.get_xlim()[1] < 1.0 and panel.get_ylim() == (-0.5, 79.5)  # seconds; origin lower
    assert "dB" in bar.get_ylabel()
    assert np.isclose(panel.images[0].get_array().mean(), -5.0 * 20 / np.log(10))  # drawn in dB
    w, h = Image.open(tmp_path / "one.png").size
    assert w >= 500 and h >= 300, (w, h)

    spectrogram_png([m] * 6, [f"p{i}" for i in range(6)], tmp_path / "grid.png", cols=4)
    panels = figs[1].axes[:8]
    assert [a.get_xlabel() for a in panels[:6]] == ["", "", "time (s)", "time (s)", "time (s)", "time (s)"]  # under each column's last
    assert [bool(a.get_ylabel()) for a in panels[:6]] == [True, False, False, False, True, False]
    assert len(figs[1].axes) == 9 and "dB" in figs[1].axes[-1].get_ylabel()  # one colour bar for the grid


def test_distinct_captions_sharing_their_first_words_each_keep_a_wav_with_a_safe_name(tmp_path):
    from evaluation.speech.metrics import write_wavs

    tone = np.sin(np.linspace(0, 200, 2205)).astype(np.float32) * 0.5
    captions = ["doctor smith paid five dollars", "doctor smith paid five cents", "is it 1/2 past?", "?!"]
    renders = write_wavs(tmp_path, captions, [tone] * 4, [tone] * 4)

    assert sorted(renders) == ["wav_caption", "wav_doctor_smith_paid_five", "wav_doctor_smith_paid_five_2",
                               "wav_is_it_12_past"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("real_")) == [
        "real_caption.wav", "real_doctor_smith_paid_five.wav", "real_doctor_smith_paid_five_2.wav", "real_is_it_12_past.wav"]
