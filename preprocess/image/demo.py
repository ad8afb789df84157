"""The image demo: the embedded digits-and-shapes corpus and the settings that train on it.

``DEMO`` fills every data_to_model parameter the caller leaves unset. 32x32 squares in pixel space
(identity latents) are this demo's setting; user data keeps its aspect ratio by default.
"""

from preprocess.image.demo_corpus import write_demo_corpus

# 1.8M parameters, patch 4 on 32x32 pixels (64 tokens + 8 [nextline]). On 2 CPU cores 800 steps
# reach ~97% class-conditional accuracy on held-out digit captions.
DEMO = {
    "curate_options": {"resize": "square", "size": 32},
    "corpus_options": {"num_shapes": 300},
    "model_overrides": {"dim": 128, "n_layers": 4, "n_heads": 4, "patch_size": 4, "multiple_of": 64},
    "train_steps": 800,
    "batch_size": 64,
    "lr": 1e-3,
}


def write_corpus(root, **options):
    return write_demo_corpus(root, **options).root


__all__ = ["DEMO", "write_corpus"]
