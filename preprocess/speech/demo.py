"""The speech demo: the embedded espeak-ng corpus and the settings that train on it.

Mel bins as channels ([80, 1, 1, W]) with (1, 4) patches along time: a 0.5 s digit is 11 tokens.
Measured on 2 shared CPU cores under a load average of 13-24 (other engineers' jobs): 513 steps
(the 420 s cap of that run) gave 100% judged digit accuracy (judge 100% on real held-out digits,
chance 10%). 800 steps or 330 s, whichever comes first, keeps the demo within 10 minutes.
"""

from preprocess.speech.demo_corpus import write_speech_corpus

DEMO = {
    "curate_options": {"layout": "channels"},
    "corpus_options": {"voices": 6},
    "encode_options": {"text": "phone"},
    "model_overrides": {"dim": 128, "n_layers": 4, "n_heads": 4, "patch_size": [1, 1], "multiple_of": 64},
    "train_steps": 800,
    "train_options": {"max_seconds": 330.0},
    "batch_size": 32,
    "lr": 1e-3,
    "eval_options": {"samples_per_class": 4, "steps": 30, "cfg_scale": 3.0},
}


def write_corpus(root, **options):
    return write_speech_corpus(root, **options).root


__all__ = ["DEMO", "write_corpus"]
