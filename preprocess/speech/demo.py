"""The speech demo: the embedded espeak-ng corpus and the settings that train on it.

Mel bins as channels ([80, 1, 1, W]) with (1, 4) patches along time: a 0.5 s digit is 11 tokens.
"""

from preprocess.speech.demo_corpus import write_speech_corpus

DEMO = {
    "curate_options": {"layout": "channels"},
    "corpus_options": {"voices": 6},
    "encode_options": {"text": "phone"},
    "model_overrides": {"dim": 128, "n_layers": 4, "n_heads": 4, "patch_size": [1, 4], "multiple_of": 64},
    "train_steps": 1500,
    "batch_size": 32,
    "lr": 1e-3,
    "eval_options": {"samples_per_class": 5, "steps": 30, "cfg_scale": 3.0},
}


def write_corpus(root, **options):
    return write_speech_corpus(root, **options).root


__all__ = ["DEMO", "write_corpus"]
