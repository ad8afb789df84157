"""The duration model never reads a longer prompt as shorter: when the training takes' frames do not
grow with their phones (a few takes of mixed speaking rates), the mean rate is used. Before, the
least-squares line fell (a = -10 frames per phone on two takes) and every prompt of more than a
few phones got the 18-frame floor, 0.2 s, whatever its length."""

from __future__ import annotations

from evaluation.speech.durations import DEFAULT, fit


def test_a_falling_fit_uses_the_mean_rate():
    model = fit([10, 12], [100, 80])  # the longer text, said faster
    assert model.frames_per_phone == 180 / 22 and model.offset == 0.0
    assert model.frames(100) > model.frames(10) > 18


def test_a_rising_fit_and_the_fallbacks_are_unchanged():
    model = fit([10, 20, 30], [80, 150, 220])
    assert (round(model.frames_per_phone, 6), round(model.offset, 6)) == (7.0, 10.0)
    assert (fit([10], [80]).frames_per_phone, fit([10, 10], [80, 90]).offset) == (DEFAULT[0], DEFAULT[1])
